"""Text checks shared by profiles and messages: finding contact details people should not share."""

from __future__ import annotations

import re

_PATTERNS = {
    "an email address": re.compile(r"[\w.+-]+\s*(@|\(at\)|\[at\])\s*[\w-]+(\.|\s+dot\s+)[\w.-]+", re.I),
    "a link": re.compile(r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|me|co|us|uk|de|fr|info|biz)\b(?:/\S*)?",
                         re.I),
    "a phone number": re.compile(r"(?<![\w-])\+?\(?\d[\d\s().-]{5,}\d(?![\w-])"),
    "a social media handle": re.compile(r"(?<![\w@])@[A-Za-z_][\w.]{1,29}\b"),
}


def find_contact_details(text: str) -> list[str]:
    """The kinds of contact detail found in `text` ("an email address", "a phone number", ...).

    Each match is blanked before the next kind is looked for, so an email is not also a link.
    """
    found = []
    remaining = text or ""
    for kind, pattern in _PATTERNS.items():
        hits = [match for match in pattern.finditer(remaining) if _counts(kind, match)]
        if hits:
            found.append(kind)
            for match in reversed(hits):
                remaining = remaining[:match.start()] + " " * len(match.group()) + remaining[match.end():]
    return found


def mask_contact_details(text: str, mask: str = "[hidden]") -> str:
    """`text` with every contact detail replaced by `mask`."""
    masked = text or ""
    for kind, pattern in _PATTERNS.items():
        masked = pattern.sub(lambda match, kind=kind: mask if _counts(kind, match) else match.group(), masked)
    return masked


def _counts(kind: str, match: re.Match[str]) -> bool:
    """Short digit runs (years, counts) are not phone numbers."""
    return kind != "a phone number" or sum(ch.isdigit() for ch in match.group()) >= 7

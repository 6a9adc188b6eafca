"""Invisible characters in typed text: what one-line and free-text values may hold, and the message if not.

One-line text (names, titles, subjects, codes) ends up in email headers, calendar files, page titles and
CSV exports, where a line break or a control character changes the meaning of what follows, and a bidi
override makes "evil.exe" look like "exe.live". It may hold no control character at all. Free text keeps
line breaks and tabs only; a Windows line break (CR LF) counts as one line break. Neither may hold U+FFFD,
the mark of bytes that were not valid UTF-8.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: they reorder the text around them. The marks U+200E, U+200F and
U+061C, which right-to-left writers type, stay allowed."""

LINE_SEPARATORS = frozenset("\u2028\u2029")
"""Unicode's own line and paragraph separators: line breaks in one-line text."""

REPLACEMENT_CHARACTER = "\ufffd"
"""What a decoder puts where bytes were not valid UTF-8 (core.views.utf8 does so for url-encoded forms)."""

FREE_TEXT_CONTROLS = frozenset("\n\t")
"""The only control characters free text keeps."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _describe(character: str) -> str:
    """A person's name for an invisible character, e.g. "a carriage return (U+000D)"."""
    code = f"U+{ord(character):04X}"
    if character in "\n\u2028\u2029":
        return f"a line break ({code})"
    if character == "\r":
        return f"a carriage return ({code})"
    if character == "\t":
        return f"a tab ({code})"
    if character in BIDI_CONTROLS:
        return f"a character that reverses the direction of text ({code})"
    return f"an invisible control character ({code})"


def _first(value: str, allowed: frozenset[str], refuse_separators: bool) -> str | None:
    for character in value:
        if character in allowed:
            continue
        if _CONTROL.match(character) or character in BIDI_CONTROLS or (refuse_separators and
                                                                        character in LINE_SEPARATORS):
            return character
    return None


def not_utf8_problem(value: str, label: str = "This field") -> str | None:
    """The message when `value` holds U+FFFD, which stands for bytes that were not valid UTF-8, else None."""
    if REPLACEMENT_CHARACTER not in value:
        return None
    return (f"{label} contains bytes that are not valid UTF-8 text (shown as �); retype it, or paste it "
            "from a program that saves text as UTF-8.")


def single_line_problem(value: str, label: str = "This field") -> str | None:
    """What is wrong with one-line text `value` (a sentence naming `label`), or None when it is fine."""
    if REPLACEMENT_CHARACTER in value:
        return not_utf8_problem(value, label)
    found = _first(value, frozenset(), refuse_separators=True)
    if found is None:
        return None
    return (f"{label} takes one line of plain text, but it contains {_describe(found)}. "
            "Remove it (it often comes from pasting), or retype the text.")


def multi_line_problem(value: str, label: str = "This field") -> str | None:
    """What is wrong with free text `value` (line breaks and tabs are fine), or None when it is fine."""
    if REPLACEMENT_CHARACTER in value:
        return not_utf8_problem(value, label)
    found = _first(normalise_line_breaks(value), FREE_TEXT_CONTROLS, refuse_separators=False)
    if found is None:
        return None
    return (f"{label} may hold line breaks and tabs, but it contains {_describe(found)}. "
            "Remove it (it often comes from pasting), or retype the text.")


def normalise_line_breaks(value: str) -> str:
    """`value` with each Windows line break (CR LF), which browsers send from a text area, as LF."""
    return value.replace("\r\n", "\n")


_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def one_line(value: str) -> str:
    """`value` made safe for a place where a line break ends the field (an email header, a calendar line):
    bidi overrides are dropped, and each run of white space, control characters and line separators
    becomes one space.

    For text stored before these checks existed, or coming from elsewhere; the writing library still encodes
    the result (RFC 2047 words in headers, iCalendar TEXT escaping).
    """
    return " ".join(_BREAKING.sub(" ", _BIDI.sub("", value)).split())

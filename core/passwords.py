"""The password policy (NIST SP 800-63B): long enough, and not a common or guessable password.

Guessability is zxcvbn's estimate (its bundled word lists: common passwords, names, words; no network
call), with the person's own address and name counted as easy guesses, and so are the site's context
words (`context_words`: its name, its organisation, its host, "oss-connect" and
accounts.password_context_words). Every form and command that
sets a password calls `password_problems` and shows its messages.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from zxcvbn import zxcvbn

MAX_LENGTH = 1024
SCORED_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide
_ZXCVBN_LOCK = threading.Lock()  # zxcvbn keeps the user inputs in a module-level dictionary
_WORDS = re.compile(r"[^\W_]{3,}")
PROGRAM_NAME = "oss-connect"


def context_words(settings: Any) -> list[str]:
    """The words that make a password easy to guess on this site (OWASP ASVS 6.1.2): the program's name
    (site.name), the organisation, the host name of site.base_url, "oss-connect", and the configured
    accounts.password_context_words. `settings` is the instance's Settings."""
    site = settings.site
    host = urlsplit(site.base_url).hostname or ""
    return [site.name, site.organisation, host, PROGRAM_NAME, *settings.accounts.password_context_words]


def password_problems(password: str, user_inputs: Iterable[str] = (), *, min_length: int = 10,
                      min_score: int = 3, site_words: Iterable[str] = ()) -> list[str]:
    """Why `password` is refused (an empty list when it is fine), in words for the person choosing it.

    `user_inputs` are the person's own details (email address, name) that make a password easy to guess;
    `site_words` the site's (`context_words`); `min_score` is zxcvbn's 0-4 scale (3: safely unguessable,
    about 10^8 guesses and more).
    """
    user_inputs, site_words = list(user_inputs), list(site_words)
    if len(password) < min_length:
        return [f"Use at least {min_length} characters (you used {len(password)}). A few unrelated words "
                "make a long password that is easy to remember."]
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    if min_score <= 0:
        return []
    with _ZXCVBN_LOCK:
        result = zxcvbn(password[:SCORED_LENGTH], user_inputs=guessable_inputs([*user_inputs, *site_words]))
    if result["score"] >= min_score:
        return []
    return [_explain(result["feedback"], password, user_inputs, site_words)]


def guessable_inputs(values: Iterable[str]) -> list[str]:
    """The person's details as zxcvbn user inputs: each value whole and its words (ada.lovelace@x.org
    gives ada.lovelace@x.org, ada, lovelace, org)."""
    inputs: list[str] = []
    for value in values:
        if not value:
            continue
        inputs.append(value.lower())
        inputs.append("".join(_WORDS.findall(value)).lower())  # "one small step" is also typed "onesmallstep"
        inputs.extend(word.lower() for word in _WORDS.findall(value))
    return list(dict.fromkeys(inputs))


def _explain(feedback: dict[str, object], password: str, user_inputs: Iterable[str],
             site_words: Iterable[str] = ()) -> str:
    """One message: why (zxcvbn's warning, the person's own details or the site's words), then what to do
    instead."""
    lowered = password.lower()
    own = [word for word in guessable_inputs(user_inputs) if len(word) >= 3 and word in lowered]
    site = [word for word in guessable_inputs(site_words) if len(word) >= 3 and word in lowered]
    warning = str(feedback.get("warning") or "")
    if own and not warning:
        warning = "It contains your own email address or name, which is among the first things an attacker tries."
    elif site and not warning:
        warning = ("It contains the name of this site or a word closely tied to it, which is among the first "
                   "things an attacker tries.")
    reason = f"This password is too easy to guess. {warning}".strip()
    suggestions = [str(item) for item in feedback.get("suggestions") or [] if item]  # type: ignore[union-attr]
    advice = " ".join(suggestions) or "Add another word or two; uncommon words are better."
    return f"{reason} {advice}"

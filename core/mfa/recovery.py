"""Recovery codes: ten single-use codes shown once, for when the phone or security key is lost.

They are random but short (about 49 bits each, below the 112 bits at which ASVS 6.5.2 allows a plain
hash), so each is stored as a salted argon2id hash, like a password: a copy of the database gives nobody
a cheap way to test guesses. Checking a typed code tries the account's unused hashes (ten at most).
"""

from __future__ import annotations

import re
import secrets

from core.security import hash_password, verify_password

COUNT = 10
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to read aloud and type
GROUP = 5
_SHAPE = re.compile(rf"^[{ALPHABET}]{{{GROUP * 2}}}$")


def new_codes(count: int = COUNT) -> list[str]:
    """`count` fresh codes shaped `xxxxx-xxxxx`."""
    return [_format("".join(secrets.choice(ALPHABET) for _ in range(GROUP * 2))) for _ in range(count)]


def normalise(code: str | None) -> str | None:
    """A typed code in its canonical `xxxxx-xxxxx` form (case, spaces and dashes forgiven), or None
    when it cannot be a recovery code."""
    compact = re.sub(r"[\s\-]+", "", (code or "").lower())
    return _format(compact) if _SHAPE.match(compact) else None


def digest(code: str) -> str:
    """The stored form of a canonical code: a salted argon2id hash."""
    return hash_password(code)


def matches(stored: str, code: str) -> bool:
    """True when the canonical `code` is the one `stored` was made from."""
    return verify_password(stored, code)


def _format(compact: str) -> str:
    return f"{compact[:GROUP]}-{compact[GROUP:]}"

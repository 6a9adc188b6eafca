"""Recovery codes: ten single-use codes shown once, for when the phone or security key is lost.

They are random (about 49 bits each), so a keyed SHA-256 (HMAC with the instance secret) is a safe
stored form: a copy of the database alone does not let anyone test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

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


def digest(code: str, key: bytes) -> str:
    """The stored form of a canonical code: HMAC-SHA-256 with the instance key, hex."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def _format(compact: str) -> str:
    return f"{compact[:GROUP]}-{compact[GROUP:]}"

"""Database ids at the edges: the URL converter behind every `<int:...>` and a checker for ids in payloads.

Ids are 64-bit signed integers in both databases, so only 1..2**63-1 can name a row; anything else is
refused where it arrives (a 404 for an address, a message for a form or socket payload) instead of
reaching the database driver, which raises OverflowError for a number it cannot send.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1
"""The largest id a BIGINT (PostgreSQL) or INTEGER (SQLite) primary key holds."""


class IdConverter(IntegerConverter):
    """Flask's `int` converter limited to ids: 1..2**63-1 unless a rule says otherwise.

    Registered as `int` app-wide, so every `<int:name>` (plugins included) matches only numbers a row
    can have, and any other number is a plain 404. A rule that counts from 0 writes `<int(min=0):name>`.
    """

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def valid_id(value: Any) -> int | None:
    """`value` as an id if it is a whole number (int, or a string of ASCII digits) in 1..2**63-1, else None."""
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 19:
            return None
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None

"""IANA time zone names, read from the system once per process (the scan costs ~80 ms)."""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name this machine knows."""
    return frozenset(zoneinfo.available_timezones())


@cache
def sorted_time_zone_names() -> tuple[str, ...]:
    """The same names in alphabetical order, for select lists."""
    return tuple(sorted(time_zone_names()))

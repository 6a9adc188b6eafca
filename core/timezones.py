"""IANA time zone names: the ones people may choose, and a safe zone for any stored name.

The offered names are those the system's tz database holds AND the formatting library (Babel) can load,
minus names nobody lives in: `Factory` and `localtime` (Babel refuses both, so every page would fail),
`posixrules`, and the `Etc/` zones (`Etc/GMT+5` is five hours *behind* UTC, a trap), except `Etc/UTC`.
The scan costs ~80 ms, so it runs once per process.
"""

from __future__ import annotations

import zoneinfo
from functools import cache, lru_cache
from typing import Any

from babel.dates import get_timezone

NOT_OFFERED_PREFIXES = ("Etc/", "posix/", "right/", "SystemV/")
"""Families of names that are not places (fixed offsets with inverted signs, build variants)."""

NOT_OFFERED = frozenset({"Factory", "localtime", "posixrules", "leapseconds", "tzdata.zi"})
"""Names some tz databases hold that are not zones anyone lives in."""


@lru_cache(maxsize=1024)
def is_known_time_zone(name: str) -> bool:
    """True when Babel (which formats every time on the site) and zoneinfo can both load `name`."""
    if not isinstance(name, str) or not name or len(name) > 64 or name in NOT_OFFERED:
        return False
    try:
        get_timezone(name)
        zoneinfo.ZoneInfo(name)
    except (LookupError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError, so a LookupError
        return False
    return True


@cache
def time_zone_names() -> frozenset[str]:
    """The names people may choose: places the tz database and Babel both know, plus UTC."""
    names = {name for name in zoneinfo.available_timezones()
             if not name.startswith(NOT_OFFERED_PREFIXES) and is_known_time_zone(name)}
    if is_known_time_zone("Etc/UTC"):
        names.add("Etc/UTC")
    return frozenset(names)


@cache
def sorted_time_zone_names() -> tuple[str, ...]:
    """The same names in alphabetical order, for select lists."""
    return tuple(sorted(time_zone_names()))


def usable_time_zone(name: str | None, fallback: str) -> str:
    """`name` when it can be used to show times, else `fallback` (the site's zone): a stored name this
    machine does not know (an older or newer tz database, an import) must not break a page or a job."""
    return name if name and is_known_time_zone(name) else fallback


def time_zone_notice(user: Any, site_zone: str) -> str | None:
    """The sentence shown on every page while a signed-in person's saved zone is unknown here, else None."""
    saved = getattr(user, "time_zone", None) if getattr(user, "is_authenticated", False) else None
    if not saved or is_known_time_zone(saved):
        return None
    return (f"Your saved time zone “{saved}” is not known on this site, so times are shown in the site's "
            f"zone ({site_zone}). Choose your time zone on your account page.")

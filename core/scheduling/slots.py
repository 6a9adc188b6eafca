"""Finding a time: candidate start instants that fit both participants' weekly availability.

Availability is weekly local day parts ("mon-evening") in each participant's own time zone. Each
calendar date is converted separately with zoneinfo, so a daylight-saving change moves the UTC
instants on the dates after it, as it does for the people involved. Pure functions: the caller
passes "now", the zones and the busy intervals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.questionnaire.definition import DAY_PARTS, WEEKDAYS

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Availability:
    """One participant's weekly local day parts ("mon-evening", ...) and IANA time zone."""

    slots: frozenset[str]
    time_zone: str
    name: str = "participant"


def local_windows(availability: Availability, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """The participant's available windows as UTC intervals between `start` and `end` (both aware)."""
    zone = ZoneInfo(availability.time_zone)
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    windows: list[Interval] = []
    day = first
    while day <= last:
        weekday = WEEKDAYS[day.weekday()]
        for part, (begin, finish) in DAY_PARTS.items():
            if f"{weekday}-{part}" in availability.slots:
                opens = dt.datetime.combine(day, dt.time(begin), tzinfo=zone).astimezone(dt.UTC)
                closes = dt.datetime.combine(day, dt.time(finish), tzinfo=zone).astimezone(dt.UTC)
                if closes > start and opens < end:
                    windows.append((opens, closes))
        day += dt.timedelta(days=1)
    return _merge(windows)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with touching or overlapping intervals joined."""
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def inside(windows: Sequence[Interval], begin: dt.datetime, finish: dt.datetime) -> bool:
    """Whether [begin, finish) lies entirely inside one of `windows`."""
    return any(opens <= begin and finish <= closes for opens, closes in windows)


def overlaps(busy: Iterable[Interval], begin: dt.datetime, finish: dt.datetime) -> bool:
    """Whether [begin, finish) overlaps any busy interval."""
    return any(other_begin < finish and begin < other_end for other_begin, other_end in busy)


def fits(availability: Availability, begin: dt.datetime, minutes: int) -> bool:
    """Whether a slot of `minutes` starting at `begin` lies inside the participant's availability."""
    finish = begin + dt.timedelta(minutes=minutes)
    return inside(local_windows(availability, begin, finish), begin, finish)


def candidate_starts(first: Availability, second: Availability, *, now: dt.datetime, slot_minutes: int = 75,
                     horizon_days: int = 14, lead_minutes: int = 120, grid_minutes: int = 30,
                     busy: Iterable[Interval] = ()) -> list[dt.datetime]:
    """Every start (UTC, on the grid) whose whole slot fits both availabilities, after now + lead, not busy."""
    now = now.astimezone(dt.UTC)
    earliest = now + dt.timedelta(minutes=lead_minutes)
    end = now + dt.timedelta(days=horizon_days)
    length = dt.timedelta(minutes=slot_minutes)
    busy = list(busy)
    ours = local_windows(first, earliest, end)
    theirs = local_windows(second, earliest, end)
    starts: list[dt.datetime] = []
    for opens, closes in ours:
        for other_opens, other_closes in theirs:
            begin, finish = max(opens, other_opens, earliest), min(closes, other_closes, end)
            moment = _ceil_to_grid(begin, grid_minutes)
            while moment + length <= finish:
                if not overlaps(busy, moment, moment + length):
                    starts.append(moment)
                moment += dt.timedelta(minutes=grid_minutes)
    return sorted(set(starts))


def _ceil_to_grid(moment: dt.datetime, grid_minutes: int) -> dt.datetime:
    """The first grid point (minutes since midnight UTC divisible by the grid) at or after `moment`."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = -(-int((moment - midnight).total_seconds()) // (grid_minutes * 60)) * grid_minutes
    return midnight + dt.timedelta(minutes=minutes)


def spread(starts: Sequence[dt.datetime], count: int, time_zone: str = "UTC") -> list[dt.datetime]:
    """Up to `count` of `starts`, different days first (the earliest of each day, then later ones), sorted."""
    zone = ZoneInfo(time_zone)
    by_day: dict[dt.date, list[dt.datetime]] = {}
    for start in sorted(starts):
        by_day.setdefault(start.astimezone(zone).date(), []).append(start)
    chosen: list[dt.datetime] = []
    taken: dict[dt.date, list[dt.datetime]] = {day: [] for day in by_day}
    while len(chosen) < count and any(len(taken[day]) < len(by_day[day]) for day in by_day):
        for day in sorted(by_day):
            left = [start for start in by_day[day] if start not in taken[day]]
            if not left or len(chosen) >= count:
                continue
            # The first pick of a day is its earliest time; later ones are as far as possible from those taken.
            pick = left[0] if not taken[day] else max(
                left, key=lambda start, day=day: min(abs((start - other).total_seconds()) for other in taken[day]))
            taken[day].append(pick)
            chosen.append(pick)
    return sorted(set(chosen))


def proposals(first: Availability, second: Availability, *, now: dt.datetime, count: int = 8,
              slot_minutes: int = 75, horizon_days: int = 14, lead_minutes: int = 120, grid_minutes: int = 30,
              busy: Iterable[Interval] = ()) -> list[dt.datetime]:
    """Up to `count` well-spread overlapping start times for the pair (UTC, aware)."""
    starts = candidate_starts(first, second, now=now, slot_minutes=slot_minutes, horizon_days=horizon_days,
                              lead_minutes=lead_minutes, grid_minutes=grid_minutes, busy=busy)
    return spread(starts, count, first.time_zone)

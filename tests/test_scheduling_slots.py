"""Finding a time: overlaps across time zones, across daylight-saving changes, the grid, past and busy times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.scheduling.slots import Availability, candidate_starts, fits, proposals, spread

NEW_YORK = Availability(frozenset({"mon-afternoon"}), "America/New_York", "Ann")
BERLIN = Availability(frozenset({"mon-evening"}), "Europe/Berlin", "Ben")
UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """An aware UTC instant."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_overlap_across_zones_is_computed_in_utc() -> None:
    """New York afternoon (12-17, = 17-22 UTC in winter) and Berlin evening (17-21, = 16-20 UTC) overlap 17-20 UTC."""
    starts = candidate_starts(NEW_YORK, BERLIN, now=at(2026, 1, 5, 0), horizon_days=7, lead_minutes=0)
    assert starts == [at(2026, 1, 5, 17), at(2026, 1, 5, 17, 30), at(2026, 1, 5, 18), at(2026, 1, 5, 18, 30)]
    for start in starts:
        local = start.astimezone(ZoneInfo("Europe/Berlin"))
        assert dt.time(17) <= local.time() and (local + dt.timedelta(minutes=75)).time() <= dt.time(21)


def _mondays(starts: list[dt.datetime]) -> dict[dt.date, list[dt.time]]:
    found: dict[dt.date, list[dt.time]] = {}
    for start in starts:
        found.setdefault(start.date(), []).append(start.time())
    return found


def test_spring_daylight_saving_change_in_only_one_zone_moves_the_overlap() -> None:
    """The US switches on 8 March 2026, Europe on 29 March: the overlap differs on each Monday."""
    starts = candidate_starts(NEW_YORK, BERLIN, now=at(2026, 3, 1, 0), horizon_days=30, lead_minutes=0)
    by_day = _mondays(starts)
    half_hours = [dt.time(hour, minute) for hour in range(15, 20) for minute in (0, 30)]
    # Both on standard time: 17:00-20:00 UTC.
    assert by_day[dt.date(2026, 3, 2)] == [t for t in half_hours if dt.time(17) <= t <= dt.time(18, 30)]
    # New York on summer time, Berlin not yet: NY 16-21 UTC, Berlin 16-20 UTC.
    assert by_day[dt.date(2026, 3, 9)] == [t for t in half_hours if dt.time(16) <= t <= dt.time(18, 30)]
    assert by_day[dt.date(2026, 3, 23)] == by_day[dt.date(2026, 3, 9)]
    # Both on summer time: NY 16-21 UTC, Berlin 15-19 UTC.
    assert by_day[dt.date(2026, 3, 30)] == [t for t in half_hours if dt.time(16) <= t <= dt.time(17, 30)]


def test_autumn_change_in_only_one_zone() -> None:
    """Europe falls back on 25 October 2026, the US on 1 November."""
    starts = candidate_starts(NEW_YORK, BERLIN, now=at(2026, 10, 18, 0), horizon_days=16, lead_minutes=0)
    by_day = _mondays(starts)
    assert by_day[dt.date(2026, 10, 19)][0] == dt.time(16) and by_day[dt.date(2026, 10, 19)][-1] == dt.time(17, 30)
    assert by_day[dt.date(2026, 10, 26)][0] == dt.time(16) and by_day[dt.date(2026, 10, 26)][-1] == dt.time(18, 30)
    assert by_day[dt.date(2026, 11, 2)][0] == dt.time(17) and by_day[dt.date(2026, 11, 2)][-1] == dt.time(18, 30)


def test_slot_must_lie_wholly_inside_both_windows_and_adjacent_parts_join() -> None:
    """Afternoon + evening are one window (a slot may span 17:00); a slot over the window's end is refused."""
    both = Availability(frozenset({"mon-afternoon", "mon-evening"}), "Europe/Berlin")
    assert fits(both, dt.datetime(2026, 1, 5, 16, 30, tzinfo=ZoneInfo("Europe/Berlin")), 75)
    assert not fits(BERLIN, dt.datetime(2026, 1, 5, 16, 30, tzinfo=ZoneInfo("Europe/Berlin")), 75)
    assert fits(BERLIN, dt.datetime(2026, 1, 5, 19, 45, tzinfo=ZoneInfo("Europe/Berlin")), 75)
    assert not fits(BERLIN, dt.datetime(2026, 1, 5, 20, 0, tzinfo=ZoneInfo("Europe/Berlin")), 75)
    assert not fits(BERLIN, dt.datetime(2026, 1, 6, 18, 0, tzinfo=ZoneInfo("Europe/Berlin")), 75)


def test_grid() -> None:
    """Starts are on the grid: every 15 minutes when asked."""
    starts = candidate_starts(NEW_YORK, BERLIN, now=at(2026, 1, 5, 0), horizon_days=1, lead_minutes=0,
                              grid_minutes=15)
    assert len(starts) == 8 and starts[-1] == at(2026, 1, 5, 18, 45)
    assert all(start.minute % 15 == 0 for start in starts) and starts[1] - starts[0] == dt.timedelta(minutes=15)


def test_past_times_and_the_lead_time_are_excluded() -> None:
    """Nothing starts before now plus the lead time."""
    now = at(2026, 1, 5, 17, 10)
    assert candidate_starts(NEW_YORK, BERLIN, now=now, horizon_days=1, lead_minutes=0)[0] == at(2026, 1, 5, 17, 30)
    assert candidate_starts(NEW_YORK, BERLIN, now=now, horizon_days=1, lead_minutes=120) == []


def test_busy_intervals_are_excluded() -> None:
    """A booking of either participant removes every start whose slot overlaps it (touching is fine)."""
    busy = [(at(2026, 1, 5, 18), at(2026, 1, 5, 18, 30))]
    starts = candidate_starts(NEW_YORK, BERLIN, now=at(2026, 1, 5, 0), horizon_days=1, lead_minutes=0, busy=busy)
    assert starts == [at(2026, 1, 5, 18, 30)]


def test_proposals_spread_over_different_days_first() -> None:
    """With three days available and three proposals, each day gets one (its earliest time)."""
    week = Availability(frozenset({"mon-evening", "tue-evening", "wed-evening"}), "Europe/Berlin")
    other = Availability(frozenset({"mon-afternoon", "tue-afternoon", "wed-afternoon"}), "America/New_York")
    chosen = proposals(week, other, now=at(2026, 1, 4, 0), count=3, horizon_days=7, lead_minutes=0)
    assert [start.date() for start in chosen] == [dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 7)]
    more = proposals(week, other, now=at(2026, 1, 4, 0), count=6, horizon_days=7, lead_minutes=0)
    assert len(more) == 6 and len({start.date() for start in more}) == 3
    assert at(2026, 1, 5, 18, 30) in more  # the second pick of a day is far from its first


def test_spread_respects_count_and_is_sorted() -> None:
    """Never more than asked for, in time order."""
    starts = [at(2026, 1, 5, hour) for hour in range(10)] + [at(2026, 1, 6, 3)]
    chosen = spread(starts, 4)
    assert len(chosen) == 4 and chosen == sorted(chosen) and at(2026, 1, 6, 3) in chosen

"""Pool health: who is waiting for a partner, by political side and region, and an honest wait estimate.

Waiting = an active participant with a complete profile and no match in progress (status
"matched" or "scheduled"). Sides come from the normalised political lean (0 = most left, 1 = most
right): left below 0.45, right above 0.55, centre between, "not answered" without a lean.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from core.db import utcnow
from core.models.matching import Match
from core.questionnaire.profiles import complete_participants, matching_profiles

LEFT_BELOW = 0.45
RIGHT_ABOVE = 0.55
SIDES = ("left", "centre", "right", "unknown")
SIDE_LABELS = {"left": "Lean left", "centre": "Centre", "right": "Lean right", "unknown": "Not answered"}
IN_PROGRESS = ("matched", "scheduled")
RECENT_DAYS = 30
MIN_RECENT_MATCHES = 3
LOPSIDED_RATIO = 2.0
CACHE_SECONDS = 300


def side_of(lean: float | None) -> str:
    """"left", "centre", "right" or "unknown" for a normalised lean."""
    if lean is None:
        return "unknown"
    if lean < LEFT_BELOW:
        return "left"
    if lean > RIGHT_ABOVE:
        return "right"
    return "centre"


@dataclass(frozen=True)
class PoolHealth:
    """Counts of waiting participants and recent matches, read at `measured_at`."""

    waiting: int
    by_side: dict[str, int]
    by_region: list[tuple[str, str, int]]
    recent_matches: int
    measured_at: dt.datetime
    side_of_user: dict[int, str] = field(default_factory=dict, repr=False)

    def lopsided(self) -> tuple[str, str] | None:
        """(larger side, smaller side) when one of left/right has more than twice the other, else None."""
        left, right = self.by_side.get("left", 0), self.by_side.get("right", 0)
        if max(left, right) < 2:
            return None
        if left > LOPSIDED_RATIO * right:
            return "left", "right"
        if right > LOPSIDED_RATIO * left:
            return "right", "left"
        return None


def waiting_ids() -> list[int]:
    """Ids of participants waiting for a partner (complete profile, active, no match in progress)."""
    query = complete_participants()
    if query is None:
        return []
    from core.models import Profile

    busy = Match.select(Match.a).where(Match.status.in_(IN_PROGRESS)) | \
        Match.select(Match.b).where(Match.status.in_(IN_PROGRESS))
    return [user_id for (user_id,) in query.where(Profile.user.not_in(busy)).tuples()]


def measure() -> PoolHealth:
    """Count the pool now: one answer per waiting participant for the side and one for the place."""
    ids = waiting_ids()
    profiles = matching_profiles(ids, roles=("political_lean", "location"))
    sides = {user_id: side_of(profiles[user_id].lean if user_id in profiles else None) for user_id in ids}
    regions: Counter[tuple[str, str]] = Counter()
    for user_id in ids:
        profile = profiles.get(user_id)
        regions[(profile.country or "", profile.region or "") if profile else ("", "")] += 1
    counted = Counter(sides.values())
    since = utcnow() - dt.timedelta(days=RECENT_DAYS)
    recent = Match.select().where(Match.created_at >= since).count()
    return PoolHealth(
        waiting=len(ids), by_side={side: counted.get(side, 0) for side in SIDES},
        by_region=sorted(((country, region, count) for (country, region), count in regions.items()),
                         key=lambda row: (-row[2], row[0], row[1])),
        recent_matches=recent, measured_at=utcnow(), side_of_user=sides)


def pool_health(max_age: float = CACHE_SECONDS) -> PoolHealth:
    """The pool as measured at most `max_age` seconds ago in this process (0: measure now)."""
    cache = current_app.extensions.setdefault("oss_connect_pool_health", {})
    taken = cache.get("at")
    if taken is None or max_age <= 0 or time.monotonic() - taken > max_age:
        cache["health"], cache["at"] = measure(), time.monotonic()
    return cache["health"]


def other_sides(side: str) -> tuple[str, ...]:
    """The sides a participant of `side` is usually matched with (different views)."""
    return {"left": ("right",), "right": ("left",), "centre": ("left", "right")}.get(side, ("left", "centre", "right"))


@dataclass(frozen=True)
class WaitEstimate:
    """What a participant reads about their wait: a sentence, and a note when the pool is lopsided."""

    text: str
    lopsided_note: str | None = None


def _duration(days: float) -> str:
    if days < 2:
        return "a day or two"
    if days < 7:
        return "a few days"
    if days < 15:
        return "one to two weeks"
    if days < 35:
        return "two to five weeks"
    return "more than a month"


def wait_estimate(user: Any, health: PoolHealth | None = None) -> WaitEstimate:
    """An honest estimate from the last 30 days' match rate and the pool on the participant's other side."""
    health = health or pool_health()
    side = health.side_of_user.get(user.id)
    if side is None:
        profile = matching_profiles([user.id], roles=("political_lean",)).get(user.id)
        side = side_of(profile.lean if profile else None)
    own = max(1, health.by_side.get(side, 0))
    others = sum(health.by_side.get(other, 0) for other in other_sides(side))
    note = None
    tilted = health.lopsided()
    if tilted is not None:
        larger, smaller = tilted
        note = (f"Right now many more people who lean {larger} are waiting than people who lean {smaller}, "
                f"so people who lean {larger} may wait longer for a partner.")
    if health.recent_matches < MIN_RECENT_MATCHES or others == 0:
        reason = ("too few matches were made here in the last 30 days" if others
                  else "nobody with different views is waiting right now")
        return WaitEstimate(f"We can't estimate your wait yet: {reason}.", note)
    per_day = health.recent_matches / RECENT_DAYS
    days = health.waiting / (2 * per_day) * max(1.0, own / others)
    return WaitEstimate(
        f"Based on the {health.recent_matches} matches made here in the last 30 days and the people "
        f"waiting now, finding a partner usually takes {_duration(days)}. This is a rough guide, not a promise.",
        note)


def wait_estimate_now(user: Any) -> WaitEstimate:
    """`wait_estimate` from the cached pool measurement (a participant's page never counts the pool itself)."""
    return wait_estimate(user, pool_health())


def region_label(country: str, region: str) -> str:
    """"Ohio, United States" for a region row; "Not given" when neither is known."""
    from core.questionnaire.answers import country_names

    name = country_names("en").get(country, country) if country else ""
    return ", ".join(part for part in (region, name) if part) or "Not given"


def admin_rows(health: PoolHealth) -> dict[str, Any]:
    """What the admin page lists: sides with labels, and regions with readable names."""
    return {"sides": [(SIDE_LABELS[side], health.by_side[side]) for side in SIDES],
            "regions": [(region_label(country, region), count) for country, region, count in health.by_region]}

"""What matching strategies read of a participant: answers by matching role, in comparable form.

Private answers are included (the matcher may use them); `shared` says which questions partners
may see, so that reasons shown to people are built only from those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from core.questionnaire.definition import DAY_PARTS, WEEKDAYS, Questionnaire
from core.questionnaire.sharing import AUDIENCES
from core.timezones import usable_time_zone

HOURS_PER_WEEK = 7 * 24


@dataclass(frozen=True)
class MatchingProfile:
    """A participant's answers by matching role; scales are normalised to 0..1."""

    user_id: int
    lean: float | None = None
    issues: Mapping[str, float] = field(default_factory=dict)
    party: str | None = None
    importance: float | None = None
    interests: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()
    life_stage: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    postal_code: str | None = None
    languages: frozenset[str] = frozenset()
    availability_utc: frozenset[int] = frozenset()
    time_zone: str = "UTC"
    shared: frozenset[str] = frozenset()


def matching_profile(user_id: int, questionnaire: Questionnaire, answers: Mapping[str, Any],
                     default_time_zone: str = "UTC", week_of: dt.date | None = None) -> MatchingProfile:
    """Build a participant's `MatchingProfile` from their current answers (objects with .value, .visibility)."""
    found: dict[str, Any] = {"issues": {}, "interests": set(), "values": set(), "languages": set()}
    time_zone = default_time_zone
    slots: list[str] = []
    shared = set()
    for question in questionnaire.questions():
        stored = answers.get(question.id)
        if stored is None or stored.value is None:
            continue
        value = stored.value
        if stored.visibility in AUDIENCES["partners"]:
            shared.add(question.id)
        if question.type == "time_zone":
            time_zone = usable_time_zone(value, default_time_zone)
        role = question.role
        if role in ("political_lean", "politics_importance", "issue_position") and question.type == "scale":
            normalised = (value - question.scale.min) / (question.scale.max - question.scale.min)
            if role == "issue_position":
                found["issues"][question.id] = normalised
            else:
                found["lean" if role == "political_lean" else "importance"] = normalised
        elif role == "party":
            found["party"] = value.get("choice")
        elif role in ("interest", "value"):
            chosen = value if isinstance(value, list) else [value.get("choice")]
            found["interests" if role == "interest" else "values"].update(f"{question.id}:{item}" for item in chosen)
        elif role == "life_stage":
            found["life_stage"] = value if isinstance(value, str) else value.get("choice")
        elif role == "location":
            for part in ("country", "region", "city", "postal_code"):
                if value.get(part):
                    found[part] = value[part].strip() if part != "country" else value[part]
        elif role == "language":
            found["languages"].update(value)
        elif role == "availability":
            slots = list(value)
    return MatchingProfile(
        user_id=user_id, lean=found.get("lean"), issues=dict(found["issues"]), party=found.get("party"),
        importance=found.get("importance"), interests=frozenset(found["interests"]),
        values=frozenset(found["values"]), life_stage=found.get("life_stage"), country=found.get("country"),
        region=found.get("region"), city=found.get("city"), postal_code=found.get("postal_code"),
        languages=frozenset(found["languages"]), availability_utc=availability_hours_utc(slots, time_zone, week_of),
        time_zone=time_zone, shared=frozenset(shared))


def availability_hours_utc(slots: list[str], time_zone: str, week_of: dt.date | None = None) -> frozenset[int]:
    """Weekly local slots ("mon-evening") as UTC hours of the week (0 = Monday 00:00 UTC).

    The conversion uses the offsets of the week that starts on the Monday of `week_of` (default:
    this week), so daylight-saving time is applied as it will be on those days.
    """
    zone = ZoneInfo(time_zone)
    today = week_of or dt.datetime.now(dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday())
    hours: set[int] = set()
    for slot in slots:
        day, _, part = slot.partition("-")
        if day not in WEEKDAYS or part not in DAY_PARTS:
            continue
        start, end = DAY_PARTS[part]
        date = monday + dt.timedelta(days=WEEKDAYS.index(day))
        for hour in range(start, end):
            local = dt.datetime.combine(date, dt.time(hour), tzinfo=zone)
            utc = local.astimezone(dt.UTC)
            hours.add((utc.weekday() * 24 + utc.hour) % HOURS_PER_WEEK)
    return frozenset(hours)

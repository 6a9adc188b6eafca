"""Option lists the questionnaire's fields offer: countries, languages, time zones, ages, the week."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core.questionnaire.answers import country_names, language_names
from core.questionnaire.definition import AGE_RANGES, DAY_PARTS, WEEKDAYS
from core.questionnaire.sharing import DAY_NAMES
from core.timezones import sorted_time_zone_names


@dataclass(frozen=True)
class FieldOptions:
    """Everything the step template needs to draw non-choice fields."""

    countries: dict[str, str]
    languages: dict[str, str]
    time_zones: tuple[str, ...]
    age_ranges: list[str]
    weekdays: list[tuple[str, str]]
    day_parts: list[tuple[str, str]]


@cache
def field_options(locale: str = "en") -> FieldOptions:
    """The option lists, built once per process and locale."""
    return FieldOptions(
        countries=country_names(locale), languages=language_names(locale), time_zones=sorted_time_zone_names(),
        age_ranges=list(AGE_RANGES), weekdays=[(day, DAY_NAMES[day]) for day in WEEKDAYS],
        day_parts=[(part, f"{part.capitalize()} ({start}:00 to {end}:00)") for part, (start, end) in DAY_PARTS.items()])

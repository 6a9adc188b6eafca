"""Turn submitted form fields into answer values, with a message for people when they are wrong.

Stored values (JSON): single_choice {"choice": v[, "text": t]}; multiple_choice [v, ...];
scale int; short_text/long_text str; age_range str; location {"country", "region", "city"} or
{"country", "postal_code"}; time_zone str; languages [code, ...]; availability ["mon-evening", ...].
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from core.input_checks import multi_line_problem, single_line_problem
from core.questionnaire.definition import AGE_RANGES, DAY_PARTS, WEEKDAYS, Question
from core.text import find_contact_details
from core.timezones import is_known_time_zone, time_zone_names

EMPTY = object()


@dataclass
class Parsed:
    """The result of reading one question from a form: a value, EMPTY, or an error message."""

    value: Any = EMPTY
    error: str | None = None


def field_name(question: Question, part: str = "") -> str:
    """The form field name of a question (or of one of its parts)."""
    return f"q-{question.id}" + (f"-{part}" if part else "")


@cache
def language_names(locale: str = "en") -> dict[str, str]:
    """ISO 639 language codes (two letters) to names in `locale`, from Babel's CLDR data."""
    from babel import Locale

    names = Locale.parse(locale).languages
    return dict(sorted(((code, name) for code, name in names.items() if len(code) == 2), key=lambda kv: kv[1]))


@cache
def country_names(locale: str = "en") -> dict[str, str]:
    """ISO 3166 country codes to names in `locale`, from Babel's CLDR data."""
    from babel import Locale

    names = Locale.parse(locale).territories
    return dict(sorted(((code, name) for code, name in names.items() if re.fullmatch(r"[A-Z]{2}", code)),
                       key=lambda kv: kv[1]))


def availability_slots() -> list[str]:
    """Every weekly slot, as "mon-morning" ... "sun-evening"."""
    return [f"{day}-{part}" for day in WEEKDAYS for part in DAY_PARTS]


def parse_answer(question: Question, form: Mapping[str, Any], locale: str = "en") -> Parsed:
    """Read and check one question's fields; required questions may not be left empty.

    Invisible characters are refused first: a long_text answer keeps line breaks and tabs only, and
    every other field of a question (names, descriptions, places) is one line (core.input_checks).
    """
    if _has_nul(question, form):
        return Parsed(error="Remove the invisible NUL character (it often comes from pasting from another program).")
    invisible = _invisible_character_problem(question, form)
    if invisible:
        return Parsed(error=invisible)
    parsed = _PARSERS[question.type](question, form, locale)
    if parsed.error is None and parsed.value is EMPTY and question.required:
        return Parsed(error="Please answer this question.")
    return parsed


def _has_nul(question: Question, form: Mapping[str, Any]) -> bool:
    """True when any of the question's fields carries a NUL character (no database stores one)."""
    return any(isinstance(value, str) and "\x00" in value for _, values in _question_values(question, form)
               for value in values)


def _invisible_character_problem(question: Question, form: Mapping[str, Any]) -> str | None:
    """The message for a control character or bidi override in any of the question's fields, or None."""
    for name, values in _question_values(question, form):
        for value in values:
            if not isinstance(value, str):
                continue
            if question.type == "long_text" and name == field_name(question):
                problem = multi_line_problem(value, "Your answer")
            else:
                problem = single_line_problem(value.strip(), "Your answer")
            if problem:
                return problem
    return None


def _question_values(question: Question, form: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(field name, submitted values) for each of the question's fields in `form`."""
    prefix = field_name(question)
    getter = getattr(form, "getlist", None)
    return [(name, getter(name) if getter else [form.get(name)]) for name in list(form.keys())
            if name == prefix or name.startswith(prefix + "-")]


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _list(form: Mapping[str, Any], name: str) -> list[str]:
    getter = getattr(form, "getlist", None)
    values = getter(name) if getter else form.get(name, [])
    values = [values] if isinstance(values, str) else list(values or [])
    return [value.strip() for value in values if isinstance(value, str) and value.strip()]


def _single_choice(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    value = _text(form, field_name(question))
    if not value:
        return Parsed()
    choice = next((c for c in question.choices if c.value == value), None)
    if choice is None:
        return Parsed(error="Choose one of the options.")
    answer: dict[str, Any] = {"choice": value}
    if choice.describe:
        text = _text(form, field_name(question, "text"))
        if len(text) > 60:
            return Parsed(error="Keep the description to 60 characters.")
        if text:
            answer["text"] = text
    return Parsed(answer)


def _multiple_choice(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    values = list(dict.fromkeys(_list(form, field_name(question))))
    if not values:
        return Parsed()
    known = question.choice_labels
    if any(value not in known for value in values):
        return Parsed(error="Choose only from the options shown.")
    if len(values) < question.min_choices:
        return Parsed(error=f"Choose at least {question.min_choices}.")
    if question.max_choices is not None and len(values) > question.max_choices:
        return Parsed(error=f"Choose at most {question.max_choices}.")
    return Parsed(values)


def _scale(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    raw = _text(form, field_name(question))
    if not raw:
        return Parsed()
    scale = question.scale
    if not re.fullmatch(r"-?\d{1,3}", raw) or not scale.min <= int(raw) <= scale.max:
        return Parsed(error=f"Choose a point from {scale.min} ({scale.min_label}) to {scale.max} ({scale.max_label}).")
    return Parsed(int(raw))


def _free_text(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    raw = form.get(field_name(question), "")
    text = raw.replace("\r\n", "\n").strip() if isinstance(raw, str) else ""
    if not text:
        return Parsed()
    if question.type == "short_text" and "\n" in text:
        return Parsed(error="Keep it to one line.")
    if len(text) > question.max_length:
        return Parsed(error=f"Use at most {question.max_length} characters (you wrote {len(text)}).")
    if question.reject_contact_details:
        found = find_contact_details(text)
        if found:
            return Parsed(error="Please remove " + " and ".join(found) + ": partners get in touch through "
                                "this site, never directly.")
    return Parsed(text)


def _age_range(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    value = _text(form, field_name(question))
    if not value:
        return Parsed()
    if value not in AGE_RANGES:
        return Parsed(error="Choose one of the age ranges.")
    return Parsed(value)


def _location(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    country = _text(form, field_name(question, "country")).upper()
    parts = ("postal_code",) if question.location_mode == "postal_code" else ("region", "city")
    values = {part: _text(form, field_name(question, part)) for part in parts}
    if not country and not any(values.values()):
        return Parsed()
    if country not in country_names(locale):
        return Parsed(error="Choose your country from the list.")
    for part, value in values.items():
        if len(value) > 80:
            return Parsed(error=f"Keep the {part.replace('_', ' ')} to 80 characters.")
        if question.required and not value:
            return Parsed(error=f"Enter your {part.replace('_', ' ')}.")
    if "postal_code" in values and values["postal_code"] and not re.fullmatch(r"[A-Za-z0-9 -]{2,12}",
                                                                              values["postal_code"]):
        return Parsed(error="Enter a postal code of letters, digits and spaces.")
    return Parsed({"country": country, **{k: v for k, v in values.items() if v}})


def _time_zone(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    value = _text(form, field_name(question))
    if not value:
        return Parsed()
    if value not in time_zone_names():
        return Parsed(error="Choose your time zone from the list.")
    return Parsed(value)


def _languages(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    values = list(dict.fromkeys(_list(form, field_name(question))))
    if not values:
        return Parsed()
    known = language_names(locale)
    if any(value not in known for value in values):
        return Parsed(error="Choose languages from the list.")
    if len(values) > 10:
        return Parsed(error="Choose at most 10 languages.")
    return Parsed(values)


def _availability(question: Question, form: Mapping[str, Any], locale: str) -> Parsed:
    values = list(dict.fromkeys(_list(form, field_name(question))))
    if not values:
        return Parsed()
    slots = set(availability_slots())
    if any(value not in slots for value in values):
        return Parsed(error="Choose times from the weekly grid.")
    return Parsed(sorted(values, key=availability_slots().index))


_PARSERS = {
    "single_choice": _single_choice, "multiple_choice": _multiple_choice, "scale": _scale,
    "short_text": _free_text, "long_text": _free_text, "age_range": _age_range, "location": _location,
    "time_zone": _time_zone, "languages": _languages, "availability": _availability,
}


def is_valid_stored(question: Question, value: Any, locale: str = "en") -> bool:
    """True when a stored answer still fits the (possibly changed) question."""
    try:
        if question.type == "single_choice":
            return isinstance(value, dict) and value.get("choice") in question.choice_labels
        if question.type == "multiple_choice":
            return isinstance(value, list) and all(v in question.choice_labels for v in value)
        if question.type == "scale":
            return isinstance(value, int) and question.scale.min <= value <= question.scale.max
        if question.type in ("short_text", "long_text"):
            return isinstance(value, str) and len(value) <= question.max_length
        if question.type == "age_range":
            return value in AGE_RANGES
        if question.type == "location":
            return isinstance(value, dict) and value.get("country") in country_names(locale)
        if question.type == "time_zone":
            return is_known_time_zone(value)  # still usable, even if no longer offered
        if question.type == "languages":
            return isinstance(value, list) and all(v in language_names(locale) for v in value)
        if question.type == "availability":
            return isinstance(value, list) and set(value) <= set(availability_slots())
    except (TypeError, AttributeError):
        return False
    return False

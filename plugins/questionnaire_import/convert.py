"""Turn imported cells (CSV text or webhook JSON values) into the form fields core's questionnaire reads.

A cell is addressed by its target: a question id, or `question.part` for location parts and the
self-description of a single choice. Core's `read_step` then checks the values exactly as it checks
the questionnaire pages, so an import can store nothing a participant could not have entered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from werkzeug.datastructures import MultiDict

from core.api import Question, Questionnaire, StoredAnswer, field_name, read_step

from .settings import EMAIL, TARGET

Cell = str | list[str]
LOCATION_PARTS = {"city": ("country", "region", "city"), "postal_code": ("country", "postal_code")}
LIST_TYPES = {"multiple_choice", "languages", "availability"}
HINTS = {
    "age_range": "Write one of 18-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75+ (format the column as text "
                 "so the spreadsheet does not turn it into a date).",
    "availability": "Write weekly slots such as mon-evening{sep}sat-morning (days mon to sun; morning, "
                    "afternoon or evening).",
    "time_zone": "Write a time zone name such as America/New_York or Europe/Berlin.",
    "location": "Write the country as a two-letter code (US) or its English name.",
    "languages": "Write two-letter language codes (en{sep}es) or English names (English{sep}Spanish).",
}


@dataclass(frozen=True)
class Column:
    """One mapped CSV column: its header and the email, question or question part it fills."""

    header: str
    target: str
    question_id: str
    part: str


def split_target(target: str) -> tuple[str, str]:
    """`location.city` -> ("location", "city"); `lean` -> ("lean", "")."""
    match = TARGET.match(target)
    return (match["question"], match["part"] or "") if match else (target, "")


def mapped_columns(columns: Mapping[str, str]) -> list[Column]:
    """The configured mapping as Column objects, in config order."""
    return [Column(header, target, *split_target(target)) for header, target in columns.items()]


def mapping_problems(columns: Mapping[str, str], questionnaire: Questionnaire) -> list[str]:
    """What in the column mapping does not fit the questionnaire (unknown ids, wrong parts), in words."""
    known = [question.id for question in questionnaire.questions()]
    problems = []
    for column in mapped_columns(columns):
        if column.target == EMAIL:
            continue
        question = questionnaire.question(column.question_id)
        where = f"column '{column.header}' maps to '{column.target}'"
        if question is None:
            problems.append(f"{where}, which is not a question of the questionnaire '{questionnaire.id}' "
                            f"(version {questionnaire.version}); known question ids: {', '.join(known)}")
        elif question.type == "location":
            parts = LOCATION_PARTS[question.location_mode]
            if column.part not in parts:
                problems.append(f"{where}: '{question.id}' is a location question; map one column to each of "
                                + ", ".join(f"{question.id}.{part}" for part in parts))
        elif column.part == "text":
            if question.type != "single_choice" or not any(choice.describe for choice in question.choices):
                problems.append(f"{where}: only single-choice questions with a self-description option "
                                "take a .text part")
        elif column.part:
            problems.append(f"{where}: only location questions have parts ({column.part}); "
                            f"map the column to '{question.id}'")
    return problems


@cache
def _names(kind: str) -> dict[str, str]:
    """English names (case-folded) to codes, for languages or countries (Babel's CLDR data)."""
    from babel import Locale

    locale = Locale.parse("en")
    if kind == "languages":
        return {name.casefold(): code for code, name in locale.languages.items() if len(code) == 2}
    return {name.casefold(): code for code, name in locale.territories.items() if re.fullmatch(r"[A-Z]{2}", code)}


def _items(cell: Cell, separator: str) -> list[str]:
    values = cell if isinstance(cell, list) else str(cell).split(separator)
    return [str(value).strip() for value in values if str(value).strip()]


def _choice(question: Question, text: str) -> str | None:
    """The choice value written as its value or its label (ignoring case), or None."""
    wanted = text.strip().casefold()
    for choice in question.choices:
        if wanted in (choice.value.casefold(), choice.label.strip().casefold()):
            return choice.value
    return None


def _options(question: Question) -> str:
    return "; ".join(f"{choice.value} ({choice.label})" for choice in question.choices)


def _code(kind: str, text: str) -> str:
    """A language or country code written as a code or an English name (unknown text is returned as is)."""
    code = text.strip()
    if re.fullmatch(r"[A-Za-z]{2}", code):
        return code.lower() if kind == "languages" else code.upper()
    return _names(kind).get(code.casefold(), code)


def _add_question(form: MultiDict, question: Question, cells: Mapping[str, Cell], separator: str) -> str | None:
    """Add one question's fields to `form`; return a message when a cell cannot be read."""
    cell = cells.get(question.id, "")
    kind = question.type
    if kind == "location":
        for part in ("country", "region", "city", "postal_code"):
            text = cells.get(f"{question.id}.{part}", "")
            text = text if isinstance(text, str) else ""
            form.add(field_name(question, part), _code("countries", text) if part == "country" and text else text)
        return None
    if kind == "single_choice":
        text = cell if isinstance(cell, str) else ""
        if text.strip():
            value = _choice(question, text)
            if value is None:
                return f"'{text.strip()}' is not one of the options; write one of: {_options(question)}."
            form.add(field_name(question), value)
        description = cells.get(f"{question.id}.text", "")
        form.add(field_name(question, "text"), description if isinstance(description, str) else "")
        return None
    if kind in LIST_TYPES:
        items = _items(cell, separator)
        if kind == "multiple_choice":
            unknown = [item for item in items if _choice(question, item) is None]
            if unknown:
                return (f"{', '.join(repr(item) for item in unknown)} "
                        f"{'is not an option' if len(unknown) == 1 else 'are not options'}; write options "
                        f"separated by '{separator}': {_options(question)}.")
            items = [_choice(question, item) for item in items]
        elif kind == "languages":
            items = [_code("languages", item) for item in items]
        else:
            items = [item.lower() for item in items]
        for item in items:
            form.add(field_name(question), item)
        return None
    text = cell if isinstance(cell, str) else ""
    if kind == "scale" and re.fullmatch(r"\s*-?\d+\.0*\s*", text):
        text = text.strip().split(".")[0]  # 3.0 from a spreadsheet's number format
    form.add(field_name(question), text)
    return None


def read_answers(questionnaire: Questionnaire, cells: Mapping[str, Cell],
                 separator: str) -> tuple[dict[str, StoredAnswer], dict[str, str]]:
    """Check one person's cells with core's rules: (answers by question id, messages by question id).

    Empty cells leave a question unanswered (the person is asked online); they never erase an answer.
    Visibility is each question's default; participants can change it on their profile pages.
    """
    question_ids = {split_target(target)[0] for target in cells if target != EMAIL}
    questions = [question for question in questionnaire.questions() if question.id in question_ids]
    form: MultiDict = MultiDict()
    errors: dict[str, str] = {}
    for question in questions:
        problem = _add_question(form, question, cells, separator)
        if problem:
            errors[question.id] = problem
    result = read_step(questionnaire, [q for q in questions if q.id not in errors], form, allow_missing=True)
    for question_id, message in result.errors.items():
        question = questionnaire.question(question_id)
        hint = HINTS.get(question.type, "").format(sep=separator) if question else ""
        errors[question_id] = f"{message} {hint}".strip()
    answers = {question_id: answer for question_id, answer in result.values.items() if answer.value is not None}
    return answers, errors

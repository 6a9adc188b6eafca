"""What others may see of a participant: the answers whose visibility reaches an audience, as text.

This is the one place that decides what leaves a profile. Pages, JSON, emails and Socket.IO
payloads about another participant are built from `shared_profile`, never from raw answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from core.questionnaire.answers import country_names, language_names
from core.questionnaire.definition import DAY_PARTS, WEEKDAYS, Question, Questionnaire

# Who may see an answer of each visibility: partners see partners and public answers, the public
# page of a conversation only public ones, the participant everything.
AUDIENCES: dict[str, frozenset[str]] = {
    "self": frozenset({"private", "partners", "public"}),
    "partners": frozenset({"partners", "public"}),
    "public": frozenset({"public"}),
}
VISIBILITY_LABELS = {
    "private": "Only for matching",
    "partners": "Suggested partners",
    "public": "Partners and the public page",
}
NAME_ROLES = ("first_name", "last_initial")
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
             "sat": "Saturday", "sun": "Sunday"}


@dataclass(frozen=True)
class SharedField:
    """One answer as another person sees it."""

    question_id: str
    label: str
    text: str
    role: str | None = None


@dataclass(frozen=True)
class SharedProfile:
    """A participant as an audience sees them: a name to call them, their bio, and shared answers."""

    name: str
    bio: str | None
    fields: list[SharedField] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for APIs and Socket.IO payloads)."""
        return asdict(self)

    def field(self, question_id: str) -> SharedField | None:
        """A shared answer by question id, or None when it is not shared."""
        return next((item for item in self.fields if item.question_id == question_id), None)


def shared_profile(questionnaire: Questionnaire | None, answers: Mapping[str, Any], audience: str) -> SharedProfile:
    """The profile `audience` may see, from answers that have `.value` and `.visibility`."""
    allowed = AUDIENCES[audience]
    if questionnaire is None:
        return SharedProfile(name="A participant", bio=None)
    names: dict[str, str] = {}
    bio = None
    fields: list[SharedField] = []
    for question in questionnaire.questions():
        stored = answers.get(question.id)
        if stored is None or stored.value is None or stored.visibility not in allowed:
            continue
        text = display_value(question, stored.value)
        if not text:
            continue
        if question.role in NAME_ROLES:
            names[question.role] = text
        elif question.role == "bio":
            bio = text
        else:
            fields.append(SharedField(question.id, question.share_label or question.label, text, question.role))
    return SharedProfile(name=display_name(names), bio=bio, fields=fields)


def display_name(names: Mapping[str, str]) -> str:
    """"Maria G." from a first name and a last initial; "A participant" when neither is shared."""
    first = names.get("first_name", "").strip()
    initial = names.get("last_initial", "").strip()[:1].upper()
    if first and initial:
        return f"{first} {initial}."
    return first or "A participant"


def display_value(question: Question, value: Any, locale: str = "en") -> str:
    """An answer as a sentence fragment a person reads ("Gardening, Cooking"; "5 of 7")."""
    kind = question.type
    if kind == "single_choice":
        label = question.choice_labels.get(value.get("choice"), "")
        chosen = next((choice for choice in question.choices if choice.value == value.get("choice")), None)
        if chosen is not None and chosen.describe:
            return value.get("text", "")
        return label
    if kind == "multiple_choice":
        labels = question.choice_labels
        return ", ".join(labels[item] for item in value if item in labels)
    if kind == "scale":
        scale = question.scale
        return f"{value} on a scale from {scale.min} ({scale.min_label}) to {scale.max} ({scale.max_label})"
    if kind == "location":
        country = country_names(locale).get(value.get("country", ""), value.get("country", ""))
        parts = [value.get("city"), value.get("region"), value.get("postal_code"), country]
        return ", ".join(part for part in parts if part)
    if kind == "languages":
        names = language_names(locale)
        return ", ".join(names.get(code, code) for code in value)
    if kind == "availability":
        return describe_availability(value)
    return str(value)


def describe_availability(slots: list[str]) -> str:
    """Weekly slots as text: "Monday evening, Saturday morning and afternoon"."""
    by_day: dict[str, list[str]] = {}
    for slot in slots:
        day, _, part = slot.partition("-")
        by_day.setdefault(day, []).append(part)
    phrases = []
    for day in WEEKDAYS:
        parts = [part for part in DAY_PARTS if part in by_day.get(day, [])]
        if parts:
            joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
            phrases.append(f"{DAY_NAMES[day]} {joined}")
    return "; ".join(phrases)

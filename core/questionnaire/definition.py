"""A questionnaire's definition: sections, typed questions, matching roles and default visibility.

Source plugins build a `Questionnaire` (from YAML, a form tool, ...); core validates answers
against it, renders its steps and stores answers by question id and questionnaire version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from core.config.documents import load_yaml_document
from core.config.errors import ConfigError, ConfigIssue
from core.config.schema import Section
from core.config.yaml_source import dotted_path

QuestionType = Literal[
    "single_choice", "multiple_choice", "scale", "short_text", "long_text", "age_range",
    "location", "time_zone", "languages", "availability",
]
Role = Literal[
    "political_lean", "party", "issue_position", "politics_importance", "interest", "value",
    "life_stage", "location", "language", "availability", "first_name", "last_initial", "gender", "bio",
]
Visibility = Literal["private", "partners", "public"]
VISIBILITIES: tuple[Visibility, ...] = ("private", "partners", "public")

# Which question types can carry which matching role (the matcher relies on the shape).
ROLE_TYPES: dict[str, set[str]] = {
    "political_lean": {"scale"},
    "party": {"single_choice"},
    "issue_position": {"scale"},
    "politics_importance": {"scale", "single_choice"},
    "interest": {"multiple_choice"},
    "value": {"multiple_choice", "single_choice"},
    "life_stage": {"single_choice", "age_range"},
    "location": {"location"},
    "language": {"languages"},
    "availability": {"availability"},
    "first_name": {"short_text"},
    "last_initial": {"short_text"},
    "gender": {"single_choice"},
    "bio": {"long_text"},
}

COMMON_LANGUAGES = ("en", "es", "zh", "tl", "vi", "ar", "fr", "ko", "ru", "de", "pt", "hi")
AGE_RANGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_PARTS = {"morning": (8, 12), "afternoon": (12, 17), "evening": (17, 21)}


class Choice(Section):
    """One option of a choice question."""

    value: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)
    label: str = Field(..., min_length=1, max_length=200)
    describe: bool = Field(False, description="Choosing it asks for a short self-description.")


class ScaleEnds(Section):
    """A scale from `min` to `max` whose two ends carry labels."""

    min: int = Field(1, ge=0, le=10)
    max: int = Field(5, ge=1, le=11)
    min_label: str = Field(..., min_length=1, max_length=80)
    max_label: str = Field(..., min_length=1, max_length=80)

    @model_validator(mode="after")
    def _ordered(self) -> ScaleEnds:
        if self.max <= self.min:
            raise ValueError("scale max must be greater than min")
        return self


class Question(Section):
    """One question."""

    id: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    type: QuestionType
    label: str = Field(..., min_length=1, max_length=300)
    help: str = Field("", max_length=600)
    share_label: str = Field("", max_length=80, description="The answer's label where others see it "
                                                           "(\"Lives in\"); default: the question.")
    required: bool = False
    role: Role | None = None
    visibility: Visibility = Field("private", description="The default; optional questions let the person choose.")
    choices: list[Choice] = Field(default_factory=list)
    min_choices: int = Field(0, ge=0)
    max_choices: int | None = Field(None, ge=1)
    scale: ScaleEnds | None = None
    max_length: int | None = Field(None, ge=1, le=5000)
    location_mode: Literal["city", "postal_code"] = "city"
    reject_contact_details: bool = Field(False, description="Refuse emails, phone numbers, handles and links.")
    common: list[str] = Field(default_factory=lambda: list(COMMON_LANGUAGES),
                              description="languages questions: the codes offered as checkboxes.")

    @field_validator("role")
    @classmethod
    def _role_fits_type(cls, role: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if role is not None and kind is not None and kind not in ROLE_TYPES[role]:
            allowed = " or ".join(sorted(ROLE_TYPES[role]))
            raise ValueError(f"role {role} needs a {allowed} question, not {kind}; change the type, or choose "
                             f"another role (or none)")
        return role

    @model_validator(mode="after")
    def _shape_fits_type(self) -> Question:
        if self.type in ("single_choice", "multiple_choice"):
            if len(self.choices) < 2:
                raise ValueError(f"question '{self.id}': a {self.type} question needs at least two choices")
            values = [choice.value for choice in self.choices]
            if len(values) != len(set(values)):
                raise ValueError(f"question '{self.id}': two choices share a value")
        elif self.choices:
            raise ValueError(f"question '{self.id}': only choice questions have choices")
        if self.type == "scale" and self.scale is None:
            raise ValueError(f"question '{self.id}': a scale question needs scale: {{min, max, min_label, max_label}}")
        if self.type != "scale" and self.scale is not None:
            raise ValueError(f"question '{self.id}': only scale questions have a scale")
        if self.type in ("short_text", "long_text") and self.max_length is None:
            self.max_length = 60 if self.type == "short_text" else 600
        if self.max_choices is not None and self.max_choices < max(self.min_choices, 1):
            raise ValueError(f"question '{self.id}': max_choices is below min_choices")
        return self

    @property
    def choice_labels(self) -> dict[str, str]:
        """Choice values to labels."""
        return {choice.value: choice.label for choice in self.choices}


class QuestionnaireSection(Section):
    """One step of the questionnaire."""

    id: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    title: str = Field(..., min_length=1, max_length=120)
    intro: str = Field("", max_length=1000)
    political: bool = Field(False, description="Holds political views: needs explicit consent first.")
    questions: list[Question] = Field(..., min_length=1)


class Questionnaire(Section):
    """A versioned questionnaire."""

    id: str = Field("default", pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(..., ge=1, description="Raise it whenever questions change.")
    title: str = Field("About you", max_length=120)
    sections: list[QuestionnaireSection] = Field(..., min_length=1)

    def questions(self) -> list[Question]:
        """Every question, in order."""
        return [question for section in self.sections for question in section.questions]

    def question(self, question_id: str) -> Question | None:
        """A question by id."""
        return next((q for q in self.questions() if q.id == question_id), None)

    def section(self, section_id: str) -> QuestionnaireSection | None:
        """A section by id."""
        return next((s for s in self.sections if s.id == section_id), None)


def load_questionnaire(path: Path) -> Questionnaire:
    """Read and check a questionnaire YAML file; raise ConfigError naming the file, line and key."""
    questionnaire, located = load_yaml_document(Path(path), Questionnaire, reference="docs/questionnaire.md")
    issues: list[ConfigIssue] = []
    seen_questions: dict[str, int | None] = {}
    seen_sections: dict[str, int | None] = {}
    for s_index, section in enumerate(questionnaire.sections):
        line = located.line_for(("sections", s_index, "id"))
        if section.id in seen_sections:
            first = seen_sections[section.id]
            issues.append(ConfigIssue(located.source, line, dotted_path(("sections", s_index, "id")),
                                      f"section id '{section.id}' is used twice (first at line {first})",
                                      fix="give every section its own id"))
        seen_sections.setdefault(section.id, line)
        for q_index, question in enumerate(section.questions):
            line = located.line_for(("sections", s_index, "questions", q_index, "id"))
            if question.id in seen_questions:
                issues.append(ConfigIssue(
                    located.source, line, dotted_path(("sections", s_index, "questions", q_index, "id")),
                    f"question id '{question.id}' is used twice (first at line {seen_questions[question.id]})",
                    fix="give every question its own id; answers are stored by id, so never reuse one "
                        "for a different question"))
            seen_questions.setdefault(question.id, line)
            if question.type == "languages":
                from core.questionnaire.answers import language_names

                unknown = [code for code in question.common if code not in language_names()]
                if unknown:
                    issues.append(ConfigIssue(
                        located.source, located.line_for(("sections", s_index, "questions", q_index, "common")),
                        dotted_path(("sections", s_index, "questions", q_index, "common")), "unknown language codes",
                        expected="ISO 639-1 codes such as en, es, zh", got=", ".join(unknown)))
    if issues:
        raise ConfigError(issues)
    return questionnaire

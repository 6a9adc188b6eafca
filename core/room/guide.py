"""The conversation guide: phases, question prompts and tips, read from a YAML file and checked.

The phases' minutes must add up to `scheduling.recorded_minutes`, so the timer both participants see
and the guide agree. Errors are reported as FILE:LINE: key: problem; fix (exit code 2).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator

from core.config.documents import load_yaml_document
from core.config.errors import ConfigError, ConfigIssue
from core.config.schema import Section
from core.config.yaml_source import LocatedYaml

BUNDLED_GUIDE = Path(__file__).resolve().parent.parent.parent / "config" / "conversation_guide.yaml"
REFERENCE = "docs/conversation-guide.md"
IDENTIFIER = r"^[a-z][a-z0-9_]{0,39}$"


class Prompt(Section):
    """A question the two may ask each other."""

    id: str = Field(pattern=IDENTIFIER, description="A short id, unique in the guide (lowercase, digits, _).")
    text: str = Field(min_length=3, max_length=400, description="The question, as both see it.")
    hint: str = Field("", max_length=400, description="An optional follow-up or note shown under the question.")


class Phase(Section):
    """A part of the conversation: welcome and agreements, introductions, questions, closing."""

    id: str = Field(pattern=IDENTIFIER, description="A short id, unique in the guide.")
    title: str = Field(min_length=2, max_length=80, description="Shown as the phase's heading.")
    minutes: int = Field(ge=1, le=180, description="Planned length; all phases add up to recorded_minutes.")
    text: str = Field("", max_length=2000, description="What to do in this phase, shown to both.")
    tips: list[str] = Field(default_factory=list, description="Short tips shown during this phase.")
    prompts: list[Prompt] = Field(default_factory=list, description="Question prompts of this phase, in order.")


class Guide(Section):
    """The whole guide (config/conversation_guide.yaml)."""

    version: str = Field(min_length=1, max_length=40, description="Change it whenever the guide changes.")
    title: str = Field("Conversation guide", max_length=120, description="The guide's name.")
    phases: list[Phase] = Field(min_length=1, description="The phases, in order.")
    tips: list[str] = Field(default_factory=list, description="General tips, shown at any time.")
    cues_minutes_left: list[int] = Field(default_factory=lambda: [10, 2], description=(
        "Minutes before the end when both screens show a time cue."))

    @field_validator("cues_minutes_left")
    @classmethod
    def _cues_positive(cls, value: list[int]) -> list[int]:
        if any(minutes < 1 for minutes in value):
            raise ValueError("every time cue must be at least 1 minute before the end")
        return sorted(set(value), reverse=True)

    @property
    def total_minutes(self) -> int:
        """The phases' minutes added up."""
        return sum(phase.minutes for phase in self.phases)

    @cached_property
    def prompt_phase(self) -> dict[str, int]:
        """Each prompt id's phase index."""
        return {prompt.id: index for index, phase in enumerate(self.phases) for prompt in phase.prompts}

    def prompt(self, prompt_id: str) -> Prompt | None:
        """The prompt with that id, or None."""
        index = self.prompt_phase.get(prompt_id)
        if index is None:
            return None
        return next(prompt for prompt in self.phases[index].prompts if prompt.id == prompt_id)

    def phase_starts(self) -> list[int]:
        """The minute each phase is planned to start at."""
        starts, total = [], 0
        for phase in self.phases:
            starts.append(total)
            total += phase.minutes
        return starts


def guide_path(configured: str | None, instance_path: Path) -> Path:
    """The guide file: the configured one (relative to the instance folder), else the bundled default."""
    if not configured:
        return BUNDLED_GUIDE
    path = Path(configured)
    return path if path.is_absolute() else instance_path / path


def _duplicate_ids(guide: Guide, located: LocatedYaml) -> list[ConfigIssue]:
    """Phase ids and prompt ids used twice, each located at its second use."""
    issues: list[ConfigIssue] = []
    phases: dict[str, int] = {}
    prompts: dict[str, tuple[int, int]] = {}
    for index, phase in enumerate(guide.phases):
        if phase.id in phases:
            path = ("phases", index, "id")
            issues.append(ConfigIssue(located.source, located.line_for(path), f"phases[{index}].id",
                                      f"the phase id '{phase.id}' is used twice (first at line "
                                      f"{located.line_for(('phases', phases[phase.id], 'id'))})",
                                      fix="give each phase its own id"))
        phases.setdefault(phase.id, index)
        for number, prompt in enumerate(phase.prompts):
            path = ("phases", index, "prompts", number, "id")
            if prompt.id in prompts:
                first = located.line_for(("phases", *prompts[prompt.id][:1], "prompts", prompts[prompt.id][1], "id"))
                issues.append(ConfigIssue(located.source, located.line_for(path),
                                          f"phases[{index}].prompts[{number}].id",
                                          f"the prompt id '{prompt.id}' is used twice (first at line {first})",
                                          fix="give each prompt its own id"))
            prompts.setdefault(prompt.id, (index, number))
    return issues


def load_guide(path: Path, recorded_minutes: int) -> Guide:
    """Read and check the guide; raise ConfigError (file, line, key, fix) when it is wrong."""
    guide, located = load_yaml_document(path, Guide, REFERENCE)
    duplicates = _duplicate_ids(guide, located)
    if duplicates:
        raise ConfigError(duplicates)
    if guide.total_minutes != recorded_minutes:
        raise ConfigError([ConfigIssue(
            located.source, located.line_for(("phases",)), "phases",
            f"the phases last {guide.total_minutes} minutes in all, but scheduling.recorded_minutes is "
            f"{recorded_minutes}",
            fix=f"change the phases' `minutes:` so that they add up to {recorded_minutes}, or change "
                "scheduling.recorded_minutes in the config")])
    too_late = [minutes for minutes in guide.cues_minutes_left if minutes >= recorded_minutes]
    if too_late:
        raise ConfigError([ConfigIssue(
            located.source, located.line_for(("cues_minutes_left",)), "cues_minutes_left",
            f"a time cue {too_late[0]} minutes before the end comes before the conversation starts",
            fix=f"use cues under {recorded_minutes} minutes")])
    return guide

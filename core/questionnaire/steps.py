"""The questionnaire's steps as the progress list shows them: consent, each section, the preview."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import url_for

from core.questionnaire.definition import Questionnaire, QuestionnaireSection


@dataclass(frozen=True)
class Step:
    """One entry of the progress list."""

    key: str
    title: str
    url: str
    status: str  # done | todo | locked


def step_status(section: QuestionnaireSection, answers: Mapping[str, Any]) -> str:
    """"done" when nothing in the section needs an answer, else "todo"."""
    from core.questionnaire.store import needs_answer

    return "todo" if any(needs_answer(q, answers.get(q.id)) for q in section.questions) else "done"


def step_list(questionnaire: Questionnaire, answers: Mapping[str, Any], consented: bool) -> list[Step]:
    """Consent first, then one step per section, then the preview; steps wait for consent."""
    steps = [Step("consent", "How your answers are used", url_for("questionnaire.consent"),
                  "done" if consented else "todo")]
    for section in questionnaire.sections:
        status = step_status(section, answers) if consented else "locked"
        steps.append(Step(section.id, section.title, url_for("questionnaire.step", section_id=section.id), status))
    everything_done = consented and all(step.status == "done" for step in steps)
    steps.append(Step("preview", "What a partner sees", url_for("questionnaire.preview"),
                      "done" if everything_done else ("todo" if consented else "locked")))
    return steps

"""testkit_clash: registers a questionnaire source named 'hello', a name oss_hello already uses."""

from __future__ import annotations

from core.api import QuestionnaireSource, hookimpl


class ClashingQuestionnaire(QuestionnaireSource):
    """Same name as oss_hello's questionnaire source."""

    name = "hello"

    def questionnaire(self) -> dict[str, object]:
        """An empty questionnaire."""
        return {"version": "1", "sections": []}


@hookimpl
def register_questionnaire_sources() -> list[QuestionnaireSource]:
    """The clashing source."""
    return [ClashingQuestionnaire()]

"""Test helper: give a participant a complete profile under the default questionnaire, through the
same services the questionnaire pages use (consent, read_step, save_answers)."""

from __future__ import annotations

from typing import Any

DEFAULT_ANSWERS: dict[str, Any] = {
    "first_name": "Maria", "last_initial": "G", "age_range": "35-44", "gender": "woman",
    "location": {"country": "US", "region": "Ohio", "city": "Dayton"}, "languages": ["en"],
    "lean": "2", "party": "democratic", "politics_importance": "4",
    "issue_guns": "5", "issue_immigration": "4", "issue_climate": "5", "issue_abortion": "4", "issue_economy": "2",
    "interests": ["gardening", "cooking"], "values": ["family", "fairness"],
    "bio": "I teach fourth grade and spend weekends in my vegetable garden.",
    "time_zone": "America/New_York", "availability": ["mon-evening", "sat-morning"],
}


def answer_form(questionnaire: Any, answers: dict[str, Any], visibility: dict[str, str] | None = None) -> Any:
    """A form (MultiDict) that submits `answers` (question id -> value; location as a dict of parts)."""
    from werkzeug.datastructures import MultiDict

    from core.api import field_name

    form = MultiDict()
    for question in questionnaire.questions():
        value = answers.get(question.id)
        if question.id in (visibility or {}):
            form.add(f"v-{question.id}", visibility[question.id])
        if value is None:
            continue
        if isinstance(value, dict):
            for part, text in value.items():
                form.add(field_name(question, part), text)
        elif isinstance(value, list):
            for item in value:
                form.add(field_name(question), item)
        else:
            form.add(field_name(question), value)
    return form


def complete_profile(app: Any, user: Any, visibility: dict[str, str] | None = None, **overrides: Any) -> dict:
    """Consent and answer every question (DEFAULT_ANSWERS updated with `overrides`); return the answers.

    `visibility` maps question ids to private/partners/public (others keep the questionnaire's default).
    Raises AssertionError naming the questions whose answers were refused.
    """
    from core.api import active_questionnaire, give_consent, read_step, save_answers
    from core.db import database

    answers = {**DEFAULT_ANSWERS, **overrides}
    with app.test_request_context(), database.connection_context():
        questionnaire = active_questionnaire()
        assert questionnaire is not None, "enable the questionnaire_yaml plugin for this test"
        notice = app.extensions["oss_connect"].settings.program.privacy_notice
        give_consent(user, notice.version, notice.text)
        result = read_step(questionnaire, questionnaire.questions(), answer_form(questionnaire, answers, visibility))
        assert result.ok, f"answers refused: {result.errors}"
        save_answers(user, questionnaire, result.values)
    return answers

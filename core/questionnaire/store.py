"""Participants' answers: read the current ones, check and save a step, track completion and consent.

Answers are stored by question id and questionnaire version and never dropped: a question removed
from the questionnaire keeps its rows, and a changed question whose stored answer no longer fits is
asked again while the old row stays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from peewee import EXCLUDED

from core.db import database, utcnow
from core.models import Answer, Consent, Profile, User
from core.questionnaire.answers import EMPTY, field_name, parse_answer
from core.questionnaire.definition import VISIBILITIES, Question, Questionnaire

POLITICAL_VIEWS = "political_views"


@dataclass(frozen=True)
class StoredAnswer:
    """A participant's current answer to one question; `value` None means seen and left blank."""

    question_id: str
    value: Any
    visibility: str
    version: int


@dataclass
class StepResult:
    """The outcome of reading a step's form: values ready to save, and messages by question id."""

    values: dict[str, StoredAnswer]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when every question of the step was answered acceptably."""
        return not self.errors


def active_questionnaire() -> Questionnaire | None:
    """The questionnaire of the first enabled source (in config order) that provides one."""
    platform = current_app.extensions["oss_connect"]
    for source in platform.providers.get("questionnaire_source", {}).values():
        questionnaire = source.questionnaire()
        if questionnaire is not None:
            return questionnaire
    return None


def current_answers(user_id: int, questionnaire_id: str) -> dict[str, StoredAnswer]:
    """The newest answer per question id (removed questions included) for one participant."""
    rows = (Answer.select().where((Answer.user == user_id) & (Answer.questionnaire_id == questionnaire_id))
            .order_by(Answer.question_id, Answer.version))
    return {row.question_id: StoredAnswer(row.question_id, row.value, row.visibility, row.version) for row in rows}


IDS_PER_QUERY = 10_000
"""PostgreSQL takes at most 65,535 parameters per statement, so long id lists are read in batches."""


def answers_for_users(user_ids: Iterable[int], questionnaire_id: str,
                      question_ids: Iterable[str] | None = None) -> dict[int, dict[str, StoredAnswer]]:
    """Current answers of many participants (of only `question_ids`, when given), in batches of ids."""
    ids = list(user_ids)
    found: dict[int, dict[str, StoredAnswer]] = {user_id: {} for user_id in ids}
    wanted = Answer.questionnaire_id == questionnaire_id
    if question_ids is not None:
        wanted &= Answer.question_id.in_(list(question_ids))
    for start in range(0, len(ids), IDS_PER_QUERY):
        rows = (Answer.select(Answer.user, Answer.question_id, Answer.value, Answer.visibility, Answer.version)
                .where(Answer.user.in_(ids[start:start + IDS_PER_QUERY]) & wanted)
                .order_by(Answer.version).tuples())
        for user_id, question_id, value, visibility, version in rows:
            found[user_id][question_id] = StoredAnswer(question_id, value, visibility, version)
    return found


def needs_answer(question: Question, stored: StoredAnswer | None) -> bool:
    """True when a question is new to the participant, required but blank, or its answer no longer fits."""
    from core.questionnaire.answers import is_valid_stored

    if stored is None:
        return True
    if stored.value is None:
        return question.required
    return not is_valid_stored(question, stored.value)


def missing_questions(questionnaire: Questionnaire, answers: Mapping[str, StoredAnswer]) -> list[Question]:
    """The questions the participant still has to see (or answer again), in order."""
    return [question for question in questionnaire.questions() if needs_answer(question, answers.get(question.id))]


def read_step(questionnaire: Questionnaire, questions: Iterable[Question], form: Mapping[str, Any],
              *, allow_missing: bool = False) -> StepResult:
    """Check the submitted answers and visibility choices of some questions.

    With `allow_missing` (save and finish later) a required question left blank is not an error;
    it simply stays unanswered.
    """
    values: dict[str, StoredAnswer] = {}
    errors: dict[str, str] = {}
    for question in questions:
        visibility = form.get(visibility_field(question)) or question.visibility
        if visibility not in VISIBILITIES:
            errors[question.id] = "Choose who may see this answer from the list."
            continue
        parsed = parse_answer(question, form)
        if parsed.error and not (allow_missing and parsed.value is EMPTY and _only_missing(question, form)):
            errors[question.id] = parsed.error
            continue
        if parsed.value is EMPTY and question.required:
            continue  # finish later: leave it unanswered so it is asked again
        value = None if parsed.value is EMPTY else parsed.value
        values[question.id] = StoredAnswer(question.id, value, visibility, questionnaire.version)
    return StepResult(values, errors)


def _only_missing(question: Question, form: Mapping[str, Any]) -> bool:
    """True when the question's error is only that a required answer is missing."""
    optional = parse_answer(question.model_copy(update={"required": False}), form)
    return optional.value is EMPTY and optional.error is None


def visibility_field(question: Question) -> str:
    """The form field holding the participant's visibility choice for a question."""
    return f"v-{question.id}"


def form_fields(question: Question, stored: StoredAnswer | None) -> list[tuple[str, str]]:
    """A stored answer as the (field name, value) pairs that would submit it, to pre-fill a step."""
    fields: list[tuple[str, str]] = []
    if stored is not None:
        fields.append((visibility_field(question), stored.visibility))
    if stored is None or stored.value is None:
        return fields
    value = stored.value
    if question.type == "single_choice":
        fields.append((field_name(question), value.get("choice", "")))
        if value.get("text"):
            fields.append((field_name(question, "text"), value["text"]))
    elif question.type == "location":
        fields += [(field_name(question, part), text) for part, text in value.items()]
    elif isinstance(value, list):
        fields += [(field_name(question), item) for item in value]
    else:
        fields.append((field_name(question), str(value)))
    return fields


def save_answers(user: User, questionnaire: Questionnaire, values: Mapping[str, StoredAnswer],
                 *, source: str = "web") -> Profile:
    """Store answers under the current version, update completion, and tell the plugins."""
    now = utcnow()
    rows = [{"user": user.id, "questionnaire_id": questionnaire.id, "question_id": answer.question_id,
             "version": questionnaire.version, "value": answer.value,
             "visibility": answer.visibility, "answered_at": now} for answer in values.values()]
    with database.atomic():
        if rows:  # one statement for the whole step; a second save of a question replaces its answer
            (Answer.insert_many(rows)
             .on_conflict(conflict_target=[Answer.user, Answer.questionnaire_id, Answer.question_id, Answer.version],
                          update={Answer.value: EXCLUDED.value, Answer.visibility: EXCLUDED.visibility,
                                  Answer.answered_at: EXCLUDED.answered_at})
             .execute())
        _adopt_time_zone(user, questionnaire, values)
        profile = refresh_profile(user, questionnaire, source=source)
    if profile.completed_at is not None:
        current_app.extensions["oss_connect"].hook.questionnaire_submitted(
            participant=user, questionnaire=questionnaire, answers=current_answers(user.id, questionnaire.id))
    return profile


def _adopt_time_zone(user: User, questionnaire: Questionnaire, values: Mapping[str, StoredAnswer]) -> None:
    """The time zone a participant gives in the questionnaire becomes their account's (times show in it)."""
    for question in questionnaire.questions():
        answer = values.get(question.id)
        if question.type == "time_zone" and answer is not None and answer.value and user.time_zone != answer.value:
            User.update(time_zone=answer.value).where(User.id == user.id).execute()
            user.time_zone = answer.value


def refresh_profile(user: User, questionnaire: Questionnaire, *, source: str | None = None) -> Profile:
    """Recompute whether the participant's profile is complete under the current version."""
    profile, _ = Profile.get_or_create(user=user.id, defaults={"questionnaire_id": questionnaire.id})
    answers = current_answers(user.id, questionnaire.id)
    complete = not missing_questions(questionnaire, answers) and has_consent(user)
    profile.questionnaire_id = questionnaire.id
    profile.updated_at = utcnow()
    if source:
        profile.source = source
    if complete:
        profile.completed_version = questionnaire.version
        profile.completed_at = profile.completed_at or profile.updated_at
    else:
        profile.completed_at = None
    profile.save()
    return profile


def profile_of(user: User) -> Profile | None:
    """The participant's profile row, if they started the questionnaire."""
    return Profile.get_or_none(Profile.user == user.id)


# --- consent -------------------------------------------------------------------------------------

def text_digest(text: str) -> str:
    """SHA-256 of a consent text, stored with the consent so the exact wording can be proven."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def has_consent(user: User, purpose: str = POLITICAL_VIEWS) -> bool:
    """True while the participant's consent for `purpose` stands (given and not withdrawn)."""
    return Consent.select().where((Consent.user == user.id) & (Consent.purpose == purpose)
                                  & Consent.withdrawn_at.is_null()).exists()


def give_consent(user: User, version: str, text: str, purpose: str = POLITICAL_VIEWS) -> Consent:
    """Record an explicit consent with the text's version, its hash and the time (UTC)."""
    with database.atomic():
        existing = (Consent.select().where((Consent.user == user.id) & (Consent.purpose == purpose)
                                           & Consent.withdrawn_at.is_null()
                                           & (Consent.document_version == version)).first())
        if existing is not None:
            return existing
        return Consent.create(user=user.id, purpose=purpose, document_version=version, text_sha256=text_digest(text))


def withdraw_consent(user: User, purpose: str = POLITICAL_VIEWS) -> int:
    """Withdraw consent and erase the questionnaire answers (all were given under it); return how many."""
    with database.atomic():
        Consent.update(withdrawn_at=utcnow()).where(
            (Consent.user == user.id) & (Consent.purpose == purpose) & Consent.withdrawn_at.is_null()).execute()
        deleted = Answer.delete().where(Answer.user == user.id).execute()
        Profile.update(completed_at=None, updated_at=utcnow()).where(Profile.user == user.id).execute()
    return deleted

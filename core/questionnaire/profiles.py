"""Profiles of participants as other parts of the platform read them (matching, suggestions, emails)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import current_app

from core.db import utcnow
from core.models import Profile, User
from core.questionnaire.features import MatchingProfile, matching_profile
from core.questionnaire.sharing import SharedProfile, shared_profile
from core.questionnaire.store import active_questionnaire, answers_for_users, current_answers


def profile_for(user_id: int, audience: str) -> SharedProfile:
    """What `audience` ("partners", "public" or "self") may see of one participant."""
    questionnaire = active_questionnaire()
    if questionnaire is None:
        return shared_profile(None, {}, audience)
    return shared_profile(questionnaire, current_answers(user_id, questionnaire.id), audience)


def complete_participants() -> Any:
    """A query of the ids of active participants whose profile is complete under the current
    questionnaire (None when the site has no questionnaire); callers add their own conditions."""
    questionnaire = active_questionnaire()
    if questionnaire is None:
        return None
    return (Profile.select(Profile.user).join(User)
            .where(Profile.completed_at.is_null(False) & (Profile.questionnaire_id == questionnaire.id)
                   & (Profile.completed_version == questionnaire.version)
                   & User.is_active & (User.role == "participant")))


def complete_participant_ids() -> list[int]:
    """Active participants whose profile is complete under the current questionnaire (in SQL)."""
    query = complete_participants()
    return [] if query is None else [user_id for (user_id,) in query.tuples()]


def matching_profiles(user_ids: Iterable[int], roles: Iterable[str] | None = None) -> dict[int, MatchingProfile]:
    """`MatchingProfile`s of many participants, read in batched queries; with `roles`, only the answers
    with those matching roles are read (the rest of each profile stays empty)."""
    questionnaire = active_questionnaire()
    if questionnaire is None:
        return {}
    default_zone = current_app.extensions["oss_connect"].settings.site.default_time_zone
    question_ids = None if roles is None else [q.id for q in questionnaire.questions() if q.role in set(roles)]
    answers = answers_for_users(user_ids, questionnaire.id, question_ids)
    return {user_id: matching_profile(user_id, questionnaire, found, default_zone)
            for user_id, found in answers.items()}


def profiles_updated_since(moment: dt.datetime | None) -> tuple[list[int], dt.datetime]:
    """Ids of participants whose profile changed after `moment` (all when None), and the time of asking.

    Strategies call it to refresh the feature arrays they keep per process.
    """
    now = utcnow()
    query = Profile.select(Profile.user)
    if moment is not None:
        query = query.where(Profile.updated_at > moment)
    return [user_id for (user_id,) in query.tuples()], now

"""Who may invite whom, and whose profile for partners one may see: the same rule for every route.

A participant may invite someone only while the configured strategy suggests that person to them: the
person is among the `matching.suggestions` best the suggestions page shows right now (core's exclusion
rules, plugin vetoes and the strategy's own refusals included), so a guessed user id never reaches an
invitation or a profile. A profile is also visible between two people who already share an invitation, a
match or a conversation.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from core.matching.candidates import is_ready, may_be_suggested
from core.matching.suggestions import MatchingNotSetUpError, ranked_suggestions
from core.models import Conversation
from core.models.matching import Invitation, Match
from core.providers import Suggestion

NOT_SUGGESTED = ("This person is not among your suggestions right now, so they can't be invited. Open your "
                 "suggestions again and choose someone there.")
NOT_READY = "Complete your profile before you invite anyone."


def suggested_now(user: Any, other_id: int) -> Suggestion | None:
    """The strategy's suggestion of `other_id` to `user` if it is among those the suggestions page shows now.

    Cheap for a person who may not be suggested at all (one query and the veto hook); otherwise the same
    ranking as the page. Raises MatchingNotSetUpError when no strategy is available."""
    if other_id == user.id or not is_ready(user) or not may_be_suggested(user, other_id):
        return None
    limit = current_app.extensions["oss_connect"].settings.matching.suggestions
    return next((item for item in ranked_suggestions(user, limit) if item.user_id == other_id), None)


def may_invite(inviter: Any, candidate_id: int) -> str | None:
    """Why `inviter` may not invite `candidate_id` now (a sentence for the participant), or None when they may.

    The sentence is the same for an unknown id, a person never suggested and a vetoed one (no oracle)."""
    if not is_ready(inviter):
        return NOT_READY
    return None if suggested_now(inviter, candidate_id) is not None else NOT_SUGGESTED


def have_met(user_id: int, other_id: int) -> bool:
    """Whether the two share an invitation (either way), a match or a conversation."""
    if user_id == other_id:
        return False
    pair = {user_id, other_id}
    return (Invitation.select().where(Invitation.inviter.in_(pair) & Invitation.invitee.in_(pair)
                                      & (Invitation.inviter != Invitation.invitee)).exists()
            or Match.select().where(Match.a.in_(pair) & Match.b.in_(pair) & (Match.a != Match.b)).exists()
            or Conversation.select().where(Conversation.a.in_(pair) & Conversation.b.in_(pair)
                                           & (Conversation.a != Conversation.b)).exists())


def may_see_profile(user: Any, other_id: int) -> bool:
    """Whether `user` may see `other_id`'s profile for partners: met already, or suggested to them now."""
    if have_met(user.id, other_id):
        return True
    try:
        return suggested_now(user, other_id) is not None
    except MatchingNotSetUpError:
        return False

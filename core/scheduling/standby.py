"""Standing by: "I'm available now" for a while, and the rematch that pairs a standby participant with
someone whose partner did not come."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.mail import queue_email
from core.models import Conversation, NoShow, Standby, User
from core.realtime import notify_user
from core.scheduling.conversations import create_conversation
from core.urls import external_url


class RematchRefusedError(ValueError):
    """A standby rematch is not possible; the message says why."""


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def current_standby(user_id: int) -> Standby | None:
    """The participant's standby, while it lasts."""
    return Standby.select().where((Standby.user == user_id) & (Standby.until > utcnow())).first()


def stand_by(user_id: int) -> Standby:
    """"I'm available now": stand by from now until `standby_minutes` later (renews an earlier one)."""
    now = utcnow()
    until = now + dt.timedelta(minutes=_settings().standby_minutes)
    with database.atomic():
        Standby.delete().where(Standby.user == user_id).execute()
        return Standby.create(user=user_id, since=now, until=until)


def stop_standing_by(user_id: int) -> bool:
    """"Not any more": end the participant's standby; whether there was one."""
    return bool(Standby.delete().where(Standby.user == user_id).execute())


def standby_pool(user: Any) -> list[int]:
    """Ids standing by now who fit the matching rules for `user` (core's exclusions and plugin vetoes)."""
    from core.matching.candidates import eligible_candidate_ids

    waiting = [user_id for (user_id,) in Standby.select(Standby.user)
               .where((Standby.until > utcnow()) & (Standby.user != user.id)).order_by(Standby.since).tuples()]
    if not waiting:
        return []
    eligible = set(eligible_candidate_ids(user, among=waiting))
    return [user_id for user_id in waiting if user_id in eligible]


def standby_partners(user: Any, limit: int = 3) -> list[Any]:
    """The best standby partners for `user` by the configured strategy (Suggestion objects), best first."""
    from core.matching.suggestions import configured_strategy
    from core.questionnaire.profiles import matching_profiles

    pool = standby_pool(user)
    if not pool:
        return []
    participant = matching_profiles([user.id]).get(user.id)
    if participant is None:
        return []
    allowed, chosen = set(pool), []
    for suggestion in configured_strategy().suggest(participant, pool, limit):
        if suggestion.user_id in allowed and suggestion.user_id not in {item.user_id for item in chosen}:
            chosen.append(suggestion)
    return chosen[:limit]


def may_rematch(conversation: Conversation, user_id: int) -> bool:
    """Whether `user_id` came to `conversation` and marked the partner absent (so is offered standby partners)."""
    return NoShow.select().where((NoShow.conversation == conversation.id) & (NoShow.reporter == user_id)).exists()


def rematch(conversation: Conversation, reporter: Any, standby_id: int) -> Conversation:
    """Pair the reporter of a no-show with a standby participant in a conversation starting now; notify them.

    Only one of the partners offered to the reporter (standby_partners: the strategy's best) may be chosen,
    so a guessed id pairs nobody and reveals nothing. MatchingNotSetUpError when no strategy is available."""
    from core.questionnaire.profiles import profile_for

    if not may_rematch(conversation, reporter.id):
        raise RematchRefusedError("Only someone whose partner did not come can be paired with a standby partner.")
    marked = NoShow.get((NoShow.conversation == conversation.id) & (NoShow.reporter == reporter.id))
    mine = (Conversation.a == reporter.id) | (Conversation.b == reporter.id)
    already = Conversation.select().where(
        (Conversation.source == "standby") & (Conversation.created_at >= marked.created_at) & mine).exists()
    if already:
        raise RematchRefusedError("You already have a conversation with a standby partner: join that one.")
    if standby_id not in {item.user_id for item in standby_partners(reporter)}:  # only the partners offered
        raise RematchRefusedError("This person is no longer standing by. Choose someone else, or choose a new time.")
    with database.atomic():
        if not Standby.delete().where((Standby.user == standby_id) & (Standby.until > utcnow())).execute():
            raise RematchRefusedError("This person is no longer standing by. Choose someone else, or choose a new "
                                      "time.")
        Standby.delete().where(Standby.user == reporter.id).execute()
        fresh = create_conversation(reporter.id, standby_id, source="standby", starts_at=utcnow())
    url = external_url("no_shows.join", conversation_id=fresh.id)
    path = url.removeprefix(current_app.extensions["oss_connect"].settings.site.base_url)
    partner_name = profile_for(reporter.id, "partners").name
    notify_user(standby_id, "standby_match", {"url": path, "partner": partner_name, "conversation": fresh.id})
    standby_user = User.get_by_id(standby_id)
    queue_email(standby_user.email, "Someone is ready to talk with you now", "standby_match", partner=partner_name,
               url=url)
    return fresh

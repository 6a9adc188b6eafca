"""Conversations: created when two participants are matched (or paired on the spot), then booked."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.models import Conversation, Match


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def new_uid() -> str:
    """A calendar UID for a conversation's event (stable across updates)."""
    site = current_app.extensions["oss_connect"].settings.site.base_url.split("://", 1)[-1].split("/", 1)[0]
    return f"{uuid.uuid4()}@{site.split(':', 1)[0] or 'oss-connect'}"


def create_conversation(a_id: int, b_id: int, *, match: Match | None = None, source: str = "match",
                        starts_at: dt.datetime | None = None, live_session: Any = None) -> Conversation:
    """A conversation for two participants; with `starts_at` it is scheduled at once (standby, live)."""
    first, second = sorted((a_id, b_id))
    with database.atomic():
        return Conversation.create(
            match=match, a=first, b=second, source=source, live_session=live_session, uid=new_uid(),
            status="scheduled" if starts_at else "proposing", starts_at=starts_at,
            duration_minutes=_settings().slot_minutes, created_at=utcnow(), updated_at=utcnow())


def conversation_for_match(match: Match) -> Conversation:
    """The match's open conversation, created on first use."""
    existing = (Conversation.select().where((Conversation.match == match.id)
                                            & Conversation.status.in_(("proposing", "scheduled", "in_progress")))
                .order_by(Conversation.id.desc()).first())
    return existing or create_conversation(match.a_id, match.b_id, match=match)


def is_participant(conversation: Conversation, user_id: int) -> bool:
    """Whether `user_id` is one of the conversation's two participants."""
    return user_id in (conversation.a_id, conversation.b_id)


def partner_id(conversation: Conversation, user_id: int) -> int:
    """The other participant's id."""
    return conversation.b_id if conversation.a_id == user_id else conversation.a_id


OPEN_STATES = ("proposing", "scheduled", "in_progress")
BUSY_STATES = ("scheduled", "in_progress")


def may_view(conversation: Conversation, user: Any) -> bool:
    """Participants, the assigned facilitator and admins may see a conversation."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (is_participant(conversation, user.id) or conversation.facilitator_id == user.id
            or user.has_role("admin"))


def conversations_of(user_id: int) -> list[Conversation]:
    """Every conversation of a participant, newest first."""
    return list(Conversation.select().where((Conversation.a == user_id) | (Conversation.b == user_id))
                .order_by(Conversation.starts_at.desc(nulls="LAST"), Conversation.id.desc()))


def ends_at(conversation: Conversation) -> dt.datetime | None:
    """When the booked slot ends."""
    if conversation.starts_at is None:
        return None
    return conversation.starts_at + dt.timedelta(minutes=conversation.duration_minutes)


def busy_intervals(user_ids: list[int], *, exclude: int | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
    """Booked slots (UTC) of any of `user_ids`, except conversation `exclude`."""
    query = Conversation.select().where(
        (Conversation.a.in_(user_ids) | Conversation.b.in_(user_ids)) & Conversation.status.in_(BUSY_STATES)
        & Conversation.starts_at.is_null(False))
    if exclude is not None:
        query = query.where(Conversation.id != exclude)
    return [(row.starts_at, ends_at(row)) for row in query]

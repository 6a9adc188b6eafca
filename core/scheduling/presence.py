"""Presence: a participant who opens a conversation's join page within its window is recorded as present."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.models import Conversation, ConversationPresence

OPEN_STATES = ("scheduled", "in_progress", "no_show")


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def join_window(conversation: Conversation) -> tuple[dt.datetime, dt.datetime] | None:
    """When the join page admits participants: from `early_entry_minutes` before the start to the slot's end."""
    if conversation.starts_at is None:
        return None
    settings = _settings()
    return (conversation.starts_at - dt.timedelta(minutes=settings.early_entry_minutes),
            conversation.starts_at + dt.timedelta(minutes=settings.slot_minutes))


def window_state(conversation: Conversation, now: dt.datetime | None = None) -> str:
    """'unbooked', 'early', 'open' or 'over' for the conversation's join window at `now`."""
    window = join_window(conversation)
    if window is None or conversation.status not in OPEN_STATES:
        return "unbooked"
    now = now or utcnow()
    if now < window[0]:
        return "early"
    return "open" if now <= window[1] else "over"


def record_presence(conversation: Conversation, user_id: int) -> ConversationPresence:
    """Record that `user_id` is present now (first time kept, last time updated)."""
    now = utcnow()
    with database.atomic():
        row = ConversationPresence.get_or_none(conversation=conversation.id, user=user_id)
        if row is None:
            return ConversationPresence.create(conversation=conversation.id, user=user_id, first_seen_at=now,
                                               last_seen_at=now)
        ConversationPresence.update(last_seen_at=now).where(ConversationPresence.id == row.id).execute()
        row.last_seen_at = now
        return row


def was_present(conversation: Conversation, user_id: int) -> bool:
    """Whether `user_id` ever opened the conversation's join page within its window."""
    return ConversationPresence.select().where((ConversationPresence.conversation == conversation.id)
                                               & (ConversationPresence.user == user_id)).exists()

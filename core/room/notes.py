"""Keyword notes: the facilitator writes them during the call (timestamped with the timer); after a
conversation without a facilitator, each participant is offered the same notes (`room.participant_notes`)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from core.models import Conversation, ConversationNote, User

NOTE_MAX = 500
"""The longest note (characters)."""


def may_write_notes(conversation: Conversation, user: User, role: str) -> bool:
    """Facilitators and admins at any time; participants after a self-facilitated conversation ends."""
    if role in ("facilitator", "admin"):
        return True
    settings = current_app.extensions["oss_connect"].settings.room
    return (role == "participant" and settings.participant_notes and conversation.facilitator_id is None
            and conversation.status == "completed")


def notes_for(conversation: Conversation, user: User, role: str) -> list[Any]:
    """The notes `user` may read: their own as a participant; all of them as facilitator or admin."""
    query = ConversationNote.select().where(ConversationNote.conversation == conversation.id)
    if role == "participant":
        query = query.where(ConversationNote.author == user.id)
    return list(query.order_by(ConversationNote.offset_seconds.asc(nulls="LAST"), ConversationNote.id))

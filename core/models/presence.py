"""Presence: when each participant opened a conversation's join page (the evidence behind a no-show)."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User
from core.models.scheduling import Conversation


class ConversationPresence(BaseModel):
    """A participant was present for a conversation: first and last time they opened its join page."""

    conversation = peewee.ForeignKeyField(Conversation, backref="presences", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    first_seen_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("conversation", "user"), True),)

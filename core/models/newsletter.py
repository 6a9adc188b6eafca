"""The "Stay informed" newsletter list, with double opt-in."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow


class NewsletterSubscriber(BaseModel):
    """An address that asked for news; it counts only once confirmed from the email we sent."""

    email = peewee.CharField(max_length=254, unique=True)
    token_hash = peewee.CharField(max_length=64, index=True)
    privacy_version = peewee.CharField(max_length=40)
    created_at = UTCDateTimeField(default=utcnow)
    confirmed_at = UTCDateTimeField(null=True)
    unsubscribed_at = UTCDateTimeField(null=True)

    @property
    def is_subscribed(self) -> bool:
        """Confirmed and not unsubscribed since."""
        return self.confirmed_at is not None and self.unsubscribed_at is None

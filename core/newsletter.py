"""The "Stay informed" list: double opt-in sign-up, confirmation and unsubscription."""

from __future__ import annotations

import secrets

from flask import current_app

from core.db import database, utcnow
from core.mail import queue_email
from core.models import NewsletterSubscriber
from core.models.accounts import normalise_email
from core.security import token_digest
from core.urls import external_url


def subscribe(email: str) -> None:
    """Record the address unconfirmed and mail a confirmation link (nothing if already subscribed)."""
    email = normalise_email(email)
    program = current_app.extensions["oss_connect"].settings.program
    raw = secrets.token_urlsafe(32)
    with database.atomic():
        subscriber = NewsletterSubscriber.get_or_none(NewsletterSubscriber.email == email)
        if subscriber is not None and subscriber.is_subscribed:
            return
        if subscriber is None:
            subscriber = NewsletterSubscriber(email=email)
        subscriber.token_hash = token_digest(raw)
        subscriber.privacy_version = program.privacy_notice.version
        subscriber.unsubscribed_at = None
        subscriber.confirmed_at = None
        subscriber.save()
    queue_email(email, "Confirm your subscription", "newsletter_confirm",
                confirm_url=external_url("public.newsletter_confirm", token=raw),
                unsubscribe_url=external_url("public.newsletter_unsubscribe", token=raw))


def find(raw: str) -> NewsletterSubscriber | None:
    """The subscriber a link's token belongs to."""
    if not raw or len(raw) > 200:
        return None
    return NewsletterSubscriber.get_or_none(NewsletterSubscriber.token_hash == token_digest(raw))


def confirm(raw: str) -> NewsletterSubscriber | None:
    """Confirm the subscription behind a link."""
    subscriber = find(raw)
    if subscriber is not None and subscriber.confirmed_at is None:
        subscriber.confirmed_at = utcnow()
        subscriber.unsubscribed_at = None
        subscriber.save()
    return subscriber


def unsubscribe(raw: str) -> NewsletterSubscriber | None:
    """Stop sending news to the subscriber behind a link."""
    subscriber = find(raw)
    if subscriber is not None and subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = utcnow()
        subscriber.save()
    return subscriber

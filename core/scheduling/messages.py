"""The short message thread of two matched participants: contact details are masked before storing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.db import database, utcnow
from core.models import Match, User
from core.models.scheduling import Message
from core.text import find_contact_details, mask_contact_details

MAX_LENGTH = 2000
EMAIL_EVERY_MINUTES = 30


class MessageError(ValueError):
    """A message that cannot be sent; the text says why."""


class NotAllowedError(PermissionError):
    """The user is not one of the match's two participants."""


@dataclass(frozen=True)
class Sent:
    """A stored message and the kinds of contact detail that were hidden from it."""

    message: Message
    hidden: list[str]


def _check(match: Match, user_id: int) -> None:
    if user_id not in (match.a_id, match.b_id):
        raise NotAllowedError("not a participant of this match")


def validate(body: Any) -> str:
    """The message text, stripped; refuses an empty or overlong message with a reason."""
    text = (body if isinstance(body, str) else "").replace("\r\n", "\n").replace("\x00", "").strip()
    if not text:
        raise MessageError("Write a message before sending it.")
    if len(text) > MAX_LENGTH:
        raise MessageError(f"A message can be at most {MAX_LENGTH} characters; this one has {len(text)}.")
    return text


def send(match: Match, sender: Any, body: Any, now: dt.datetime | None = None) -> Sent:
    """Store a message with contact details masked, tell the partner (live, and by email now and then)."""
    _check(match, sender.id)
    text = validate(body)
    hidden = find_contact_details(text)
    stored = mask_contact_details(text) if hidden else text
    now = now or utcnow()
    other = match.b_id if match.a_id == sender.id else match.a_id
    with database.atomic():
        previous = (Message.select().where((Message.match == match.id) & (Message.sender == sender.id))
                    .order_by(Message.created_at.desc()).first())
        message = Message.create(match=match.id, sender=sender.id, body=stored, masked=bool(hidden), created_at=now)
    _notify(match, sender, other, message, previous, now)
    return Sent(message, hidden)


def _notify(match: Match, sender: Any, other: int, message: Message, previous: Message | None,
            now: dt.datetime) -> None:
    """A live event for the partner; an email unless the sender wrote within the last EMAIL_EVERY_MINUTES."""
    from core.mail import queue_email
    from core.models.scheduling import Conversation
    from core.questionnaire.profiles import profile_for
    from core.realtime import notify_user
    from core.urls import external_url

    conversation = Conversation.select().where(Conversation.match == match.id).order_by(Conversation.id.desc()).first()
    if conversation is None:
        return
    name = profile_for(sender.id, "partners").name
    notify_user(other, "message", {"match_id": match.id, "conversation_id": conversation.id, "from": name,
                                   "body": message.body, "created_at": message.created_at.isoformat()})
    if previous is not None and now - previous.created_at < dt.timedelta(minutes=EMAIL_EVERY_MINUTES):
        return
    recipient = User.get_or_none(User.id == other)
    if recipient is not None and recipient.is_active:
        queue_email(recipient.email, f"New message from {name}", "message", sender_name=name,
                    url=external_url("scheduling.conversation", conversation_id=conversation.id))


def thread(match: Match, user: Any) -> list[Message]:
    """The pair's messages, oldest first; only the two participants may read them."""
    _check(match, user.id)
    return list(Message.select().where(Message.match == match.id).order_by(Message.created_at, Message.id))

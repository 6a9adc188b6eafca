"""No-shows: the participant who came marks the absent one; repeat no-shows lower priority, then suspend."""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee
from flask import current_app

from core.db import database, utcnow
from core.mail import queue_email
from core.models import Conversation, NoShow, User
from core.scheduling.conversations import is_participant, partner_id
from core.scheduling.presence import was_present


class NoShowRefusedError(ValueError):
    """A no-show cannot be marked (yet); the message says why and what to do."""


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def may_mark_from(conversation: Conversation) -> dt.datetime | None:
    """The moment from which a no-show may be marked: `no_show_minutes` after the start."""
    if conversation.starts_at is None:
        return None
    return conversation.starts_at + dt.timedelta(minutes=_settings().no_show_minutes)


def existing_no_show(conversation: Conversation) -> NoShow | None:
    """The conversation's recorded no-show, if any."""
    return NoShow.select().where(NoShow.conversation == conversation.id).first()


def refusal(conversation: Conversation, reporter_id: int, now: dt.datetime | None = None) -> str | None:
    """Why `reporter_id` may not mark the partner absent now, or None when they may."""
    if not is_participant(conversation, reporter_id):
        return "Only a participant of this conversation can mark a no-show."
    if conversation.status not in ("scheduled", "in_progress"):
        return "This conversation is not waiting for anyone: there is nobody to mark absent."
    allowed_from = may_mark_from(conversation)
    if allowed_from is None:
        return "This conversation has no time yet: choose a time first."
    now = now or utcnow()
    if now < allowed_from:
        minutes = _settings().no_show_minutes
        wait = max(1, int((allowed_from - now).total_seconds() + 59) // 60)
        return (f"It is too early: a no-show can be marked {minutes} minutes after the start, "
                f"in {wait} minute{'s' if wait != 1 else ''}. Your partner may still come.")
    if not was_present(conversation, reporter_id):
        return ("Press “I'm here” on the conversation's join page first (or enter the room): only someone "
                "who came can mark a no-show.")
    if was_present(conversation, partner_id(conversation, reporter_id)):
        return "Your partner has been here: they are not a no-show."
    return None


def no_show_count(user_id: int) -> int:
    """How many no-shows were recorded against `user_id`."""
    return NoShow.select().where(NoShow.absent == user_id).count()


def low_priority_ids(ids: list[int]) -> set[int]:
    """Those of `ids` with at least `no_show_lower_priority_after` no-shows: suggested after everyone else."""
    if not ids:
        return set()
    threshold = _settings().no_show_lower_priority_after
    query = (NoShow.select(NoShow.absent).where(NoShow.absent.in_(list(ids))).group_by(NoShow.absent)
             .having(peewee.fn.COUNT(NoShow.id) >= threshold))
    return {absent_id for (absent_id,) in query.tuples()}


def mark_no_show(conversation: Conversation, reporter: Any) -> NoShow:
    """Record that the partner of `reporter` did not come; a second call returns the same record.

    Raises NoShowRefusedError (with the reason) when it is too early, the reporter was not present, or
    the partner came. Consequences for the absent one follow the config: lower priority, then suspension.
    """
    earlier = existing_no_show(conversation)
    if earlier is not None and earlier.reporter_id == reporter.id:
        return earlier
    reason = refusal(conversation, reporter.id)
    if reason:
        raise NoShowRefusedError(reason)
    absent_id = partner_id(conversation, reporter.id)
    with database.atomic():
        updated = (Conversation.update(status="no_show", updated_at=utcnow())
                   .where((Conversation.id == conversation.id)
                          & Conversation.status.in_(("scheduled", "in_progress"))).execute())
        if not updated:
            raise NoShowRefusedError("This conversation is not waiting for anyone: there is nobody to mark absent.")
        record = NoShow.create(conversation=conversation.id, reporter=reporter.id, absent=absent_id)
    conversation.status = "no_show"
    _consequences(User.get_by_id(absent_id))
    return record


def _consequences(absent: User) -> None:
    """Email the absent participant a neutral note; suspend them once they reach the configured count."""
    from core.safety import act

    settings = _settings()
    count = no_show_count(absent.id)
    suspended = count >= settings.no_show_suspend_after and absent.is_active
    if suspended:
        act(absent, None, "suspend", note=f"automatic: {count} no-shows")
    queue_email(absent.email, "You missed a conversation", "no_show", count=count, suspended=suspended,
               lower_priority=count >= settings.no_show_lower_priority_after)

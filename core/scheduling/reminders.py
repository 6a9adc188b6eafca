"""Reminders before a booked conversation (default 24 hours and 15 minutes), each sent exactly once.

Only the nearest due reminder goes out: a reminder is due from `starts_at - minutes_before` until the start,
and when several are due (a conversation booked 10 minutes ahead, or a worker that was down) only the one
with the fewest minutes is sent; the ones it overtook are dropped. A moved conversation (new `starts_at`)
gets fresh reminders, since `starts_at` is part of the key.

Exactly once: for each due reminder one transaction inserts the ReminderSent row (its unique key decides
who sends), hands the email to the mail backend in the same process, and only then commits. A crash before
the commit rolls the row back, so the next run sends again, with the same deterministic Message-ID (the
outbox rewrites the same file); a concurrent run blocks on the unique key and then skips.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

import peewee
from flask import current_app, render_template
from huey import crontab

from core.db import database, utcnow
from core.mail import send_email_job
from core.models import Conversation, ReminderSent, User
from core.scheduling.calendar import conversation_url, local_start, partner_name, recipient_zone, tech_check_url

SEND_REMINDERS_JOB = "send_reminders"
SEND_REMINDERS_NOW_JOB = "send_reminders_now"
log = logging.getLogger(__name__)


def due_reminder(starts_at: dt.datetime, now: dt.datetime, reminders: list[int]) -> int | None:
    """The `minutes_before` of the reminder due at `now` (the nearest one), or None when none is."""
    if now >= starts_at:
        return None
    due = [minutes for minutes in reminders if starts_at - dt.timedelta(minutes=minutes) <= now]
    return min(due) if due else None


def reminder_message_id(conversation_id: int, user_id: int, minutes_before: int, starts_at: dt.datetime) -> str:
    """A Message-ID fixed by the reminder's key, so a resend after a crash is the same message."""
    site = current_app.extensions["oss_connect"].settings.site
    domain = site.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    key = f"{conversation_id}:{user_id}:{minutes_before}:{_aware(starts_at).isoformat()}"
    return f"<reminder-{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _soon(minutes: int) -> str:
    if minutes >= 120:
        return f"in about {round(minutes / 60)} hours"
    if minutes >= 60:
        return "in about an hour"
    return f"in {max(minutes, 1)} minutes"


def _message(conversation: Conversation, user: User, minutes_before: int, now: dt.datetime) -> dict[str, Any]:
    """The reminder email for one participant, rendered as the send_email job's message dict."""
    zone = recipient_zone(user)
    partner = partner_name(conversation, user.id)
    left = int((_aware(conversation.starts_at) - now).total_seconds() // 60)
    subject = f"Reminder: your conversation with {partner} starts {_soon(left)}"
    context = {"subject": subject, "partner": partner, "when": local_start(conversation, zone), "zone": zone,
               "soon": _soon(left), "url": conversation_url(conversation), "tech_check_url": tech_check_url()}
    return {"to": user.email, "subject": subject, "text": render_template("email/reminder.txt", **context),
            "html": render_template("email/reminder.html", **context),
            "message_id": reminder_message_id(conversation.id, user.id, minutes_before, conversation.starts_at)}


def send_due_reminders(now: dt.datetime | None = None) -> int:
    """Send every reminder due at `now` (default: the current time) that was not sent; returns how many."""
    now = _aware(now or utcnow())
    reminders = sorted(set(current_app.extensions["oss_connect"].settings.scheduling.reminders))
    if not reminders:
        return 0
    horizon = now + dt.timedelta(minutes=max(reminders))
    conversations = list(Conversation.select()
                     .where((Conversation.status == "scheduled") & Conversation.starts_at.is_null(False)
                            & (Conversation.starts_at > now) & (Conversation.starts_at <= horizon))
                     .order_by(Conversation.starts_at))
    sent = 0
    for conversation in conversations:
        minutes = due_reminder(_aware(conversation.starts_at), now, reminders)
        if minutes is None:
            continue
        for user_id in (conversation.a_id, conversation.b_id):
            sent += _send_once(conversation, user_id, minutes, now)
    return sent


def _send_once(conversation: Conversation, user_id: int, minutes: int, now: dt.datetime) -> int:
    """One reminder in one transaction: claim the key, send, commit (a crash before the commit resends)."""
    already = ReminderSent.select().where(
        (ReminderSent.conversation == conversation.id) & (ReminderSent.user == user_id)
        & (ReminderSent.minutes_before == minutes) & (ReminderSent.starts_at == conversation.starts_at)).exists()
    if already:
        return 0
    try:
        # rendered before the transaction: building links outside a request opens (and closes) a request context
        message = _message(conversation, User.get_by_id(user_id), minutes, now)
        with database.atomic():
            ReminderSent.create(conversation=conversation.id, user=user_id, minutes_before=minutes,
                                starts_at=conversation.starts_at, sent_at=now)
            send_email_job(message)
    except peewee.IntegrityError:
        return 0  # sent already (or being sent by a concurrent run that committed first)
    except Exception:  # the mail server is down, say: nothing was claimed, the next run tries again
        log.exception("reminder for conversation %s to user %s failed; retrying next minute", conversation.id, user_id)
        return 0
    return 1


def run_reminders() -> int:
    """The job: send the reminders due now."""
    return send_due_reminders(utcnow())


def register_reminder_jobs(jobs: Any) -> None:
    """Every minute (`send_reminders`), and on demand (`send_reminders_now`, e.g. right after a booking)."""
    jobs.periodic(SEND_REMINDERS_JOB, crontab(minute="*"))(run_reminders)
    jobs.task(SEND_REMINDERS_NOW_JOB, retries=0)(run_reminders)

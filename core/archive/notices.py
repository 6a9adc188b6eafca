"""Emails about a recording's choices: "choose what happens to it" to both participants once it is
processed, and "a description waits for you" to the partner of whoever proposed one.

No message names anyone's email address: partners appear by the name they share with partners.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from core.archive.consent import deadline
from core.mail import queue_email
from core.models import Conversation, User
from core.models.archive import DescriptionProposal
from core.platform import platform
from core.questionnaire.profiles import profile_for
from core.scheduling.conversations import partner_id
from core.urls import external_url

INVITATION_SUBJECT = "Your conversation is ready: choose what happens to it"


def deposit_institutions() -> list[str]:
    """The institutions of the registered archive destinations that need the deposit consent."""
    destinations = platform().providers.get("archive_destination", {}) or {}
    names: list[str] = []
    for destination in destinations.values():
        if getattr(destination, "consent", "deposit") != "deposit":
            continue
        try:
            name = str(destination.institution)
        except Exception:  # a plugin's own failure must not break a participant's page or email
            name = str(getattr(destination, "name", "") or "")
        if name and name not in names:
            names.append(name)
    return names


def local_deadline(value: dt.datetime | None, user: User) -> str:
    """The deadline in the recipient's time zone (their account's, else the site's), e.g. for an email."""
    if value is None:
        return ""
    zone = user.time_zone or platform().settings.site.default_time_zone
    try:
        tzinfo = ZoneInfo(zone)
    except Exception:
        tzinfo, zone = ZoneInfo("UTC"), "UTC"
    return f"{format_datetime(value, 'EEEE d MMMM y, h:mm a', tzinfo=tzinfo, locale='en')} ({zone})"


def _message_id(kind: str, conversation: Conversation, *parts: Any) -> str:
    """A fixed Message-ID, so a retried job rewrites the same message instead of sending another."""
    domain = platform().settings.site.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    unique = str(conversation.uid or conversation.id).split("@", 1)[0]
    return f"<archive-{kind}.{unique}.{'.'.join(str(part) for part in parts)}@{domain}>"


def _recipient(user_id: int) -> User | None:
    user = User.get_or_none(User.id == user_id)
    return user if user is not None and user.is_active else None


def send_choices_invitation(conversation: Conversation) -> list[str]:
    """Email both participants that the recording is ready and they can choose what happens to it.

    Call once the recording is processed (the pipeline does). Returns the Message-IDs queued; sending
    again for the same conversation rewrites the same messages.
    """
    url = external_url("archive_choices.page", conversation_id=conversation.id)
    closes = deadline(conversation)
    sent = []
    for user_id in (conversation.a_id, conversation.b_id):
        recipient = _recipient(user_id)
        if recipient is None:
            continue
        partner = profile_for(partner_id(conversation, user_id), "partners").name
        sent.append(queue_email(recipient.email, INVITATION_SUBJECT, "archive_choices_invitation",
                               message_id=_message_id("choices", conversation, user_id), url=url,
                               partner_name=partner, deadline=local_deadline(closes, recipient),
                               institutions=deposit_institutions(), organisation=platform().settings.site.organisation))
    return sent


def send_proposal_waiting(conversation: Conversation, proposal: DescriptionProposal) -> str | None:
    """Email the proposer's partner that a proposed description waits for their approval."""
    recipient = _recipient(partner_id(conversation, proposal.proposer_id))
    if recipient is None:
        return None
    proposer = profile_for(proposal.proposer_id, "partners").name
    url = external_url("archive_choices.page", conversation_id=conversation.id) + "#description"
    return queue_email(recipient.email, f"{proposer} proposed a description of your conversation", "archive_proposal",
                      message_id=_message_id("proposal", conversation, proposal.id), url=url,
                      proposer_name=proposer, title=proposal.title, summary=proposal.summary)

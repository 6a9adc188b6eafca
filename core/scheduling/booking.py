"""Booking a conversation: propose a time, confirm it, reschedule, cancel, accept the agreements.

Each function is one transaction and checks who may call it. Refusals raise `BookingError` with a
message for the person; someone who is not a participant gets `NotAllowedError` (the views answer 404).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.models import User
from core.models.scheduling import AgreementAcceptance, Conversation, SlotProposal
from core.questionnaire.profiles import profile_for
from core.scheduling import calendar, slots
from core.scheduling.conversations import BUSY_STATES, busy_intervals, is_participant, partner_id
from core.timezones import usable_time_zone

LEAD_MINUTES = 120
GRID_MINUTES = 30


class BookingError(ValueError):
    """A request that cannot be done; the message says why and what to do instead."""


class NotAllowedError(PermissionError):
    """The user is not a participant of this conversation."""


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def _require_participant(conversation: Conversation, user: Any) -> None:
    if not is_participant(conversation, user.id):
        raise NotAllowedError("not a participant of this conversation")


def availability_of(user_id: int) -> slots.Availability:
    """A participant's weekly availability and time zone, from their current questionnaire answers."""
    from core.questionnaire.store import active_questionnaire, current_answers

    zone = current_app.extensions["oss_connect"].settings.site.default_time_zone
    chosen: list[str] = []
    questionnaire = active_questionnaire()
    if questionnaire is not None:
        answers = current_answers(user_id, questionnaire.id)
        for question in questionnaire.questions():
            stored = answers.get(question.id)
            if stored is None or stored.value is None:
                continue
            if question.type == "time_zone":
                zone = usable_time_zone(stored.value, zone)
            elif question.role == "availability":
                chosen = list(stored.value)
    user = User.get_or_none(User.id == user_id)
    if user is not None and user.time_zone:
        zone = usable_time_zone(user.time_zone, zone)
    return slots.Availability(frozenset(chosen), zone, profile_for(user_id, "partners").name)


def options_for(conversation: Conversation, now: dt.datetime | None = None) -> list[dt.datetime]:
    """Well-spread start times that fit both participants (UTC), for the "Propose a time" form."""
    settings = _settings()
    first, second = availability_of(conversation.a_id), availability_of(conversation.b_id)
    busy = busy_intervals([conversation.a_id, conversation.b_id], exclude=conversation.id)
    booked = conversation.starts_at if conversation.status == "scheduled" else None
    starts = slots.candidate_starts(first, second, now=now or utcnow(), slot_minutes=conversation.duration_minutes,
                                    horizon_days=settings.horizon_days, lead_minutes=LEAD_MINUTES,
                                    grid_minutes=GRID_MINUTES, busy=busy)
    return slots.spread([start for start in starts if start != booked], settings.proposals, first.time_zone)


def has_started(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    """Whether the booked conversation has begun (or is over)."""
    if conversation.status in ("in_progress", "completed", "no_show"):
        return True
    return conversation.status == "scheduled" and conversation.starts_at is not None and \
        conversation.starts_at <= (now or utcnow())


def _check_changeable(conversation: Conversation, now: dt.datetime) -> None:
    if conversation.status == "cancelled":
        raise BookingError("This conversation was cancelled; it cannot be booked again.")
    if has_started(conversation, now):
        raise BookingError("This conversation has already started, so its time can no longer be changed.")


def _check_slot(conversation: Conversation, user: Any, starts_at: dt.datetime, now: dt.datetime) -> None:
    """Refuse a start that is past, outside either availability, or overlapping another booking."""
    if starts_at <= now:
        raise BookingError("That time is in the past; choose a time from now on.")
    minutes = conversation.duration_minutes
    for user_id in (user.id, partner_id(conversation, user.id)):
        availability = availability_of(user_id)
        if not slots.fits(availability, starts_at, minutes):
            whose = "your" if user_id == user.id else f"{availability.name}'s"
            raise BookingError(f"That time is outside {whose} availability ({minutes} minutes from the start); "
                               "choose one of the suggested times.")
    finish = starts_at + dt.timedelta(minutes=minutes)
    for user_id in (user.id, partner_id(conversation, user.id)):
        if slots.overlaps(busy_intervals([user_id], exclude=conversation.id), starts_at, finish):
            whose = "you have" if user_id == user.id else f"{profile_for(user_id, 'partners').name} has"
            raise BookingError(f"That time overlaps another conversation {whose} booked; choose another time.")


def propose(conversation: Conversation, user: Any, starts_at: dt.datetime,
            now: dt.datetime | None = None) -> SlotProposal:
    """`user` proposes a start time; the partner confirms it. The same open proposal twice is one proposal."""
    _require_participant(conversation, user)
    now = now or utcnow()
    starts_at = starts_at.astimezone(dt.UTC).replace(second=0, microsecond=0)
    with database.atomic():
        conversation = Conversation.get_by_id(conversation.id)
        _check_changeable(conversation, now)
        if conversation.status == "scheduled" and conversation.starts_at == starts_at:
            raise BookingError("The conversation is already booked at that time.")
        _check_slot(conversation, user, starts_at, now)
        existing = (SlotProposal.select().where((SlotProposal.conversation == conversation.id)
                                                & (SlotProposal.starts_at == starts_at)
                                                & (SlotProposal.status == "proposed")).first())
        if existing is not None:
            return existing
        proposal = SlotProposal.create(conversation=conversation.id, proposer=user.id, starts_at=starts_at,
                                       created_at=now)
    _tell_partner(conversation, user, proposal)
    return proposal


def _tell_partner(conversation: Conversation, user: Any, proposal: SlotProposal) -> None:
    """The partner learns of a proposed time: live, and by email with the time in their own zone."""
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime

    from core.mail import queue_email
    from core.realtime import notify_user
    from core.urls import external_url

    other = partner_id(conversation, user.id)
    name = profile_for(user.id, "partners").name
    url = external_url("scheduling.conversation", conversation_id=conversation.id)
    zone = availability_of(other).time_zone
    when = format_datetime(proposal.starts_at, "full", tzinfo=ZoneInfo(zone), locale="en")
    notify_user(other, "proposal", {"conversation_id": conversation.id, "from": name,
                                    "starts_at": proposal.starts_at.isoformat(), "url": url})
    recipient = User.get_or_none(User.id == other)
    if recipient is not None and recipient.is_active:
        queue_email(recipient.email, f"{name} proposed a time for your conversation", "message_proposal",
                    sender_name=name, when=when, url=url)


def agreements_text_hash() -> str:
    """The sha256 of the configured agreements text."""
    return hashlib.sha256(_settings().agreements.text.encode("utf-8")).hexdigest()


def has_accepted(conversation: Conversation, user_id: int) -> bool:
    """Whether `user_id` accepted the current version of the agreements for this conversation."""
    return AgreementAcceptance.select().where(
        (AgreementAcceptance.conversation == conversation.id) & (AgreementAcceptance.user == user_id)
        & (AgreementAcceptance.version == _settings().agreements.version)).exists()


def accept_agreements(conversation: Conversation, user: Any) -> AgreementAcceptance:
    """Record that `user` accepts the current agreements (version and text hash); accepting again is a no-op."""
    _require_participant(conversation, user)
    version = _settings().agreements.version
    with database.atomic():
        found = AgreementAcceptance.get_or_none(
            (AgreementAcceptance.conversation == conversation.id) & (AgreementAcceptance.user == user.id)
            & (AgreementAcceptance.version == version))
        if found is not None:
            return found
        return AgreementAcceptance.create(conversation=conversation.id, user=user.id, version=version,
                                          text_sha256=agreements_text_hash(), accepted_at=utcnow())


def confirm(proposal: SlotProposal, user: Any, now: dt.datetime | None = None) -> Conversation:
    """The partner of the proposer confirms: the conversation is booked (or moved). Twice is a no-op."""
    conversation = Conversation.get_by_id(proposal.conversation_id)
    _require_participant(conversation, user)
    now = now or utcnow()
    moved = False
    with database.atomic():
        proposal = SlotProposal.get_by_id(proposal.id)
        conversation = Conversation.get_by_id(conversation.id)
        if proposal.status == "confirmed" and conversation.status in BUSY_STATES \
                and conversation.starts_at == proposal.starts_at:
            return conversation
        if proposal.proposer_id == user.id:
            raise BookingError("You proposed this time; your partner confirms it.")
        if proposal.status != "proposed":
            raise BookingError("This proposal is no longer open; choose or propose another time.")
        _check_changeable(conversation, now)
        missing = [uid for uid in (conversation.a_id, conversation.b_id) if not has_accepted(conversation, uid)]
        if user.id in missing:
            raise BookingError("Accept the conversation agreements first; then confirm the time.")
        if missing:
            name = profile_for(partner_id(conversation, user.id), "partners").name
            raise BookingError(f"{name} has not accepted the conversation agreements yet; the time can be "
                               "confirmed once they have.")
        _check_slot(conversation, user, proposal.starts_at, now)
        moved = conversation.status == "scheduled"
        (SlotProposal.update(status="superseded")
         .where((SlotProposal.conversation == conversation.id) & (SlotProposal.id != proposal.id)
                & (SlotProposal.status.in_(("proposed", "confirmed")))).execute())
        proposal.status = "confirmed"
        proposal.save()
        conversation.status = "scheduled"
        conversation.starts_at = proposal.starts_at
        conversation.sequence = conversation.sequence + 1 if moved else conversation.sequence
        conversation.updated_at = now
        conversation.save()
    calendar.notify_calendar(conversation, "REQUEST")
    return conversation


def reschedule(conversation: Conversation, user: Any, starts_at: dt.datetime,
               now: dt.datetime | None = None) -> SlotProposal:
    """Propose a new time for a booked conversation (the partner confirms it); refused once it started."""
    return propose(conversation, user, starts_at, now=now)


def withdraw(proposal: SlotProposal, user: Any) -> None:
    """The proposer takes back an open proposal."""
    conversation = Conversation.get_by_id(proposal.conversation_id)
    _require_participant(conversation, user)
    if proposal.proposer_id != user.id:
        raise BookingError("Only the person who proposed a time can withdraw it.")
    (SlotProposal.update(status="withdrawn")
     .where((SlotProposal.id == proposal.id) & (SlotProposal.status == "proposed")).execute())


def cancel(conversation: Conversation, user: Any, reason: str = "", now: dt.datetime | None = None) -> Conversation:
    """Cancel the conversation (either participant, before it starts); the calendar event is cancelled."""
    _require_participant(conversation, user)
    now = now or utcnow()
    with database.atomic():
        conversation = Conversation.get_by_id(conversation.id)
        if conversation.status == "cancelled":
            return conversation
        _check_changeable(conversation, now)
        was_booked = conversation.status == "scheduled"
        conversation.status = "cancelled"
        conversation.sequence += 1
        conversation.updated_at = now
        conversation.save()
        (SlotProposal.update(status="withdrawn")
         .where((SlotProposal.conversation == conversation.id) & (SlotProposal.status == "proposed")).execute())
    current_app.logger.info("conversation %s cancelled by %s: %s", conversation.id, user.id, reason[:200])
    if was_booked:
        calendar.notify_calendar(conversation, "CANCEL")
    return conversation

"""Scheduling: the conversation a match leads to, the times proposed for it, the pair's messages,
accepted agreements, reminders sent, no-shows, standby availability and live sessions."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User
from core.models.matching import Cohort, Match

CONVERSATION_STATES = ("proposing", "scheduled", "in_progress", "completed", "cancelled", "no_show")


class LiveSession(BaseModel):
    """An admin-run session (say, Thursday 7 pm): people present in its waiting room are paired at the start."""

    title = peewee.CharField(max_length=120)
    starts_at = UTCDateTimeField(index=True)
    region = peewee.CharField(max_length=80, default="")
    cohort = peewee.ForeignKeyField(Cohort, null=True, on_delete="SET NULL", backref="live_sessions")
    status = peewee.CharField(max_length=12, default="open")  # open | paired | cancelled
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    paired_at = UTCDateTimeField(null=True)


class LiveRsvp(BaseModel):
    """A participant's RSVP to a live session, and when they were last seen in its waiting room."""

    session = peewee.ForeignKeyField(LiveSession, backref="rsvps", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="live_rsvps", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    present_at = UTCDateTimeField(null=True)
    outcome = peewee.CharField(max_length=12, default="")  # "" | paired | left_over

    class Meta:
        indexes = ((("session", "user"), True),)


class Conversation(BaseModel):
    """The recorded conversation of two matched participants: when it is, and how it went.

    `uid` and `sequence` identify its calendar event: every change sends an update with the same UID
    and a higher SEQUENCE.
    """

    match = peewee.ForeignKeyField(Match, null=True, backref="conversations", on_delete="SET NULL")
    a = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    b = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    status = peewee.CharField(max_length=12, default="proposing", index=True)
    starts_at = UTCDateTimeField(null=True, index=True)
    duration_minutes = peewee.IntegerField(default=75)
    uid = peewee.CharField(max_length=120, unique=True)
    sequence = peewee.IntegerField(default=0)
    source = peewee.CharField(max_length=12, default="match")  # match | standby | live
    live_session = peewee.ForeignKeyField(LiveSession, null=True, on_delete="SET NULL", backref="conversations")
    facilitator = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class SlotProposal(BaseModel):
    """A start time one participant proposed; the other confirms it (then the conversation is booked)."""

    conversation = peewee.ForeignKeyField(Conversation, backref="proposals", on_delete="CASCADE")
    proposer = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    starts_at = UTCDateTimeField()
    status = peewee.CharField(max_length=12, default="proposed")  # proposed | confirmed | withdrawn | superseded
    created_at = UTCDateTimeField(default=utcnow)


class Message(BaseModel):
    """A message between two matched participants; contact details are masked before it is stored."""

    match = peewee.ForeignKeyField(Match, backref="messages", on_delete="CASCADE")
    sender = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    body = peewee.TextField()
    masked = peewee.BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow, index=True)


class AgreementAcceptance(BaseModel):
    """A participant accepted the conversation agreements (text version and hash) for one conversation."""

    conversation = peewee.ForeignKeyField(Conversation, backref="agreements", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    version = peewee.CharField(max_length=40)
    text_sha256 = peewee.CharField(max_length=64)
    accepted_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("conversation", "user", "version"), True),)


class ReminderSent(BaseModel):
    """A reminder went out; the unique key makes each reminder exactly once, whatever the job does."""

    conversation = peewee.ForeignKeyField(Conversation, backref="reminders", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    minutes_before = peewee.IntegerField()
    starts_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("conversation", "user", "minutes_before", "starts_at"), True),)


class NoShow(BaseModel):
    """One participant came and marked the other absent."""

    conversation = peewee.ForeignKeyField(Conversation, backref="no_shows", on_delete="CASCADE")
    reporter = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    absent = peewee.ForeignKeyField(User, backref="no_shows", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("conversation", "absent"), True),)


class Standby(BaseModel):
    """"I'm available now": a participant ready to step in for a no-show, until `until`."""

    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE", unique=True)
    since = UTCDateTimeField(default=utcnow)
    until = UTCDateTimeField(index=True)

"""The conversation room: the provider's call room, the shared state of the guide and the recording,
consents to record, recording events, who is connected, and keyword notes."""

from __future__ import annotations

import peewee

from core.db import BaseModel, JSONField, UTCDateTimeField, utcnow
from core.models.accounts import User
from core.models.scheduling import Conversation

RECORDING_STATES = ("off", "recording", "paused", "stopped")


class CallRoomRecord(BaseModel):
    """The room a call provider created for a conversation (`CallRoom` in the provider API)."""

    conversation = peewee.ForeignKeyField(Conversation, backref="call_rooms", on_delete="CASCADE")
    provider = peewee.CharField(max_length=60)
    name = peewee.CharField(max_length=200, unique=True)
    data = JSONField(default=dict)
    created_at = UTCDateTimeField(default=utcnow)
    ended_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "call_room"
        indexes = ((("conversation", "provider"), True),)


class RoomState(BaseModel):
    """What both screens show: phase, prompt, timer and recording, with a version that only goes up.

    The timer counts conversation time: it runs from the first start (recording or "begin without
    recording") and stands still while the recording is paused.
    """

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE", unique=True)
    version = peewee.IntegerField(default=0)
    guide_version = peewee.CharField(max_length=40, default="")
    phase = peewee.IntegerField(default=0)
    prompt = peewee.CharField(max_length=40, default="")
    asked = JSONField(default=list)
    passed = JSONField(default=list)
    timer_started_at = UTCDateTimeField(null=True)
    timer_running_since = UTCDateTimeField(null=True)
    timer_accumulated = peewee.FloatField(default=0.0)
    recording = peewee.CharField(max_length=10, default="off")
    recording_changed_at = UTCDateTimeField(null=True)
    recording_changed_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    last_cue = JSONField(null=True)
    ended_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "room_state"


class RecordingConsent(BaseModel):
    """A participant agreed, in the room, to be recorded: the release text's version and hash, and when."""

    conversation = peewee.ForeignKeyField(Conversation, backref="recording_consents", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    release_version = peewee.CharField(max_length=40)
    release_sha256 = peewee.CharField(max_length=64)
    consented_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_consent"
        indexes = ((("conversation", "user", "release_version"), True),)


class RecordingEvent(BaseModel):
    """The recording started, paused, resumed or stopped: who, when, and at which conversation second."""

    conversation = peewee.ForeignKeyField(Conversation, backref="recording_events", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = peewee.CharField(max_length=10)  # start | pause | resume | stop
    at = UTCDateTimeField(default=utcnow)
    elapsed_seconds = peewee.FloatField(default=0.0)

    class Meta:
        table_name = "recording_event"


class RoomConnection(BaseModel):
    """An open Socket.IO connection admitted to a conversation's room (removed when it disconnects)."""

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    sid = peewee.CharField(max_length=64, unique=True)
    role = peewee.CharField(max_length=12)
    connected_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "room_connection"


class ConversationNote(BaseModel):
    """A keyword note: by the facilitator during the call (timestamped), or by a participant afterwards."""

    conversation = peewee.ForeignKeyField(Conversation, backref="notes", on_delete="CASCADE")
    author = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    offset_seconds = peewee.FloatField(null=True)
    keywords = peewee.TextField()
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "conversation_note"

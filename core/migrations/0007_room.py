"""The conversation room: call rooms, room state, consents to record, recording events, connections, notes."""

import datetime

from peewee import (
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    now = datetime.datetime.utcnow

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class Conversation(Base):
        class Meta:
            table_name = "conversation"

    class CallRoom(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        provider = CharField(max_length=60)
        name = CharField(max_length=200, unique=True)
        data = TextField(null=True)
        created_at = DateTimeField(default=now)
        ended_at = DateTimeField(null=True)

        class Meta:
            table_name = "call_room"
            indexes = ((("conversation", "provider"), True),)

    class RoomState(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+", unique=True)
        version = IntegerField(default=0)
        guide_version = CharField(max_length=40, default="")
        phase = IntegerField(default=0)
        prompt = CharField(max_length=40, default="")
        asked = TextField(null=True)
        passed = TextField(null=True)
        timer_started_at = DateTimeField(null=True)
        timer_running_since = DateTimeField(null=True)
        timer_accumulated = FloatField(default=0.0)
        recording = CharField(max_length=10, default="off")
        recording_changed_at = DateTimeField(null=True)
        recording_changed_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        last_cue = TextField(null=True)
        ended_at = DateTimeField(null=True)
        updated_at = DateTimeField(default=now)

        class Meta:
            table_name = "room_state"

    class RecordingConsent(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        release_version = CharField(max_length=40)
        release_sha256 = CharField(max_length=64)
        consented_at = DateTimeField(default=now)

        class Meta:
            table_name = "recording_consent"
            indexes = ((("conversation", "user", "release_version"), True),)

    class RecordingEvent(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        action = CharField(max_length=10)
        at = DateTimeField(default=now)
        elapsed_seconds = FloatField(default=0.0)

        class Meta:
            table_name = "recording_event"

    class RoomConnection(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        sid = CharField(max_length=64, unique=True)
        role = CharField(max_length=12)
        connected_at = DateTimeField(default=now)

        class Meta:
            table_name = "room_connection"

    class ConversationNote(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        author = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        offset_seconds = FloatField(null=True)
        keywords = TextField()
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "conversation_note"

    db.create_tables([CallRoom, RoomState, RecordingConsent, RecordingEvent, RoomConnection, ConversationNote])


def down(migrator, db):
    for table in ("conversation_note", "room_connection", "recording_event", "recording_consent", "room_state",
                  "call_room"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

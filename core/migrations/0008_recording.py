"""Recordings: tracks, uploaded chunks and processed outputs."""

import datetime

from peewee import (
    BigIntegerField,
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

    class Recording(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+", unique=True)
        status = CharField(max_length=12, default="open")
        started_at = DateTimeField(default=now)
        stopped_at = DateTimeField(null=True)
        lease_owner = CharField(max_length=200, null=True)
        lease_until = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        progress = FloatField(default=0.0)
        progress_label = CharField(max_length=200, default="")
        error = TextField(null=True)
        notes = TextField(default="")
        processed_at = DateTimeField(null=True)
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "recording"

    class RecordingTrack(Base):
        recording = ForeignKeyField(Recording, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        source = CharField(max_length=10, default="browser")
        mime_type = CharField(max_length=100, default="audio/webm")
        started_at = DateTimeField(default=now)
        timeline_seconds = FloatField(default=0.0)
        chunk_total = IntegerField(null=True)
        finished_at = DateTimeField(null=True)
        provider_ref = CharField(max_length=500, null=True)
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "recording_track"

    class RecordingChunk(Base):
        track = ForeignKeyField(RecordingTrack, on_delete="CASCADE", backref="+")
        sequence = IntegerField()
        size = IntegerField()
        sha256 = CharField(max_length=64)
        blob_key = CharField(max_length=300)
        received_at = DateTimeField(default=now)

        class Meta:
            table_name = "recording_chunk"
            indexes = ((("track", "sequence"), True),)

    class RecordingOutput(Base):
        recording = ForeignKeyField(Recording, on_delete="CASCADE", backref="+")
        name = CharField(max_length=60)
        kind = CharField(max_length=10)
        track = ForeignKeyField(RecordingTrack, null=True, on_delete="SET NULL", backref="+")
        blob_key = CharField(max_length=300)
        content_type = CharField(max_length=60)
        size = BigIntegerField()
        sha256 = CharField(max_length=64)
        duration_seconds = FloatField(null=True)
        channels = IntegerField(null=True)
        sample_rate = IntegerField(null=True)
        loudness_lufs = FloatField(null=True)
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "recording_output"
            indexes = ((("recording", "name"), True),)

    db.create_tables([Recording, RecordingTrack, RecordingChunk, RecordingOutput])


def down(migrator, db):
    for table in ("recording_output", "recording_chunk", "recording_track", "recording"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

"""Recordings: one per conversation, its tracks (one per take of each participant's browser, or a
provider's file), the chunks each browser uploaded, and the files the processing made."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User
from core.models.scheduling import Conversation

RECORDING_STATUSES = ("open", "processing", "processed", "failed")
"""open: uploads accepted; processing: a worker holds the lease; processed: outputs made; failed: see error."""

OUTPUT_KINDS = ("original", "master", "flac", "access")


class Recording(BaseModel):
    """A conversation's recording, from its first start to its archival master."""

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE", unique=True)
    status = peewee.CharField(max_length=12, default="open")
    started_at = UTCDateTimeField(default=utcnow)
    stopped_at = UTCDateTimeField(null=True)
    lease_owner = peewee.CharField(max_length=200, null=True)
    lease_until = UTCDateTimeField(null=True)
    attempts = peewee.IntegerField(default=0)
    progress = peewee.FloatField(default=0.0)
    progress_label = peewee.CharField(max_length=200, default="")
    error = peewee.TextField(null=True)
    notes = peewee.TextField(default="")
    processed_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "recording"


class RecordingTrack(BaseModel):
    """One take: a MediaRecorder run in a participant's browser, or a file from the call provider."""

    recording = peewee.ForeignKeyField(Recording, backref="tracks", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    source = peewee.CharField(max_length=10, default="browser")  # browser | provider
    mime_type = peewee.CharField(max_length=100, default="audio/webm")
    started_at = UTCDateTimeField(default=utcnow)
    timeline_seconds = peewee.FloatField(default=0.0)
    chunk_total = peewee.IntegerField(null=True)
    finished_at = UTCDateTimeField(null=True)
    provider_ref = peewee.CharField(max_length=500, null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_track"


class RecordingChunk(BaseModel):
    """A chunk a browser uploaded, held under a key that names its checksum."""

    track = peewee.ForeignKeyField(RecordingTrack, backref="chunks", on_delete="CASCADE")
    sequence = peewee.IntegerField()
    size = peewee.IntegerField()
    sha256 = peewee.CharField(max_length=64)
    blob_key = peewee.CharField(max_length=300)
    received_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_chunk"
        indexes = ((("track", "sequence"), True),)


class RecordingOutput(BaseModel):
    """A file the processing made: a track's byte-exact original, the master, the FLAC, the access copy."""

    recording = peewee.ForeignKeyField(Recording, backref="outputs", on_delete="CASCADE")
    name = peewee.CharField(max_length=60)  # track-<id> | master | flac | access
    kind = peewee.CharField(max_length=10)
    track = peewee.ForeignKeyField(RecordingTrack, null=True, backref="+", on_delete="SET NULL")
    blob_key = peewee.CharField(max_length=300)
    content_type = peewee.CharField(max_length=60)
    size = peewee.BigIntegerField()
    sha256 = peewee.CharField(max_length=64)
    duration_seconds = peewee.FloatField(null=True)
    channels = peewee.IntegerField(null=True)
    sample_rate = peewee.IntegerField(null=True)
    loudness_lufs = peewee.FloatField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "recording_output"
        indexes = ((("recording", "name"), True),)

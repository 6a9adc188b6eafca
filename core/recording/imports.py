"""Recordings made outside the room (a field recorder at an in-person conversation, the demo): each
participant's track handed in as one Opus file, kept byte-exact and processed exactly like the tracks
the browsers upload (one chunk per track)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import peewee

from core.db import database, utcnow
from core.models import Conversation
from core.models.recording import Recording, RecordingChunk, RecordingTrack
from core.platform import platform
from core.recording.keys import chunk_key
from core.recording.webm import NotAudio, check_first_chunk

CONTENT_TYPES = {"ogg": "audio/ogg;codecs=opus", "webm": "audio/webm;codecs=opus"}
ALREADY = "conversation {id} already has a recording; delete it from Admin → Recordings first to replace it"


class RecordingImportError(ValueError):
    """A recording cannot be taken in; the message says what is wrong and how to fix it."""


def import_recording(conversation: Conversation, tracks: Mapping[int, Path | str]) -> Recording:
    """Take in `tracks` (a participant's user id -> an Opus file in Ogg or WebM) as the conversation's
    recording, placed at the conversation's start; returns the recording, ready to be processed.

    Raises RecordingImportError for a conversation that already has a recording, a track of someone
    who is not one of its two participants, or a file that is not Opus audio."""
    participants = {conversation.a_id, conversation.b_id}
    if not tracks:
        raise RecordingImportError("give at least one participant's track")
    strangers = set(tracks) - participants
    if strangers:
        raise RecordingImportError(f"user {min(strangers)} is not a participant of conversation {conversation.id}; "
                                   f"give tracks of users {conversation.a_id} and {conversation.b_id} only")
    if Recording.get_or_none(Recording.conversation == conversation.id) is not None:
        raise RecordingImportError(ALREADY.format(id=conversation.id))
    files = {user_id: _read(Path(path)) for user_id, path in tracks.items()}
    now = utcnow()
    blobs, written = platform().blobs, []
    try:
        with database.atomic():
            recording = Recording.create(conversation=conversation.id, started_at=conversation.starts_at,
                                         stopped_at=now)
            for user_id in sorted(files):
                container, data = files[user_id]
                track = RecordingTrack.create(recording=recording.id, user=user_id, source="browser",
                                              mime_type=CONTENT_TYPES[container], started_at=conversation.starts_at,
                                              timeline_seconds=0.0, chunk_total=1, finished_at=now)
                sha256 = hashlib.sha256(data).hexdigest()
                key = chunk_key(recording.id, track.id, 0, sha256)
                blobs.put_bytes(key, data)
                written.append(key)
                RecordingChunk.create(track=track.id, sequence=0, size=len(data), sha256=sha256, blob_key=key)
            (Conversation.update(status="completed", updated_at=now)  # it took place
             .where((Conversation.id == conversation.id) & Conversation.status.in_(("scheduled", "in_progress")))
             .execute())
    except peewee.IntegrityError:  # another import of the same conversation won
        _delete(blobs, written)
        raise RecordingImportError(ALREADY.format(id=conversation.id)) from None
    except BaseException:
        _delete(blobs, written)
        raise
    return recording


def _delete(blobs: Any, keys: list[str]) -> None:
    """Remove the files of an import whose rows the rolled-back transaction took away."""
    for key in keys:
        blobs.delete(key)


def _read(path: Path) -> tuple[str, bytes]:
    """The file's container ("ogg" or "webm") and bytes; RecordingImportError when it is not Opus audio."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RecordingImportError(f"cannot read {path} ({error.strerror})") from None
    try:
        return check_first_chunk(data), data
    except NotAudio as error:
        raise RecordingImportError(f"{path} is not Opus audio in Ogg or WebM ({error}); convert it first, e.g. "
                                   f"`ffmpeg -i {path.name} -c:a libopus -b:a 96k track.ogg`") from None

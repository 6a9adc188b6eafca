"""Taking in the recorder's uploads: tracks, chunks checked by size, checksum and content, and finishes.

A track is one MediaRecorder run in one participant's browser. A reload or a crash starts a new run
whose WebM stream has its own header, so it becomes a new track of the same participant, placed on
the timeline by its start. Chunks are idempotent by (track, sequence): the same bytes again change
nothing; different bytes at a held sequence are refused and the held chunk is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import peewee
from limits import parse_many

from core.db import database, utcnow
from core.models import Conversation, User
from core.models.recording import Recording, RecordingChunk, RecordingTrack
from core.platform import platform
from core.recording.keys import chunk_key
from core.recording.webm import NotAudio, check_continuation_chunk, check_first_chunk
from core.room.state import elapsed_seconds, room_state
from core.scheduling.presence import join_window

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CLOCK_TOLERANCE = dt.timedelta(seconds=30)
ACCEPTED_MIME = re.compile(r"^audio/(webm|ogg)(;\s*codecs=\"?(opus|vorbis)\"?)?$", re.IGNORECASE)


class UploadError(Exception):
    """The upload cannot be taken: an HTTP status, a code word and a sentence for the participant."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class ChunkReceipt:
    """What became of a chunk: stored now or already held, and every sequence the track holds."""

    stored: bool
    held: list[int]


def settings() -> Any:
    """The `recording:` settings."""
    return platform().settings.recording


def max_sequences() -> int:
    """How many chunks a track may have: the longest recording over the timeslice, plus a margin."""
    recording = settings()
    return (recording.max_minutes * 60) // recording.timeslice_seconds + 2


def max_take_bytes() -> int:
    """The most bytes one take may hold: the longest recording at the highest bitrate, plus 5% for the WebM
    container and one chunk of margin."""
    recording = settings()
    audio = recording.max_minutes * 60 * recording.max_bitrate_kbps * 1000 // 8
    return audio + audio // 20 + recording.max_chunk_bytes


def _refuse_too_many_takes(recording: Recording | None, user: User, now: dt.datetime) -> None:
    """UploadError when `user` has all their takes of this recording, or started new ones too often.

    Call inside the transaction that creates the take, after locking the user's row (so two browsers
    starting at once cannot both slip under a limit)."""
    config = settings()
    mine = (RecordingTrack.user == user.id) & (RecordingTrack.source == "browser")
    if recording is not None:
        takes = RecordingTrack.select().where(mine & (RecordingTrack.recording == recording.id)).count()
        if takes >= config.max_takes_per_person:
            raise UploadError(409, "too_many_takes", f"You have already started {takes} takes of this recording, "
                              f"the most allowed (recording.max_takes_per_person). Keep this page open rather than "
                              "reloading it; what you recorded so far is kept.")
    for limit in parse_many(config.new_take_rate):
        window = dt.timedelta(seconds=limit.get_expiry())
        recent = (RecordingTrack.select(RecordingTrack.created_at)
                  .where(mine & (RecordingTrack.created_at > now - window))
                  .order_by(RecordingTrack.created_at).tuples())
        started = [created for (created,) in recent]
        if len(started) >= limit.amount:
            wait = max(1, int((started[-limit.amount] + window - now).total_seconds()) + 1)
            raise UploadError(429, "take_rate_limited", f"You started {len(started)} takes in the last "
                              f"{_duration(window)}, the most allowed (recording.new_take_rate). Wait "
                              f"{_duration(dt.timedelta(seconds=wait))} before starting another; your page "
                              "keeps what it records meanwhile and tries again by itself.", retry_after=wait)


def _lock_user(user: User) -> None:
    """Lock the user's row until the transaction ends (PostgreSQL), so one person's new takes are counted one at
    a time; SQLite's IMMEDIATE transactions already hold the whole database."""
    query = User.select(User.id).where(User.id == user.id)
    (query.for_update() if database.for_update else query).execute()


def _duration(span: dt.timedelta) -> str:
    """"3 minutes", "1 hour", "45 seconds": a span in words, rounded up to its largest unit."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = -(-seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def recording_of(conversation: Conversation) -> Recording | None:
    """The conversation's recording, if it ever started."""
    return Recording.get_or_none(Recording.conversation == conversation.id)


def uploads_close_at(recording: Recording) -> dt.datetime | None:
    """After this moment no chunk is taken: the stop (or the booked slot's end) plus the grace period."""
    grace = dt.timedelta(minutes=settings().upload_grace_minutes)
    if recording.stopped_at is not None:
        return recording.stopped_at + grace
    window = join_window(recording.conversation)
    return window[1] + grace if window else None


def closed_reason(recording: Recording | None, now: dt.datetime) -> str | None:
    """Why chunks are no longer taken for this recording (a sentence), or None while they are."""
    if recording is None:
        return "The recording has not started: both of you need to agree to it first."
    if recording.status != "open":
        return "This recording is complete and is being processed; nothing more can be added to it."
    close_at = uploads_close_at(recording)
    if close_at is not None and now > close_at:
        return "Uploads for this recording closed after the conversation; it is processed with what arrived."
    return None


def participant_or_refuse(conversation: Conversation | None, user: User) -> Conversation:
    """The conversation if `user` is one of its two participants; else 404 (nobody learns it exists)."""
    if conversation is None or not user.is_active or user.id not in (conversation.a_id, conversation.b_id):
        raise UploadError(404, "not_found", "There is no such recording of yours.")
    return conversation


def track_summary(track: RecordingTrack) -> dict[str, Any]:
    """A track as the recorder sees it: id, held sequences, final, the total when finished."""
    return {"id": track.id, "held": held_sequences(track), "final": track.chunk_total is not None,
            "chunks": track.chunk_total}


def held_sequences(track: RecordingTrack) -> list[int]:
    """The sequences of `track` the server holds, in order."""
    return sorted(_held(track))


def upload_status(conversation: Conversation, user: User) -> dict[str, Any]:
    """What the recorder needs to resume: room recording state, whether uploads are open, own tracks."""
    recording = recording_of(conversation)
    now = utcnow()
    tracks = [] if recording is None else list(
        RecordingTrack.select().where((RecordingTrack.recording == recording.id) & (RecordingTrack.user == user.id)
                                      & (RecordingTrack.source == "browser")).order_by(RecordingTrack.id))
    config = settings()
    return {"state": room_state(conversation).recording,
            "accepting": recording is not None and closed_reason(recording, now) is None,
            "server_time_ms": int(now.timestamp() * 1000),
            "timeslice_seconds": config.timeslice_seconds, "max_chunk_bytes": config.max_chunk_bytes,
            "max_seconds": config.max_minutes * 60,
            "tracks": [track_summary(track) for track in tracks]}


def create_track(conversation: Conversation, user: User, started_at_ms: Any, mime_type: Any) -> RecordingTrack:
    """Open a new take for `user`, while the room records; the start is placed on the conversation's timeline."""
    if not isinstance(mime_type, str) or not ACCEPTED_MIME.match(mime_type.strip()):
        raise UploadError(415, "not_audio", "The recorder must send Opus audio in WebM or Ogg "
                            "(audio/webm;codecs=opus); this browser offered something else.")
    if not isinstance(started_at_ms, int | float) or isinstance(started_at_ms, bool):
        raise UploadError(400, "bad_request", "started_at_ms must be the start time in milliseconds since 1970.")
    state = room_state(conversation)
    if state.recording not in ("recording", "paused") or state.ended_at is not None:
        raise UploadError(409, "not_recording", "The recording is not running, so there is nothing to record.")
    now = utcnow()
    started_at = _trusted_start(started_at_ms, now)
    timeline = max(0.0, elapsed_seconds(state, now) - (now - started_at).total_seconds())
    with database.atomic():
        _lock_user(user)
        _refuse_too_many_takes(recording_of(conversation), user, now)
        recording = recording_of(conversation)
        if recording is None:
            try:
                with database.atomic():
                    recording = Recording.create(conversation=conversation.id, started_at=started_at)
            except peewee.IntegrityError:
                recording = recording_of(conversation)
        reason = closed_reason(recording, now)
        if reason:
            raise UploadError(403, "closed", reason)
        return RecordingTrack.create(recording=recording.id, user=user.id, source="browser",
                                     mime_type=mime_type.strip()[:100], started_at=started_at,
                                     timeline_seconds=timeline)


def _trusted_start(started_at_ms: float, now: dt.datetime) -> dt.datetime:
    """The browser's start (already on the server's clock); the server's time when it is implausible."""
    try:
        claimed = dt.datetime.fromtimestamp(started_at_ms / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return now
    return claimed if abs(now - claimed) <= CLOCK_TOLERANCE else now


def own_track(conversation_id: int, user: User, track_id: int) -> RecordingTrack:
    """The caller's browser track of this conversation, with its recording and conversation, or 404.

    One query: only the track's own participant ever gets it, so this is also the participant check."""
    track = (RecordingTrack.select(RecordingTrack, Recording, Conversation)
             .join(Recording).join(Conversation)
             .where((RecordingTrack.id == track_id) & (RecordingTrack.user == user.id)
                    & (RecordingTrack.source == "browser") & (Recording.conversation == conversation_id)
                    & user.is_active)
             .first())
    if track is None:
        raise UploadError(404, "not_found", "There is no such recording track of yours; reload the page.")
    return track


def store_chunk(track: RecordingTrack, sequence: int, data: bytes, claimed_sha256: str) -> ChunkReceipt:
    """Check and keep one chunk; idempotent for the same bytes. UploadError says why not.

    `track` comes from own_track (its recording and conversation loaded with it)."""
    config = settings()
    claimed = (claimed_sha256 or "").strip().lower()
    if not SHA256_HEX.match(claimed):
        raise UploadError(400, "bad_request", "Send the chunk's SHA-256 as 64 hexadecimal digits in the "
                          "X-Chunk-SHA256 header.")
    if sequence < 0:
        raise UploadError(400, "bad_request", "The sequence must be 0 or more.")
    if sequence >= max_sequences():
        raise UploadError(413, "too_long", f"This recording is longer than the {config.max_minutes} minutes "
                          "allowed (recording.max_minutes); the rest is not kept.")
    if len(data) > config.max_chunk_bytes:
        raise UploadError(413, "too_large", f"This chunk has {len(data)} bytes; at most "
                          f"{config.max_chunk_bytes} are taken (recording.max_chunk_bytes).")
    if not data:
        raise UploadError(400, "bad_request", "The chunk is empty; send its bytes in the request body.")
    actual = hashlib.sha256(data).hexdigest()
    if actual != claimed:
        raise UploadError(422, "checksum", "The chunk arrived damaged (its SHA-256 differs from the one "
                          "sent); it was discarded. Send it again.")
    held = _held(track)
    if sequence in held:
        return _already_held(sequence, held, actual)
    recording = track.recording
    reason = closed_reason(recording, utcnow())
    if reason:
        raise UploadError(403, "closed", reason)
    if track.chunk_total is not None and sequence >= track.chunk_total:
        raise UploadError(409, "final", f"This track was finished with {track.chunk_total} chunks; "
                          f"chunk {sequence} does not belong to it.")
    held_bytes = _held_bytes(track)
    if held_bytes + len(data) > max_take_bytes():
        raise UploadError(413, "take_too_large", f"This take already holds {held_bytes} bytes; with this chunk it "
                          f"would pass {max_take_bytes()}, more than {config.max_minutes} minutes of audio at "
                          f"{config.max_bitrate_kbps} kbit/s (recording.max_minutes, recording.max_bitrate_kbps). "
                          "The rest of this take is not kept.")
    try:
        if sequence == 0:
            check_first_chunk(data, media=True)
        else:
            check_continuation_chunk(data, "ogg" if "ogg" in track.mime_type.lower() else "webm")
    except NotAudio as error:
        raise UploadError(415, "not_audio", f"{error} Only the recorder's own audio is taken.") from None
    key = chunk_key(track.recording_id, track.id, sequence, actual)
    platform().blobs.put_bytes(key, data)
    try:
        RecordingChunk.insert(track=track.id, sequence=sequence, size=len(data), sha256=actual,
                              blob_key=key).execute()
    except peewee.IntegrityError:  # the same sequence arrived twice at once: the first one stands
        first = RecordingChunk.get((RecordingChunk.track == track.id) & (RecordingChunk.sequence == sequence))
        if first.blob_key != key:
            platform().blobs.delete(key)
        return _already_held(sequence, {**held, sequence: first.sha256}, actual)
    held[sequence] = actual
    return ChunkReceipt(stored=True, held=sorted(held))


def _held(track: RecordingTrack) -> dict[int, str]:
    """Every sequence the track holds, with its checksum (one query)."""
    return dict(RecordingChunk.select(RecordingChunk.sequence, RecordingChunk.sha256)
                .where(RecordingChunk.track == track.id).tuples())


def _held_bytes(track: RecordingTrack) -> int:
    """How many bytes the track's held chunks add up to."""
    return RecordingChunk.select(peewee.fn.COALESCE(peewee.fn.SUM(RecordingChunk.size), 0)).where(
        RecordingChunk.track == track.id).scalar() or 0


def _already_held(sequence: int, held: dict[int, str], actual: str) -> ChunkReceipt:
    """A retry of a held chunk: nothing changes; different bytes at that sequence are a conflict."""
    if held[sequence] != actual:
        raise UploadError(409, "conflict", f"A different chunk {sequence} is already held for this "
                          "track; the held one is kept. Start a new track rather than rewriting one.")
    return ChunkReceipt(stored=False, held=sorted(held))


def finish_track(track: RecordingTrack, chunks: Any) -> RecordingTrack:
    """Record how many chunks the track has in all (idempotent); may start the processing.

    `track` comes from own_track (its recording and conversation loaded with it)."""
    if not isinstance(chunks, int) or isinstance(chunks, bool) or not 0 <= chunks <= max_sequences():
        raise UploadError(400, "bad_request", "chunks must be the whole number of chunks the track has.")
    if track.chunk_total is not None:
        if track.chunk_total != chunks:
            raise UploadError(409, "conflict", f"This track was already finished with {track.chunk_total} "
                                "chunks.")
        return track
    beyond = RecordingChunk.select().where((RecordingChunk.track == track.id)
                                           & (RecordingChunk.sequence >= chunks)).count()
    if beyond:
        raise UploadError(409, "conflict", f"The server already holds chunks past {chunks - 1}; "
                            "send the full count.")
    RecordingTrack.update(chunk_total=chunks, finished_at=utcnow()).where(
        (RecordingTrack.id == track.id) & RecordingTrack.chunk_total.is_null()).execute()
    fresh = RecordingTrack.get_by_id(track.id)
    from core.recording.processing import enqueue_when_complete

    enqueue_when_complete(track.recording.conversation)
    return fresh

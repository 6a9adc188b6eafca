"""The processing job: from held chunks (or a provider's files) to the archival master and its copies.

Each step keeps what it made: a track's original, the master, the FLAC and the access copy are each
written to the blob store under a fixed key and then recorded in `recording_output`, so a run that
dies at any point (kill -9 included) is completed by the next one, which skips what exists and
overwrites a half-made file under the same key. A run holds a lease on the recording; a lease whose
holder died on this host, or whose time ran out, is taken over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import current_app
from peewee import JOIN, fn

from core.db import database, utcnow
from core.leases import lease_is_free, lease_owner
from core.models import Conversation
from core.models.recording import Recording, RecordingChunk, RecordingOutput, RecordingTrack
from core.platform import platform
from core.recording.audio import (
    AudioError,
    BroadcastMetadata,
    MediaFacts,
    TrackPlacement,
    integrated_loudness,
    make_access_copy,
    make_flac,
    make_master,
    probe,
    remux,
    sha256_file,
)
from core.recording.keys import original_key, output_key
from core.recording.provider_files import ProviderFileError, fetch_provider_tracks
from core.recording.uploads import recording_of, uploads_close_at
from core.room.state import room_state

PROCESS_RECORDING_JOB = "process_recording"
PROCESS_DUE_RECORDINGS_JOB = "process_due_recordings"
LEASE = dt.timedelta(minutes=15)
ACCESS_TYPES = {"opus": ("opus", "audio/ogg"), "mp3": ("mp3", "audio/mpeg")}
Progress = Callable[[float, str], None]


class ProcessingError(Exception):
    """The recording could not be processed; the message says why and what to do."""


def register_recording_jobs(jobs: Any) -> None:
    """The processing job (retried) and the periodic sweep that starts due or abandoned work."""
    from huey import crontab

    jobs.task(PROCESS_RECORDING_JOB, retries=2, retry_delay=120)(process_recording)
    jobs.periodic(PROCESS_DUE_RECORDINGS_JOB, crontab(minute="*"))(process_due_recordings)


def is_complete(conversation: Conversation, recording: Recording) -> bool:
    """Stopped, both participants recorded, and every track finished with all its chunks held."""
    if room_state(conversation).recording != "stopped":
        return False
    held = fn.COUNT(RecordingChunk.id)
    tracks = list(RecordingTrack.select(RecordingTrack.user, RecordingTrack.chunk_total, held.alias("held"))
                  .join(RecordingChunk, JOIN.LEFT_OUTER)
                  .where((RecordingTrack.recording == recording.id) & (RecordingTrack.source == "browser"))
                  .group_by(RecordingTrack.id, RecordingTrack.user, RecordingTrack.chunk_total).dicts())
    return ({track["user"] for track in tracks} == {conversation.a_id, conversation.b_id}
            and all(track["chunk_total"] is not None and track["held"] == track["chunk_total"] for track in tracks))


def enqueue_when_complete(conversation: Conversation) -> bool:
    """Queue the processing as soon as everything arrived; True when queued."""
    recording = recording_of(conversation)
    if recording is None or recording.status != "open" or not is_complete(conversation, recording):
        return False
    platform().jobs.enqueue(PROCESS_RECORDING_JOB, recording.id)
    return True


def due_recording_ids(now: dt.datetime | None = None) -> list[int]:
    """Recordings to process now: complete ones, those whose uploads closed, and abandoned runs."""
    now = now or utcnow()
    due = []
    for recording in (Recording.select(Recording, Conversation).join(Conversation)
                      .where(Recording.status.in_(("open", "processing")))):
        if recording.status == "processing":
            if _lease_is_free(recording, now):
                due.append(recording.id)
            continue
        close_at = uploads_close_at(recording)
        if (close_at is not None and now > close_at) or is_complete(recording.conversation, recording):
            due.append(recording.id)
    return due


def process_due_recordings() -> int:
    """The periodic sweep: queue each due recording (the job itself claims it once); returns how many."""
    ids = due_recording_ids()
    for recording_id in ids:
        platform().jobs.enqueue(PROCESS_RECORDING_JOB, recording_id)
    return len(ids)


def _lease_is_free(recording: Recording, now: dt.datetime) -> bool:
    """The recording's lease expired, or its holder died on this host."""
    return lease_is_free(recording.lease_owner, recording.lease_until, now)


def claim(recording_id: int, *, retry_failed: bool = False) -> Recording | None:
    """Take the recording's lease for this run; None when it is done, or another live run holds it."""
    now = utcnow()
    recording = Recording.get_or_none(Recording.id == recording_id)
    if recording is None:
        return None
    allowed = ["open"] + (["failed"] if retry_failed else [])
    if recording.status == "processing" and not _lease_is_free(recording, now):
        return None
    if recording.status not in allowed and recording.status != "processing":
        return None
    owner = lease_owner()
    claimed = (Recording.update(status="processing", lease_owner=owner, lease_until=now + LEASE,
                                attempts=Recording.attempts + 1, error=None, progress=0.0,
                                progress_label="Starting")
               .where((Recording.id == recording_id) & (Recording.status == recording.status)
                      & (Recording.lease_owner.is_null() if recording.lease_owner is None
                         else Recording.lease_owner == recording.lease_owner))
               .execute())
    return Recording.get_by_id(recording_id) if claimed else None


class Reporter:
    """Writes progress to the recording (at most twice a second), renewing the lease as it goes."""

    def __init__(self, recording: Recording, listener: Progress | None = None):
        self.recording_id = recording.id
        self.owner = recording.lease_owner
        self.listener = listener
        self.last_write = 0.0
        self.lock = threading.Lock()

    def __call__(self, fraction: float, label: str, *, force: bool = False) -> None:
        """Report `fraction` (0..1) of the whole work, doing `label`."""
        fraction = min(1.0, max(0.0, fraction))
        if self.listener:
            self.listener(fraction, label)
        with self.lock:
            if not force and time.monotonic() - self.last_write < 0.5:
                return
            self.last_write = time.monotonic()
        Recording.update(progress=fraction, progress_label=label[:200], lease_until=utcnow() + LEASE).where(
            (Recording.id == self.recording_id) & (Recording.lease_owner == self.owner)).execute()

    def part(self, start: float, end: float, label: str) -> Callable[[float], None]:
        """A callback for one step that spans [start, end] of the whole."""
        return lambda fraction: self(start + (end - start) * fraction, label)


def process_recording(recording_id: int, *, retry_failed: bool = False,
                      listener: Progress | None = None) -> str:
    """Process one recording to its outputs; returns processed, failed or skipped (held elsewhere / done)."""
    recording = claim(recording_id, retry_failed=retry_failed)
    if recording is None:
        return "skipped"
    report = Reporter(recording, listener)
    work = Path(platform().config.instance_file("work")) / f"recording-{recording.id}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _process(recording, work, report)
    except (AudioError, ProcessingError, ProviderFileError) as error:
        _finish(recording, "failed", str(error))
        return "failed"
    except Exception as error:  # the blob store or the database: retried by the job queue
        Recording.update(status="open" if recording.attempts < 3 else "failed",
                         error=f"{type(error).__name__}: {error}", lease_owner=None, lease_until=None).where(
            Recording.id == recording.id).execute()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(1.0, "Done", force=True)
    _finish(recording, "processed", None)
    from core.archive.deposits import recording_processed

    recording_processed(recording.conversation_id)
    return "processed"


def _finish(recording: Recording, status: str, error: str | None) -> None:
    Recording.update(status=status, error=error, lease_owner=None, lease_until=None,
                     processed_at=utcnow() if status == "processed" else None,
                     progress=1.0 if status == "processed" else Recording.progress).where(
        Recording.id == recording.id).execute()


def _process(recording: Recording, work: Path, report: Reporter) -> None:
    conversation = Conversation.get_by_id(recording.conversation_id)
    tracks = list(RecordingTrack.select().where((RecordingTrack.recording == recording.id)
                                                & (RecordingTrack.source == "browser")
                                                & RecordingTrack.id.in_(RecordingChunk.select(RecordingChunk.track)))
                  .order_by(RecordingTrack.timeline_seconds, RecordingTrack.id))
    if not tracks:
        report(0.0, "Fetching the call provider's recordings", force=True)
        tracks = fetch_provider_tracks(conversation, recording, work)
    if not tracks:
        raise ProcessingError("No audio arrived for this recording: neither browser uploaded a chunk and the "
                              "call provider has no recording of it.")
    originals: list[tuple[RecordingTrack, Path]] = []
    for index, track in enumerate(tracks):
        report(0.10 * index / len(tracks), f"Assembling track {index + 1} of {len(tracks)}", force=True)
        originals.append((track, _original(recording, track, work)))
    placements: list[TrackPlacement] = []
    origin = min(track.timeline_seconds for track, _ in originals)
    for index, (track, path) in enumerate(originals):
        report(0.10 + 0.05 * index / len(originals), "Fixing durations", force=True)
        fixed = work / f"fixed-{track.id}{path.suffix}"
        remux(path, fixed)
        for channel in _channels(conversation, track):
            placements.append(TrackPlacement(fixed, track.timeline_seconds - origin, channel))
    master = _output(recording, "master", "wav", "audio/wav", work, report.part(0.15, 0.60, "Making the master"),
                     lambda target, progress: make_master(placements, target, _bext(conversation, recording),
                                                          progress))
    settings = platform().settings.recording
    access_extension, access_type = ACCESS_TYPES[settings.access_format]
    jobs = {
        "flac": lambda: _output(recording, "flac", "flac", "audio/flac", work,
                                report.part(0.60, 0.80, "Making the FLAC copy"),
                                lambda target, progress: make_flac(master, target, progress)),
        "access": lambda: _output(recording, "access", access_extension, access_type, work,
                                  report.part(0.80, 0.99, "Making the listening copy"),
                                  lambda target, progress: make_access_copy(
                                      master, target, settings.access_format, settings.loudness_lufs, progress),
                                  measure_loudness=True),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(_in_app_context(job)) for job in jobs.values()]:
            future.result()


def _in_app_context(function: Callable[[], Any]) -> Callable[[], Any]:
    """`function` run in this app's context with its own database connection (for a worker thread)."""
    app = current_app._get_current_object()

    def run() -> Any:
        with app.app_context(), database.connection_context():
            return function()

    return run


def _channels(conversation: Conversation, track: RecordingTrack) -> list[int]:
    """Left for the first participant, right for the second; a provider's mix goes to both."""
    if track.user_id == conversation.a_id:
        return [0]
    if track.user_id == conversation.b_id:
        return [1]
    return [0, 1]


def _bext(conversation: Conversation, recording: Recording) -> BroadcastMetadata:
    """The Broadcast WAV description: the program and conversation, never the participants' names."""
    site = platform().settings.site
    originator = platform().settings.recording.originator or site.organisation
    description = f"{site.name}: a recorded conversation between two participants (conversation {conversation.id})"
    return BroadcastMetadata(description=description[:256], originator=originator[:32],
                             origination=recording.started_at)


def _original(recording: Recording, track: RecordingTrack, work: Path) -> Path:
    """The track's byte-exact original, kept once (assembled from its chunks, or the provider's file as
    fetched); a local copy to work on."""
    name = f"track-{track.id}"
    blobs = platform().blobs
    done = RecordingOutput.get_or_none((RecordingOutput.recording == recording.id) & (RecordingOutput.name == name))
    if done is not None:
        local = work / f"{name}.{done.blob_key.rsplit('.', 1)[-1]}"
        blobs.download(done.blob_key, local)
        return local
    if track.source == "provider":  # fetch_provider_tracks left the file in the work folder
        local = next(work.glob(f"{name}.*"))
        _keep(recording, name, "original", original_key(recording.id, track.id, local.suffix[1:]), local,
              track.mime_type, probe(local), track=track)
        return local
    extension = "ogg" if "ogg" in track.mime_type else "webm"
    local = work / f"{name}.{extension}"
    chunks = list(RecordingChunk.select().where(RecordingChunk.track == track.id).order_by(RecordingChunk.sequence))
    expected = track.chunk_total if track.chunk_total is not None else (chunks[-1].sequence + 1)
    missing = sorted(set(range(expected)) - {chunk.sequence for chunk in chunks})
    if missing:
        _note(recording, f"track {track.id}: {len(missing)} chunk(s) never arrived ({_ranges(missing)}); "
                         "the original holds what did.")
    with local.open("wb") as out:
        for chunk in chunks:
            data = blobs.get_bytes(chunk.blob_key)
            if hashlib.sha256(data).hexdigest() != chunk.sha256:
                raise ProcessingError(f"chunk {chunk.sequence} of take {track.id} no longer matches the checksum "
                                      f"it arrived with: the blob store ({blobs.describe()}) changed or damaged "
                                      f"{chunk.blob_key}. Restore it from a backup, then process again.")
            out.write(data)
    try:
        facts = probe(local)
    except AudioError:
        facts = None
    _keep(recording, name, "original", original_key(recording.id, track.id, extension), local,
          "audio/ogg" if extension == "ogg" else "audio/webm", facts, track=track)
    return local


def _output(recording: Recording, name: str, extension: str, content_type: str, work: Path,
            progress: Callable[[float], None], make: Callable[[Path, Callable[[float], None]], MediaFacts],
            *, measure_loudness: bool = False) -> Path:
    """Make one output unless it exists (then fetch it); keep it under its fixed key and record it."""
    local = work / f"{name}.{extension}"
    done = RecordingOutput.get_or_none((RecordingOutput.recording == recording.id) & (RecordingOutput.name == name))
    if done is not None:
        platform().blobs.download(done.blob_key, local)
        progress(1.0)
        return local
    facts = make(local, progress)
    loudness = integrated_loudness(local) if measure_loudness else None
    _keep(recording, name, name, output_key(recording.id, name, extension), local, content_type, facts,
          loudness=loudness)
    return local


def _keep(recording: Recording, name: str, kind: str, key: str, local: Path, content_type: str,
          facts: MediaFacts | None, *, track: RecordingTrack | None = None, loudness: float | None = None) -> None:
    """Store the file under `key` (atomic), then record it once; a rerun after a crash overwrites the same key."""
    platform().blobs.put_file(key, local)
    RecordingOutput.insert(
        recording=recording.id, name=name, kind=kind, track=track.id if track else None, blob_key=key,
        content_type=content_type, size=local.stat().st_size, sha256=sha256_file(local),
        duration_seconds=facts.duration_seconds if facts else None, channels=facts.channels if facts else None,
        sample_rate=facts.sample_rate if facts else None, loudness_lufs=loudness,
    ).on_conflict_ignore().execute()


def _note(recording: Recording, text: str) -> None:
    current = Recording.get_by_id(recording.id).notes or ""
    if text not in current:
        Recording.update(notes=(current + "\n" + text).strip()).where(Recording.id == recording.id).execute()


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts, start, previous = [], numbers[0], numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)

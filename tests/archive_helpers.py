"""Shared by the archive tests: a conversation whose recording is processed (real audio files in the
blob store, made once per session by ffmpeg), each participant's choices, and an approved description."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from core.db import database, utcnow

AUDIO_SECONDS = 3.0
DESCRIPTION = {
    "title": "Two neighbours on faith, work and family",
    "summary": "Ann and Ben talk about the towns they grew up in, the people who shaped them and what "
               "they hope their grandchildren will find.",
    "keywords": ["family", "faith", "work"],
    "people": ["Ann's grandmother"],
    "places": ["Columbus, Ohio", "Dayton, Ohio"],
    "organisations": ["Columbus Public Library"],
    "languages": ["eng"],
    "location": "Columbus, Ohio",
}


@functools.cache
def audio_files(seconds: float = AUDIO_SECONDS) -> dict[str, Path]:
    """A stereo master (BWF-like 24-bit 48 kHz WAV), its FLAC and an Ogg Opus access copy, made once."""
    from core.recording.audio import ffmpeg_executable

    folder = Path(tempfile.mkdtemp(prefix="oss-archive-audio-"))
    source = ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
              "-f", "lavfi", "-i", f"sine=frequency=550:sample_rate=48000:duration={seconds}",
              "-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo[a]", "-map", "[a]"]
    made = {"master": (folder / "master.wav", ["-c:a", "pcm_s24le"]),
            "flac": (folder / "master.flac", ["-c:a", "flac"]),
            "access": (folder / "access.opus", ["-c:a", "libopus", "-b:a", "96k"])}
    for path, codec in made.values():
        subprocess.run([ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", *source, *codec, str(path)],
                       check=True)
    return {name: path for name, (path, _) in made.items()}


CONTENT_TYPES = {"master": "audio/wav", "flac": "audio/flac", "access": "audio/ogg"}
EXTENSIONS = {"master": "wav", "flac": "flac", "access": "opus"}


def processed(app: Any, conversation: Any, *, seconds: float = AUDIO_SECONDS) -> Any:
    """Give the conversation a processed recording: master, FLAC and access copy in the blob store."""
    from core.models.recording import Recording, RecordingOutput
    from core.recording.keys import output_key

    files = audio_files(seconds)
    with app.app_context(), database.connection_context():
        now = utcnow()
        recording, _ = Recording.get_or_create(conversation=conversation.id,
                                               defaults={"started_at": now - dt.timedelta(seconds=seconds)})
        recording.status = "processed"
        recording.stopped_at = recording.stopped_at or now
        recording.processed_at = now
        recording.progress = 1.0
        recording.save()
        store = app.extensions["oss_connect"].blobs
        for name, path in files.items():
            key = output_key(recording.id, name, EXTENSIONS[name])
            store.put_file(key, path)
            data = path.read_bytes()
            RecordingOutput.delete().where((RecordingOutput.recording == recording.id)
                                           & (RecordingOutput.name == name)).execute()
            RecordingOutput.create(recording=recording.id, name=name, kind=name, blob_key=key,
                                   content_type=CONTENT_TYPES[name], size=len(data),
                                   sha256=hashlib.sha256(data).hexdigest(), duration_seconds=seconds,
                                   channels=2, sample_rate=48000, loudness_lufs=-16.0 if name == "access" else None)
        return recording


def choose(app: Any, conversation: Any, user: Any, *, deposit: bool = False, public: bool = False,
           broadcast: bool = False, now: dt.datetime | None = None) -> Any:
    """Record one participant's choices through the consent service."""
    from core.archive.consent import record_choice
    from core.models import Conversation

    with app.app_context(), database.connection_context():
        return record_choice(Conversation.get_by_id(conversation.id), user.id, deposit=deposit, public=public,
                             broadcast=broadcast, now=now)


def describe(app: Any, conversation: Any, proposer: Any, approver: Any, **fields: Any) -> Any:
    """One participant proposes the description (DESCRIPTION, updated by `fields`); the other approves it."""
    from core.archive.descriptions import decide, propose
    from core.models import Conversation

    with app.app_context(), database.connection_context():
        fresh = Conversation.get_by_id(conversation.id)
        proposal = propose(fresh, proposer.id, **{**DESCRIPTION, **fields})
        return decide(fresh, approver.id, proposal.id, approve=True)

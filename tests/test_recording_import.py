"""core.api.import_recording: a recording made outside the room, taken in and processed by the real
pipeline (ffmpeg), and refused with a sentence when it cannot be."""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path
from typing import Any

import pytest

from core.db import database
from tests.audio_fixtures import make_tone_ogg, make_tone_webm
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

pytestmark = pytest.mark.database
SECONDS = 2.0


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return ROOM_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    return booked(app, cast["ann"], cast["ben"], minutes_ago=80)


@functools.cache
def opus_track(frequency: int, container: str = "ogg") -> Path:
    """A short Opus track (a tone) in Ogg or WebM, made once by ffmpeg."""
    make = make_tone_ogg if container == "ogg" else make_tone_webm
    return make(Path(tempfile.mkdtemp(prefix="oss-import-")) / f"tone-{frequency}.{container}", SECONDS, frequency)


def take_in(app: Any, conversation: Any, tracks: dict[int, Path], **options: Any) -> Any:
    from core.api import import_recording

    with app.app_context(), database.connection_context():
        return import_recording(conversation.id, tracks, **options)


def test_an_imported_recording_is_processed_like_the_browsers_tracks(app, cast, conversation):
    from core.models import Conversation
    from core.models.recording import RecordingOutput
    from core.recording.audio import probe

    ann, ben = opus_track(330), opus_track(550, "webm")
    recording = take_in(app, conversation, {cast["ann"].id: ann, cast["ben"].id: ben}, process=True)

    assert recording.status == "processed", recording.error
    with app.app_context(), database.connection_context():
        outputs = {row.name: row for row in RecordingOutput.select().where(RecordingOutput.recording == recording.id)}
        store = app.extensions["oss_connect"].blobs
        originals = sorted(store.get_bytes(row.blob_key) for name, row in outputs.items() if name.startswith("track-"))
        master = Path(tempfile.mkdtemp()) / "master.wav"
        store.download(outputs["master"].blob_key, master)
        assert Conversation.get_by_id(conversation.id).status == "completed"
    assert originals == sorted([ann.read_bytes(), ben.read_bytes()])  # kept byte-exact
    assert {"master", "flac", "access"} <= set(outputs)
    facts = probe(master)
    assert (facts.channels, facts.sample_rate) == (2, 48000)
    assert abs(facts.duration_seconds - SECONDS) < 0.2
    assert outputs["master"].sha256 == hashlib.sha256(master.read_bytes()).hexdigest()


def test_without_process_the_job_queue_processes_it(app, cast, conversation):
    """The tests' job queue runs each job as it is enqueued: "processed" shows the job was queued."""
    recording = take_in(app, conversation, {cast["ann"].id: opus_track(330)})

    assert recording.status == "processed", recording.error


@pytest.mark.parametrize(("who", "content", "message"), [
    ("cal", None, "is not a participant of conversation"),
    ("ann", b"RIFF\x00\x00\x00\x00WAVEfmt ", "is not Opus audio in Ogg or WebM"),
    ("ann", "missing", "cannot read"),
], ids=["someone else's track", "a WAV file", "a missing file"])
def test_what_cannot_be_taken_in_is_refused_with_a_sentence_and_nothing_is_kept(app, cast, conversation, tmp_path,
                                                                                 who, content, message):
    from core.models.recording import Recording

    path = opus_track(330)
    if isinstance(content, bytes):
        path = tmp_path / "track.wav"
        path.write_bytes(content)
    elif content == "missing":
        path = tmp_path / "nowhere.ogg"

    with pytest.raises(ValueError, match=message):
        take_in(app, conversation, {cast[who].id: path})

    with app.app_context(), database.connection_context():
        assert Recording.select().count() == 0


def test_a_second_recording_of_the_same_conversation_is_refused(app, cast, conversation):
    take_in(app, conversation, {cast["ann"].id: opus_track(330)})

    with pytest.raises(ValueError, match="already has a recording"):
        take_in(app, conversation, {cast["ben"].id: opus_track(550)})


def test_a_failure_half_way_keeps_neither_rows_nor_files(app, cast, conversation, monkeypatch):
    """The blob store refuses the second track: the first track's file goes with the rolled-back rows."""
    from core.models.recording import Recording, RecordingChunk

    store = app.extensions["oss_connect"].blobs
    put = store.put_bytes
    calls = []

    def second_fails(key: str, data: bytes) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk full")
        put(key, data)

    monkeypatch.setattr(store, "put_bytes", second_fails)
    with pytest.raises(OSError, match="disk full"):
        take_in(app, conversation, {cast["ann"].id: opus_track(330), cast["ben"].id: opus_track(550)})

    with app.app_context(), database.connection_context():
        assert (Recording.select().count(), RecordingChunk.select().count()) == (0, 0)
    assert store.keys("recordings/") == []

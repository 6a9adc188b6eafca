"""Shared by the recording tests: a booked conversation whose room records, the recorder's HTTP calls
through any client, and MediaRecorder-like chunks cut from a real Opus/WebM file made by ffmpeg."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from core.db import database
from tests.conftest import csrf_token_from

RECORDING_SETTINGS_EXTRA: dict[str, Any] = {"recording": {"upload_grace_minutes": 30}}


def consent_both(app: Any, conversation: Any, a: Any, b: Any) -> None:
    """Both participants agree in the room, so the recording starts."""
    from core.models import Conversation, User
    from core.room.state import apply_action

    with app.app_context(), database.connection_context():
        fresh = Conversation.get_by_id(conversation.id)
        apply_action(fresh, User.get_by_id(a.id), "participant", "consent")
        apply_action(fresh, User.get_by_id(b.id), "participant", "consent")


def room_action(app: Any, conversation: Any, user: Any, action: str) -> dict[str, Any]:
    """A participant's room action (pause, resume, stop, end), as the room's socket would apply it."""
    from core.models import Conversation, User
    from core.room.state import apply_action

    with app.app_context(), database.connection_context():
        return apply_action(Conversation.get_by_id(conversation.id), User.get_by_id(user.id), "participant", action)


class Recorder:
    """The browser recorder's calls, through a Flask test client or a `requests` session."""

    def __init__(self, client: Any, conversation_id: int, base_url: str = ""):
        self.client = client
        self.base = f"{base_url}/conversations/{conversation_id}/recording"
        self.csrf = csrf_token_from(self._get_text(f"{base_url}/"))  # the sign-out form of every page

    def _get_text(self, url: str) -> str:
        response = self.client.get(url)
        return response.get_data(as_text=True) if hasattr(response, "get_data") else response.text

    def _json(self, response: Any) -> tuple[int, dict[str, Any]]:
        body = response.get_json() if hasattr(response, "get_json") else response.json()
        return response.status_code, body

    def status(self) -> tuple[int, dict[str, Any]]:
        """GET the recording's status."""
        return self._json(self.client.get(self.base))

    def new_track(self, started_at_ms: float | None = None, mime_type: str = "audio/webm;codecs=opus",
                  ) -> tuple[int, dict[str, Any]]:
        """POST a new track."""
        body = {"started_at_ms": started_at_ms if started_at_ms is not None else time.time() * 1000,
                "mime_type": mime_type}
        return self._json(self.client.post(f"{self.base}/tracks", json=body, headers={"X-CSRFToken": self.csrf}))

    def put(self, track_id: int, sequence: int, data: bytes, sha256: str | None = None,
            **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """PUT one chunk with its checksum (or the one given)."""
        headers = {"X-CSRFToken": self.csrf, "Content-Type": "audio/webm",
                   "X-Chunk-SHA256": sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()}
        return self._json(self.client.put(f"{self.base}/tracks/{track_id}/chunks/{sequence}", data=data,
                                          headers=headers, **kwargs))

    def finish(self, track_id: int, chunks: int) -> tuple[int, dict[str, Any]]:
        """POST the track's total."""
        return self._json(self.client.post(f"{self.base}/tracks/{track_id}/finish", json={"chunks": chunks},
                                           headers={"X-CSRFToken": self.csrf}))

    def upload(self, chunks: list[bytes]) -> int:
        """A whole take, in order, finished; returns the track id."""
        status, body = self.new_track()
        assert status == 201, body
        track_id = body["track"]["id"]
        for sequence, chunk in enumerate(chunks):
            status, answer = self.put(track_id, sequence, chunk)
            assert status == 201, answer
        status, answer = self.finish(track_id, len(chunks))
        assert status == 200, answer
        return track_id


def signed_in_recorder(app: Any, login: Any, conversation: Any, email: str) -> Recorder:
    """The recorder of `email`'s browser: a test client signed in through the real form."""
    client = app.test_client()
    login(email, test_client=client)
    return Recorder(client, conversation.id)


def webm_chunks(path: Path) -> list[bytes]:
    """A real Opus/WebM file cut as Chromium's MediaRecorder cuts it: the header with the first cluster,
    then a chunk per cluster, each boundary one byte into the next element's ID."""
    from tests.audio_fixtures import chromium_like_chunks

    return chromium_like_chunks(path.read_bytes())


def move_stop_back(app: Any, minutes: float) -> None:
    """Pretend the recording stopped `minutes` earlier (past the upload grace, say)."""
    import datetime as dt

    from core.models import RecordingEvent
    from core.models.recording import Recording

    with app.app_context(), database.connection_context():
        for event in RecordingEvent.select():
            RecordingEvent.update(at=event.at - dt.timedelta(minutes=minutes)).where(
                RecordingEvent.id == event.id).execute()
        for recording in Recording.select().where(Recording.stopped_at.is_null(False)):
            Recording.update(stopped_at=recording.stopped_at - dt.timedelta(minutes=minutes)).where(
                Recording.id == recording.id).execute()


def seed_take(app: Any, conversation: Any, user: Any, chunks: list[bytes], *, finished: bool = True) -> int:
    """A take as if its browser had uploaded every chunk (straight into the database and blob store, for
    tests about what comes after the upload); returns the track id."""
    from core.models.recording import Recording, RecordingChunk, RecordingTrack
    from core.recording.keys import chunk_key

    with app.app_context(), database.connection_context():
        recording = Recording.get(Recording.conversation == conversation.id)
        track = RecordingTrack.create(recording=recording.id, user=user.id, source="browser",
                                      chunk_total=len(chunks) if finished else None)
        store = app.extensions["oss_connect"].blobs
        for sequence, chunk in enumerate(chunks):
            sha = hashlib.sha256(chunk).hexdigest()
            key = chunk_key(recording.id, track.id, sequence, sha)
            store.put_bytes(key, chunk)
            RecordingChunk.create(track=track.id, sequence=sequence, size=len(chunk), sha256=sha, blob_key=key)
        return track.id

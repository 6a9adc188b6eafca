"""Nothing is lost on a bad network: two participants upload their takes through a loopback proxy that
cuts the connection at 20 random points, while the client sends duplicates and out of order; after
resuming from the server's answer, the assembled originals are byte for byte the sources."""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core.db import database
from core.testing import deep_merge
from tests.audio_fixtures import make_tone_webm
from tests.conftest import start_live_server
from tests.recording_helpers import Recorder, consent_both, room_action, webm_chunks
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

CUTS = 20
WAIT = 60  # seconds: the bound on the processing that the last finish starts


class CuttingProxy:
    """A TCP proxy on loopback that resets the connection when the bytes sent towards the server reach
    each of its cut points (mid-request: the server sees a torn body, the client a dead socket)."""

    def __init__(self, target_port: int, cut_points: list[int]):
        self.target_port = target_port
        self.cut_points = sorted(cut_points)
        self.forwarded = 0
        self.cuts = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._upstream, args=(client, server), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client), daemon=True).start()

    @staticmethod
    def _reset(*sockets: socket.socket) -> None:
        for sock in sockets:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                pass

    def _upstream(self, client: socket.socket, server: socket.socket) -> None:
        while True:
            try:
                data = client.recv(4096)
            except OSError:
                data = b""
            if not data:
                self._reset(client, server)
                return
            with self.lock:
                cut_at = self.cut_points[0] if self.cut_points else None
                if cut_at is not None and self.forwarded + len(data) >= cut_at:
                    part = data[:cut_at - self.forwarded]
                    self.forwarded = cut_at
                    self.cut_points.pop(0)
                    self.cuts += 1
                else:
                    part, cut_at = data, None
                    self.forwarded += len(data)
            with contextlib.suppress(OSError):
                server.sendall(part)
            if cut_at is not None:
                self._reset(client, server)
                return

    def _downstream(self, server: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
            except OSError:
                break
        self._reset(client, server)

    def close(self) -> None:
        self.closing = True
        self.listener.close()


class PatientRecorder(Recorder):
    """The browser's uploader: every call is retried after a cut, and a chunk the server already holds
    (by its answer to the status request) is not sent again."""

    def _get_text(self, url: str) -> str:
        return self.retry(lambda: self.client.get(url, timeout=10).text)

    def retry(self, call: Any, *args: Any) -> Any:
        for _attempt in range(200):
            try:
                return call(*args)
            except requests.RequestException:
                time.sleep(0.01)
        raise AssertionError("the upload never got through")

    def held(self, track_id: int) -> set[int]:
        status, body = self.retry(self.status)
        assert status == 200, body
        return {sequence for track in body["tracks"] if track["id"] == track_id for sequence in track["held"]}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, {"recording": {"upload_grace_minutes": 30}})


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def served(tmp_path: Path, database_url: str, oss_connect_settings, oss_connect_plugins) -> Iterator[Any]:
    from core.testing import empty_tables

    live, server = start_live_server(tmp_path, database_url, oss_connect_settings, oss_connect_plugins)
    yield live
    server.shutdown()
    with live.app.app_context(), database.connection_context():
        empty_tables()


def signed_in_session(base_url: str, email: str) -> requests.Session:
    from tests.conftest import csrf_token_from

    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=10)
    answer = session.post(f"{base_url}/login", data={"email": email, "password": "correct horse battery",
                                                     "csrf_token": csrf_token_from(page.text)},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    return session


def test_cuts_duplicates_and_reordering_lose_nothing(served, tmp_path, make_user):
    app = served.app
    cast = people(app, make_user)
    conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=1)
    consent_both(app, conversation, cast["ann"], cast["ben"])
    sources = {"ann": make_tone_webm(tmp_path / "ann.webm", seconds=20, frequency=330),
               "ben": make_tone_webm(tmp_path / "ben.webm", seconds=20, frequency=550)}
    chunks = {name: webm_chunks(path) for name, path in sources.items()}
    total = sum(len(chunk) for parts in chunks.values() for chunk in parts)
    rng = random.Random(20261124)
    proxy = CuttingProxy(int(served.url.rsplit(":", 1)[1]), rng.sample(range(1, int(total * 0.9)), CUTS))
    through_proxy = f"http://127.0.0.1:{proxy.port}"
    recorders = {name: PatientRecorder(signed_in_session(served.url, f"{name}@example.org"), conversation.id,
                                       through_proxy) for name in sources}
    tracks = {}
    for name, recorder in recorders.items():
        status, body = recorder.retry(recorder.new_track)
        assert status == 201, body
        tracks[name] = body["track"]["id"]

    sends = [(name, sequence) for name in sources for sequence in range(len(chunks[name]))]
    sends += rng.sample(sends, len(sends) // 3)  # duplicates
    rng.shuffle(sends)  # and out of order, both participants interleaved
    answers: dict[int, int] = {}
    for name, sequence in sends:
        recorder = recorders[name]
        while True:
            try:
                status, body = recorder.put(tracks[name], sequence, chunks[name][sequence])
                answers[status] = answers.get(status, 0) + 1
                assert status in (200, 201), body
                break
            except requests.RequestException:
                if sequence in recorder.held(tracks[name]):  # the cut came after the server kept it
                    break
    assert proxy.cuts == CUTS, "every cut point was reached"
    assert answers.get(200, 0) > 0, "some chunks arrived twice and were recognised"

    room_action(app, conversation, cast["ann"], "stop")
    for name, recorder in recorders.items():
        status, body = recorder.retry(recorder.finish, tracks[name], len(chunks[name]))
        assert status == 200 and body["track"]["held"] == list(range(len(chunks[name]))), body
    proxy.close()

    from core.models.recording import Recording, RecordingChunk, RecordingOutput

    deadline = time.monotonic() + WAIT
    with app.app_context(), database.connection_context():
        while (recording := Recording.get()).status != "processed" and time.monotonic() < deadline:
            assert recording.status != "failed", recording.error
            time.sleep(0.2)
        assert recording.status == "processed", (recording.status, recording.progress_label, recording.error)
        assert RecordingChunk.select().count() == sum(len(parts) for parts in chunks.values())
        store = app.extensions["oss_connect"].blobs
        for name, source in sources.items():
            original = RecordingOutput.get(RecordingOutput.name == f"track-{tracks[name]}")
            data = store.get_bytes(original.blob_key)
            assert hashlib.sha256(data).hexdigest() == original.sha256
            assert original.sha256 == hashlib.sha256(source.read_bytes()).hexdigest(), f"{name}'s track differs"

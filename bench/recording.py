"""Recording benchmark: chunk ingest over HTTP, and processing 50 minutes of two-track audio.

Run from the repository root: `python bench/recording.py`. Progress goes to stderr; the last line of
stdout is a JSON object with:

- `ingest_ratio`: the throughput of the real upload path (two participants' browsers, as two
  client processes, each PUTting its 5-second Opus chunks at Chromium's 128 kb/s in order over HTTP to
  the site served as in production (`oss-connect serve`: gunicorn, one worker, threads), which checks
  size, checksum and content, writes each atomically into the local blob store and records it in
  SQLite) divided by the throughput of a raw write of the same chunks to the same disk (two threads,
  each chunk a file written and fsynced, as any store that keeps what it acknowledged must do),
  measured in the same run. Target >= 0.5.
- `live_recorders_capacity` (extra): how many browsers recording at once this server keeps up with
  (chunks per second times the timeslice).
- `process_realtime_factor`: 50 minutes of two-track audio (3,000 s) divided by the wall time of the
  processing job (assembling both originals, remuxing, the Broadcast WAV master, the FLAC copy and
  the loudness-normalised listening copy, each stored with its checksum). Target >= 30.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db import database, utcnow
from tests.audio_fixtures import chromium_like_chunks, make_speechlike_webm

MINUTES = 50
TIMESLICE = 5
BROWSER_BITRATE = "128k"  # what Chromium's MediaRecorder gives audio/webm;codecs=opus by default (measured)
PASSWORD = "correct horse battery staple"


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def make_site(folder: Path) -> tuple[Any, str, Path]:
    """An instance on SQLite with the local blob store, migrated; returns (app, base URL, config path)."""
    import socket

    from core.app import create_app
    from core.config import load_config
    from core.migrate import upgrade

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "site": {"base_url": url, "secret_key": "bench-" + "x" * 40},
        "database": {"url": f"sqlite:///{folder / 'bench.sqlite3'}"},
        "jobs": {"backend": "immediate"},
        "mail": {"backend": "outbox", "outbox_folder": str(folder / "outbox")},
        "room": {"call_provider": "webrtc"},
        "scheduling": {"early_entry_minutes": 10, "slot_minutes": 75, "recorded_minutes": 50},
        "recording": {"upload_grace_minutes": 600},
        "accounts": {"rate_limits": {"login": "1000 per minute"}},
        "plugins": {"call_webrtc": None},
    }
    path = folder / "oss-connect.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    app = create_app(load_config(path))
    with database.connection_context():
        upgrade(database.obj, app.extensions["oss_connect"].migrations)
    return app, url, path


@contextlib.contextmanager
def served(config: Path, url: str) -> Iterator[None]:
    """The site as production serves it (`oss-connect serve`: gunicorn, one worker, threads), in its own process."""
    bind = url.removeprefix("http://")
    process = subprocess.Popen([str(Path(sys.executable).parent / "oss-connect"), "serve", "--config", str(config),
                                "--bind", bind, "--threads", "16"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the site did not start") from None
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(30)


def recording_conversation(app: Any) -> tuple[Any, list[Any]]:
    """Two verified participants, a conversation booked now, both consented: the room records."""
    from core.api import create_user
    from core.room.state import apply_action
    from core.scheduling.conversations import create_conversation

    with app.app_context(), database.connection_context():
        people = [create_user(f"bench{i}@example.org", PASSWORD, verified=True) for i in (1, 2)]
        conversation = create_conversation(people[0].id, people[1].id, starts_at=utcnow())
        for person in people:
            apply_action(conversation, person, "participant", "consent")
    return conversation, people


def signed_in(url: str, email: str) -> tuple[requests.Session, str]:
    """A session signed in through the real form, and its CSRF token."""
    from tests.conftest import csrf_token_from

    session = requests.Session()
    token = csrf_token_from(session.get(f"{url}/login", timeout=30).text)
    answer = session.post(f"{url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:300]
    return session, csrf_token_from(session.get(f"{url}/", timeout=30).text)


def upload_all(url: str, conversation_id: int, email: str, chunks: list[bytes]) -> None:
    """One participant's browser: a track, then every chunk in order with its checksum."""
    session, csrf = signed_in(url, email)
    base = f"{url}/conversations/{conversation_id}/recording"
    answer = session.post(f"{base}/tracks", json={"started_at_ms": time.time() * 1000,
                                                  "mime_type": "audio/webm;codecs=opus"},
                          headers={"X-CSRFToken": csrf}, timeout=30)
    assert answer.status_code == 201, answer.text
    track = answer.json()["track"]["id"]
    for sequence, chunk in enumerate(chunks):
        answer = session.put(f"{base}/tracks/{track}/chunks/{sequence}", data=chunk, timeout=30,
                             headers={"X-CSRFToken": csrf, "Content-Type": "audio/webm",
                                      "X-Chunk-SHA256": hashlib.sha256(chunk).hexdigest()})
        assert answer.status_code == 201, answer.text


def raw_write_all(folder: Path, chunks: list[bytes]) -> None:
    """The baseline: each chunk written to its own file and fsynced."""
    folder.mkdir(parents=True, exist_ok=True)
    for sequence, chunk in enumerate(chunks):
        path = folder / f"{sequence:06d}"
        with path.open("wb") as out:
            out.write(chunk)
            out.flush()
            os.fsync(out.fileno())


def two_at_once(work: Any, arguments: list[tuple[Any, ...]]) -> float:
    """Seconds to run `work` for both participants at the same time, each in its own process (as two
    browsers are)."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(work, *args) for args in arguments]:
            future.result()
    return time.perf_counter() - started


def seed_recording(app: Any, conversation: Any, people: list[Any], tracks: list[list[bytes]]) -> int:
    """Both takes held (as if uploaded), finished, and the recording stopped; returns the recording id."""
    from core.models import User
    from core.models.recording import Recording, RecordingChunk, RecordingTrack
    from core.recording.keys import chunk_key
    from core.room.state import apply_action

    with app.app_context(), database.connection_context():
        recording = Recording.get(Recording.conversation == conversation.id)
        for person, chunks in zip(people, tracks, strict=True):
            track = RecordingTrack.create(recording=recording.id, user=person.id, chunk_total=len(chunks))
            for sequence, chunk in enumerate(chunks):
                sha = hashlib.sha256(chunk).hexdigest()
                key = chunk_key(recording.id, track.id, sequence, sha)
                app.extensions["oss_connect"].blobs.put_bytes(key, chunk)
                RecordingChunk.create(track=track.id, sequence=sequence, size=len(chunk), sha256=sha, blob_key=key)
        apply_action(conversation, User.get_by_id(people[0].id), "participant", "stop")
        return recording.id


def main() -> None:
    """Run both measurements and print the figures."""
    with tempfile.TemporaryDirectory(prefix="oss-bench-recording-", dir=Path.cwd()) as temp:
        folder = Path(temp)
        log(f"making two {MINUTES}-minute speech-like Opus/WebM tracks with ffmpeg ...")
        sources = [make_speechlike_webm(folder / f"track{i}.webm", MINUTES * 60, seed=i, cluster_seconds=TIMESLICE,
                                        bitrate=BROWSER_BITRATE) for i in (1, 2)]
        tracks = [chromium_like_chunks(path.read_bytes()) for path in sources]
        total_bytes = sum(len(chunk) for chunks in tracks for chunk in chunks)
        log(f"{sum(len(t) for t in tracks)} chunks, {total_bytes / 1e6:.1f} MB")

        app, url, config = make_site(folder / "ingest")
        conversation, people = recording_conversation(app)
        log("ingest over HTTP into `oss-connect serve` (two participants at once) ...")
        with served(config, url):
            ingest_seconds = two_at_once(upload_all, [(url, conversation.id, person.email, chunks)
                                                      for person, chunks in zip(people, tracks, strict=True)])
        log("raw write of the same chunks (two threads, fsync each) ...")
        raw_seconds = two_at_once(raw_write_all, [(folder / "raw" / str(i), chunks)
                                                  for i, chunks in enumerate(tracks)])

        site2, _, _ = make_site(folder / "process")
        conversation2, people2 = recording_conversation(site2)
        recording_id = seed_recording(site2, conversation2, people2, tracks)
        log(f"processing {MINUTES} minutes of two-track audio ...")
        from core.recording.processing import process_recording

        started = time.perf_counter()
        with site2.app_context(), database.connection_context():
            outcome = process_recording(recording_id)
        process_seconds = time.perf_counter() - started
        assert outcome == "processed", outcome

    result = {
        "ingest_ratio": round(raw_seconds / ingest_seconds, 3),
        "ingest_mb_per_s": round(total_bytes / 1e6 / ingest_seconds, 2),
        "raw_write_mb_per_s": round(total_bytes / 1e6 / raw_seconds, 2),
        "ingest_chunks_per_s": round(sum(len(t) for t in tracks) / ingest_seconds, 1),
        "live_recorders_capacity": int(sum(len(t) for t in tracks) / ingest_seconds * TIMESLICE),
        "process_seconds": round(process_seconds, 2),
        "process_realtime_factor": round(MINUTES * 60 / process_seconds, 1),
    }
    log(f"ingest {result['ingest_mb_per_s']} MB/s vs raw {result['raw_write_mb_per_s']} MB/s; "
        f"processing {process_seconds:.1f} s for {MINUTES} min")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

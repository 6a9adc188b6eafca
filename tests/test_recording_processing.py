"""The processing job with real ffmpeg, a real database and the real blob store; the files it makes are
read back with PyAV (an independent decoder) and measured with ffmpeg's EBU R128 meter."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from core.api import CallRoom, ProviderRecording
from core.db import database
from core.testing import deep_merge
from tests.audio_fixtures import decode, make_tone_webm, riff_chunks
from tests.conftest import s3_bucket
from tests.recording_helpers import (
    Recorder,
    consent_both,
    move_stop_back,
    room_action,
    seed_take,
    signed_in_recorder,
    webm_chunks,
)
from tests.room_fakes import ROOM_SETTINGS, EchoCall, EchoPlugin, booked, people, prepare_call

EXECUTABLE = Path(sys.executable).parent / "oss-connect"
BEN_LATER = 2.0  # seconds: Ben's browser started its recorder this much after Ann's


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tones")
    return {"ann": make_tone_webm(folder / "ann.webm", seconds=10, frequency=440),
            "ben": make_tone_webm(folder / "ben.webm", seconds=8, frequency=660)}


class RecordingCall(EchoCall):
    """A call provider that records on its side and serves the files over HTTP."""

    name = "recording-echo"
    capabilities = frozenset({"mute", "provider_recording"})

    def __init__(self) -> None:
        super().__init__()
        self.files: list[ProviderRecording] = []

    def fetch_recordings(self, room: CallRoom) -> list[ProviderRecording]:
        """The files set by the test, for any room."""
        return list(self.files)


class RecordingCallPlugin(EchoPlugin):
    def __init__(self) -> None:
        super().__init__()
        self.provider = RecordingCall()


@pytest.fixture
def plugin() -> RecordingCallPlugin:
    return RecordingCallPlugin()


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, {"room": {"call_provider": "recording-echo"},
                                      "recording": {"upload_grace_minutes": 30},
                                      "site": {"organisation": "Radio Example, a public radio station"}})


@pytest.fixture
def oss_connect_plugins(plugin) -> dict[str, Any]:
    from tests.matching_fakes import LeanPlugin

    return {"lean": LeanPlugin(), "echo": plugin}


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    return booked(app, cast["ann"], cast["ben"], minutes_ago=1)


def upload_take(rec: Recorder, chunks: list[bytes], started_at_ms: float, skip: tuple[int, ...] = (),
                finish: bool = True) -> int:
    status, body = rec.new_track(started_at_ms=started_at_ms)
    assert status == 201, body
    track = body["track"]["id"]
    for sequence, chunk in enumerate(chunks):
        if sequence not in skip:
            assert rec.put(track, sequence, chunk)[0] == 201
    if finish:
        assert rec.finish(track, len(chunks))[0] == 200
    return track


def the_recording(app) -> Any:
    from core.models.recording import Recording

    with app.app_context(), database.connection_context():
        return Recording.get()


def outputs(app) -> dict[str, Any]:
    from core.models.recording import RecordingOutput

    with app.app_context(), database.connection_context():
        return {output.name: output for output in RecordingOutput.select()}


def fetch(app, output: Any, folder: Path) -> Path:
    target = folder / output.blob_key.replace("/", "_")
    with app.app_context():
        app.extensions["oss_connect"].blobs.download(output.blob_key, target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == output.sha256, "the stored checksum is the file's"
    return target


def decoded(path: Path) -> tuple[dict[str, Any], np.ndarray]:
    """PyAV's view of the file: the stream's facts, and every sample as floats (channels x samples)."""
    samples, rate, codec, sample_format = decode(path)
    info = {"channels": samples.shape[0], "rate": rate, "codec": codec, "format": sample_format}
    return info, samples.astype(np.float64) / (2 ** 31 if samples.dtype == np.int32 else 1)


def rms(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    part = samples[int(start * rate):int(end * rate)]
    return float(np.sqrt(np.mean(np.square(part)))) if part.size else 0.0


def test_both_takes_become_a_master_a_flac_and_a_listening_copy(app, login, cast, conversation, tones, tmp_path):
    consent_both(app, conversation, cast["ann"], cast["ben"])
    now_ms = time.time() * 1000
    ann = signed_in_recorder(app, login, conversation, "ann@example.org")
    ben = signed_in_recorder(app, login, conversation, "ben@example.org")
    ann_track = upload_take(ann, webm_chunks(tones["ann"]), now_ms)
    status, body = ben.new_track(started_at_ms=now_ms + BEN_LATER * 1000)
    assert status == 201, body
    ben_track = body["track"]["id"]
    room_action(app, conversation, cast["ann"], "stop")
    assert the_recording(app).status == "open", "Ben's take is still missing"
    ben_chunks = webm_chunks(tones["ben"])
    for sequence, chunk in enumerate(ben_chunks):  # Ben's browser catches up after the stop
        assert ben.put(ben_track, sequence, chunk)[0] == 201
    assert ben.finish(ben_track, len(ben_chunks))[0] == 200

    recording = the_recording(app)  # the last finish queued the job (in-line in tests)
    assert recording.status == "processed", (recording.error, recording.progress_label)
    assert recording.progress == 1.0 and recording.lease_owner is None
    made = outputs(app)
    assert set(made) == {f"track-{ann_track}", f"track-{ben_track}", "master", "flac", "access"}
    for name, source in ((f"track-{ann_track}", tones["ann"]), (f"track-{ben_track}", tones["ben"])):
        assert made[name].sha256 == hashlib.sha256(source.read_bytes()).hexdigest(), "byte-exact original"

    master = fetch(app, made["master"], tmp_path)
    info, samples = decoded(master)
    assert (info["channels"], info["rate"], info["codec"]) == (2, 48000, "pcm_s24le")
    duration = samples.shape[1] / 48000
    assert abs(duration - (BEN_LATER + 8)) < 0.5 and abs(made["master"].duration_seconds - duration) < 0.1
    left, right = samples
    assert rms(left, 48000, 1, 9) > 0.05 and rms(right, 48000, 0, 1.5) < 0.001, "Ben starts 2 s later"
    assert rms(right, 48000, 3, 9) > 0.05 and rms(left, 48000, 10.5, 11) < 0.001, "Ann ends after 10 s"
    bext = riff_chunks(master)[b"bext"]
    assert b"a recorded conversation between two participants" in bext[:256]
    assert bext[256:288].rstrip(b"\x00") == b"Radio Example, a public radio st"
    assert bext[320:330] == recording.started_at.strftime("%Y-%m-%d").encode()
    assert b"example.org" not in master.read_bytes()[:8192], "no email in the metadata"

    flac_info, flac_samples = decoded(fetch(app, made["flac"], tmp_path))
    assert (flac_info["channels"], flac_info["rate"], flac_info["format"]) == (2, 48000, "s32")
    assert np.array_equal(flac_samples, samples), "the FLAC is lossless"

    access = fetch(app, made["access"], tmp_path)
    access_info, _ = decoded(access)
    assert access_info["rate"] == 48000 and access_info["codec"] == "opus"
    from core.recording.audio import integrated_loudness

    assert abs(integrated_loudness(access) - (-16.0)) <= 1.0
    assert abs(made["access"].loudness_lufs - (-16.0)) <= 1.0


def test_after_the_grace_it_is_processed_with_what_arrived(app, login, cast, conversation, tones, tmp_path):
    from core.recording.processing import due_recording_ids, process_due_recordings

    consent_both(app, conversation, cast["ann"], cast["ben"])
    ann = signed_in_recorder(app, login, conversation, "ann@example.org")
    upload_take(ann, webm_chunks(tones["ann"]), time.time() * 1000, skip=(4,), finish=False)
    room_action(app, conversation, cast["ann"], "stop")
    with app.app_context(), database.connection_context():
        assert due_recording_ids() == []
        move_stop_back(app, 31)
        assert due_recording_ids() == [the_recording(app).id]
        assert process_due_recordings() == 1
    recording = the_recording(app)
    assert recording.status == "processed", recording.error
    assert "1 chunk(s) never arrived (4)" in recording.notes
    info, samples = decoded(fetch(app, outputs(app)["master"], tmp_path))
    assert info["channels"] == 2 and rms(samples[0], 48000, 0, 3) > 0.05 and rms(samples[1], 48000, 0, 8) < 1e-4


def test_a_providers_recordings_go_through_the_same_pipeline(app, login, cast, conversation, tones, plugin,
                                                             tmp_path):
    from core.recording.processing import process_due_recordings

    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tones["ann"].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        ann = app.test_client()
        login("ann@example.org", test_client=ann)
        assert prepare_call(ann, conversation).status_code == 200  # the call room exists
        consent_both(app, conversation, cast["ann"], cast["ben"])
        started = the_recording(app).started_at
        plugin.provider.files = [
            ProviderRecording(room_name="any", user_id=cast["ann"].id, url=f"{base}/ann.webm", started_at=started,
                              content_type="audio/webm"),
            ProviderRecording(room_name="any", user_id=cast["ben"].id, url=f"{base}/ben.webm",
                              started_at=started + dt.timedelta(seconds=1), content_type="audio/webm")]
        room_action(app, conversation, cast["ann"], "stop")
        with app.app_context(), database.connection_context():
            move_stop_back(app, 31)
            assert process_due_recordings() == 1
    finally:
        server.shutdown()
    recording = the_recording(app)
    assert recording.status == "processed", recording.error
    made = outputs(app)
    originals = sorted(output.sha256 for output in made.values() if output.kind == "original")
    assert originals == sorted(hashlib.sha256(tones[name].read_bytes()).hexdigest() for name in ("ann", "ben"))
    info, samples = decoded(fetch(app, made["master"], tmp_path))
    assert info["channels"] == 2 and abs(samples.shape[1] / 48000 - 10) < 0.5
    assert rms(samples[1], 48000, 0, 0.9) < 0.001 and rms(samples[1], 48000, 2, 8) > 0.05


def test_a_provider_file_that_is_not_audio_fails_with_the_reason(app, login, cast, conversation, plugin, tmp_path):
    from core.recording.processing import process_due_recordings

    page = tmp_path / "page.html"
    page.write_text("<html><body>not a recording</body></html>")
    ann = app.test_client()
    login("ann@example.org", test_client=ann)
    assert prepare_call(ann, conversation).status_code == 200  # the call room exists
    consent_both(app, conversation, cast["ann"], cast["ben"])
    plugin.provider.files = [ProviderRecording(room_name="any", user_id=None, url=str(page))]
    room_action(app, conversation, cast["ann"], "stop")
    move_stop_back(app, 31)
    with app.app_context(), database.connection_context():
        process_due_recordings()
    recording = the_recording(app)
    assert recording.status == "failed" and "is not audio" in recording.error and str(page) in recording.error
    assert outputs(app) == {}


def test_a_live_lease_is_respected_and_a_dead_ones_taken_over(app, login, cast, conversation, tones):
    from core.models.recording import Recording
    from core.recording.processing import process_recording

    consent_both(app, conversation, cast["ann"], cast["ben"])
    ann = signed_in_recorder(app, login, conversation, "ann@example.org")
    upload_take(ann, webm_chunks(tones["ann"])[:3], time.time() * 1000)
    host = socket.gethostname()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with app.app_context(), database.connection_context():
        recording_id = the_recording(app).id
        Recording.update(status="processing", lease_owner=f"{host}:{os.getppid()}:1", lease_until=soon).execute()
        assert process_recording(recording_id) == "skipped"
        Recording.update(lease_owner=f"{host}:{dead.stdout.strip()}:1").execute()
        assert process_recording(recording_id) == "processed"
        assert process_recording(recording_id) == "skipped", "done is done"


def test_killed_with_sigkill_part_way_a_restart_completes_with_one_set_of_outputs(
        app, login, cast, conversation, tmp_path, instance):
    from core.models.recording import RecordingOutput

    consent_both(app, conversation, cast["ann"], cast["ben"])
    for name, frequency in (("ann", 300), ("ben", 500)):  # long enough to be caught part-way
        tone = make_tone_webm(tmp_path / f"{name}.webm", seconds=150, frequency=frequency)
        seed_take(app, conversation, cast[name], webm_chunks(tone), finished=False)
    recording_id = the_recording(app).id
    settings = yaml.safe_load((instance / "oss-connect.yaml").read_text())
    settings["plugins"] = {}  # the test's in-process plugins are not installed; processing needs none
    config = instance / "cli.yaml"  # same folder: the same blob store and work folder
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    command = [str(EXECUTABLE), "process-recording", str(recording_id), "--config", str(config)]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    with app.app_context(), database.connection_context():
        while time.monotonic() < deadline and first.poll() is None:
            if RecordingOutput.select().where(RecordingOutput.name == "master").exists():
                break
            time.sleep(0.01)
        assert first.poll() is None, "the run ended before it could be killed: " + first.stdout.read().decode()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        interrupted = the_recording(app)
        assert interrupted.status == "processing", "the dead run still holds its lease"
        assert not RecordingOutput.select().where(RecordingOutput.name == "access").exists(), "killed part-way"

    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"recording {recording_id}: processed" in second.stdout
    recording = the_recording(app)
    assert recording.status == "processed" and recording.attempts == 2
    with app.app_context(), database.connection_context():
        names = sorted(output.name for output in RecordingOutput.select())
        keys = app.extensions["oss_connect"].blobs.keys(f"recordings/{recording_id}/")
    assert names == sorted(["access", "flac", "master"] + [n for n in names if n.startswith("track-")])
    assert len([n for n in names if n.startswith("track-")]) == 2 and len(names) == len(set(names)) == 5
    made = [key for key in keys if "/chunks/" not in key]
    assert len(made) == 5, made  # two originals, master.wav, master.flac, access.opus: one of each
    assert not (instance / "work" / f"recording-{recording_id}").exists()


@pytest.fixture(scope="module")
def s3_endpoint(s3_server: str) -> str:
    """The real S3-compatible server (moto), holding the bucket `oss-recordings`."""
    return s3_bucket(s3_server, "oss-recordings")


class TestWithTheBlobsInS3:
    """The same pipeline with `storage.backend: s3`: chunks, originals and outputs live in the bucket."""

    @pytest.fixture
    def oss_connect_settings(self, s3_endpoint) -> dict[str, Any]:
        return deep_merge(ROOM_SETTINGS, {"storage": {"backend": "s3", "s3": {
            "bucket": "oss-recordings", "endpoint_url": s3_endpoint, "prefix": f"run-{os.getpid()}-{time.time_ns()}/",
            "access_key_id": "test", "secret_access_key": "test"}}})

    def test_uploads_and_processing_keep_everything_in_the_bucket(self, app, login, cast, conversation, tones,
                                                                   instance, tmp_path):
        consent_both(app, conversation, cast["ann"], cast["ben"])
        for name in ("ann", "ben"):
            upload_take(signed_in_recorder(app, login, conversation, f"{name}@example.org"), webm_chunks(tones[name]),
                        time.time() * 1000, finish=False)
        room_action(app, conversation, cast["ann"], "stop")
        with app.app_context(), database.connection_context():
            from core.models.recording import RecordingTrack

            for track in RecordingTrack.select():  # as the browsers' finishes would
                RecordingTrack.update(chunk_total=len(webm_chunks(tones["ann" if track.user_id == cast["ann"].id
                                                                        else "ben"]))).where(
                    RecordingTrack.id == track.id).execute()
            from core.recording.processing import process_recording

            assert process_recording(the_recording(app).id) == "processed"
            store = app.extensions["oss_connect"].blobs
            keys = store.keys("recordings/")
        assert type(store).__name__ == "S3BlobStore"
        assert {key.rsplit("/", 1)[-1] for key in keys} >= {"master.wav", "master.flac", "access.opus",
                                                            "original.webm"}
        assert not (instance / "blobs").exists(), "nothing went to the local folder"
        samples, rate, _, _ = decode(fetch(app, outputs(app)["master"], tmp_path))
        assert samples.shape[0] == 2 and rate == 48000

"""The admins' side of recordings: the recordings page with its job status, processing again after a
failure, and `oss-connect check` trying the blob store (a real S3-compatible server, moto)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from core.db import database
from core.testing import deep_merge
from tests.audio_fixtures import make_tone_webm
from tests.conftest import csrf_token_from, s3_bucket
from tests.recording_helpers import consent_both, room_action, seed_take, webm_chunks
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

OSS_CONNECT = Path(sys.executable).parent / "oss-connect"
SECRET = "a-secret-key-for-tests-only-0123456789abcdef"


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, {"recording": {"upload_grace_minutes": 30}})


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    found = booked(app, cast["ann"], cast["ben"], minutes_ago=1)
    consent_both(app, found, cast["ann"], cast["ben"])
    return found


def signed_in(app, login, email: str) -> Any:
    client = app.test_client()
    login(email, test_client=client)
    return client


def test_the_recordings_page_shows_waiting_then_processed_files(app, login, cast, conversation, tmp_path):
    from core.models.recording import Recording

    tone = make_tone_webm(tmp_path / "tone.webm", seconds=4, frequency=440)
    seed_take(app, conversation, cast["ann"], webm_chunks(tone))
    admin = signed_in(app, login, "ada@example.org")
    page = admin.get("/admin/recordings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Waiting for uploads" in html and "Process now with what arrived" in html
    assert "browser take" in html and "of 5 chunks" in html and "example.org" not in html
    with app.app_context(), database.connection_context():
        recording = Recording.get()
    progress = admin.get(f"/admin/recordings/{recording.id}/progress.json").get_json()
    assert progress == {"ok": True, "id": recording.id, "status": "open", "progress": 0.0, "label": "",
                        "error": None}
    token = csrf_token_from(html)
    answer = admin.post(f"/admin/recordings/{recording.id}/process", data={"csrf_token": token})
    assert answer.status_code == 302  # queued, and in tests run at once
    html = admin.get("/admin/recordings").get_data(as_text=True)
    assert "Processed" in html and "master" in html and "audio/wav" in html and "LUFS" in html
    assert admin.get(f"/admin/recordings/{recording.id}/progress.json").get_json()["status"] == "processed"
    assert "job-status.js" in html


def test_a_failed_recording_says_why_and_can_be_processed_again(app, login, cast, conversation, tmp_path):
    from core.models.recording import Recording, RecordingChunk

    tone = make_tone_webm(tmp_path / "tone.webm", seconds=3, frequency=440)
    seed_take(app, conversation, cast["ann"], webm_chunks(tone))
    room_action(app, conversation, cast["ann"], "stop")
    with app.app_context(), database.connection_context():
        good = {row.id: row.blob_key for row in RecordingChunk.select()}
        store = app.extensions["oss_connect"].blobs
        first = RecordingChunk.get(RecordingChunk.sequence == 0)
        kept = store.get_bytes(first.blob_key)
        store.put_bytes(first.blob_key, b"garbage that no decoder takes" * 10)  # storage went bad
        from core.recording.processing import process_recording

        assert process_recording(Recording.get().id) == "failed"
    admin = signed_in(app, login, "ada@example.org")
    html = admin.get("/admin/recordings").get_data(as_text=True)
    assert "Failed" in html and "Process again" in html and "Traceback" not in html
    with app.app_context(), database.connection_context():
        recording = Recording.get()
        assert "chunk 0 of take" in recording.error and "no longer matches the checksum" in recording.error
        assert "Restore it from a backup" in html
        store.put_bytes(first.blob_key, kept)  # repaired
        assert {row.id: row.blob_key for row in RecordingChunk.select()} == good
    answer = admin.post(f"/admin/recordings/{recording.id}/process", data={"csrf_token": csrf_token_from(html)})
    assert answer.status_code == 302
    with app.app_context(), database.connection_context():
        assert Recording.get().status == "processed"


def test_only_admins_see_recordings(app, login, conversation):
    for email in ("ann@example.org", "fay@example.org"):
        client = signed_in(app, login, email)
        assert client.get("/admin/recordings").status_code in (403, 404)
        assert client.get("/admin/recordings/1/progress.json").status_code in (403, 404)
    assert app.test_client().get("/admin/recordings").status_code in (302, 401, 403)


# --- `oss-connect check` tries the blob store ------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(s3_server: str) -> str:
    """The real S3-compatible server (moto), holding the bucket `oss-recordings`."""
    return s3_bucket(s3_server, "oss-recordings")


def check(folder: Path, storage: str) -> subprocess.CompletedProcess[str]:
    config = folder / "oss-connect.yaml"
    config.write_text(f"site:\n  secret_key: {SECRET}\nplugins:\n  call_webrtc:\n"
                      + textwrap.dedent(storage).lstrip("\n"), encoding="utf-8")
    return subprocess.run([str(OSS_CONNECT), "check", "--config", str(config)], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"})


def test_check_passes_with_a_reachable_bucket(tmp_path, s3_endpoint):
    done = check(tmp_path, f"""
        storage:
          backend: s3
          s3:
            bucket: oss-recordings
            endpoint_url: {s3_endpoint}
            access_key_id: test
            secret_access_key: test
    """)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_check_names_the_file_line_and_key_of_a_missing_bucket(tmp_path, s3_endpoint):
    done = check(tmp_path, f"""
        storage:
          backend: s3
          s3:
            bucket: no-such-bucket
            endpoint_url: {s3_endpoint}
            access_key_id: test
            secret_access_key: test
    """)
    assert done.returncode == 2
    assert f"{tmp_path / 'oss-connect.yaml'}:7: storage.s3:" in done.stderr
    assert "no-such-bucket" in done.stderr and "docs/storage.md" in done.stderr and "Traceback" not in done.stderr


def test_check_refuses_a_local_folder_that_cannot_be_made(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    done = check(tmp_path, """
        storage:
          folder: taken/blobs
    """)
    assert done.returncode == 2 and "storage:" in done.stderr and "taken" in done.stderr
    assert not (tmp_path / "blobs").exists()


def test_the_process_recording_command_says_what_it_did(app, cast, conversation, instance, tmp_path):
    import yaml

    from core.models.recording import Recording

    settings = yaml.safe_load((instance / "oss-connect.yaml").read_text())
    settings["plugins"] = {}  # the test's in-process plugins are not installed
    config = instance / "cli.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(OSS_CONNECT), "process-recording", *args, "--config", str(config)],
                              capture_output=True, text=True, timeout=120)

    done = command()
    assert done.returncode == 2 and "or pass --due" in done.stderr
    done = command("--due")
    assert done.returncode == 0 and "no recording is due" in done.stdout
    done = command("999")
    assert done.returncode == 1 and "recording 999: there is no such recording" in done.stderr
    tone = make_tone_webm(tmp_path / "tone.webm", seconds=3, frequency=440)
    seed_take(app, conversation, cast["ann"], webm_chunks(tone))
    with app.app_context(), database.connection_context():
        recording_id = Recording.get().id
    done = command(str(recording_id))
    assert done.returncode == 0 and f"recording {recording_id}: processed" in done.stdout, done.stderr
    assert done.stdout.startswith(f"recording {recording_id}\n")  # the progress bar's label (no bar off a terminal)
    done = command(str(recording_id))
    assert done.returncode == 0 and "nothing to do (processed)" in done.stdout

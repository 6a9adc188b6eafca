"""The recorder's upload API with a real test client, a real database and the real local blob store:
idempotent chunks, checksums, limits, content checks, who may upload and when."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from core.db import database
from core.testing import deep_merge
from tests.audio_fixtures import make_tone_webm
from tests.recording_helpers import Recorder, consent_both, move_stop_back, room_action, signed_in_recorder, webm_chunks
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64


@pytest.fixture(scope="module")
def chunks(tmp_path_factory) -> list[bytes]:
    path = make_tone_webm(tmp_path_factory.mktemp("audio") / "tone.webm", seconds=6, frequency=440)
    found = webm_chunks(path)
    assert len(found) >= 4, "the fixture has several clusters"
    return found


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, {"recording": {"max_chunk_bytes": 64 * 1024, "max_minutes": 5,
                                                    "upload_grace_minutes": 30}})


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    return booked(app, cast["ann"], cast["ben"], minutes_ago=1)


@pytest.fixture
def ann(app, login, conversation) -> Recorder:
    return signed_in_recorder(app, login, conversation, "ann@example.org")


@pytest.fixture
def recording(app, cast, conversation) -> Any:
    consent_both(app, conversation, cast["ann"], cast["ben"])
    return conversation


def chunk_rows(app) -> list[Any]:
    from core.models.recording import RecordingChunk

    with app.app_context(), database.connection_context():
        return list(RecordingChunk.select().order_by(RecordingChunk.track, RecordingChunk.sequence))


def blob_keys(app) -> list[str]:
    with app.app_context():
        return app.extensions["oss_connect"].blobs.keys("recordings/")


def test_before_both_consent_there_is_nothing_to_record(app, ann, conversation):
    status, body = ann.status()
    assert status == 200 and body["state"] == "off" and body["accepting"] is False and body["tracks"] == []
    assert body["timeslice_seconds"] == 5 and body["max_chunk_bytes"] == 64 * 1024
    status, body = ann.new_track()
    assert status == 409 and body["code"] == "not_recording" and "not running" in body["error"]


def test_chunks_are_stored_once_and_the_server_says_which_it_holds(app, ann, recording, chunks):
    status, body = ann.new_track()
    assert status == 201 and body["track"]["held"] == [] and body["track"]["final"] is False
    track = body["track"]["id"]
    for sequence, chunk in enumerate(chunks):
        status, answer = ann.put(track, sequence, chunk)
        assert status == 201 and answer["stored"] is True and answer["held"] == list(range(sequence + 1))
    status, answer = ann.put(track, 1, chunks[1])  # a retry after a lost answer
    assert status == 200 and answer["stored"] is False and answer["held"] == list(range(len(chunks)))
    rows = chunk_rows(app)
    assert [row.sequence for row in rows] == list(range(len(chunks)))
    assert [row.sha256 for row in rows] == [hashlib.sha256(chunk).hexdigest() for chunk in chunks]
    with app.app_context():
        store = app.extensions["oss_connect"].blobs
        assert b"".join(store.get_bytes(row.blob_key) for row in rows) == b"".join(chunks)
    status, body = ann.status()
    assert body["accepting"] is True and body["tracks"] == [
        {"id": track, "held": list(range(len(chunks))), "final": False, "chunks": None}]


def test_a_different_chunk_at_a_held_sequence_is_refused_and_the_first_kept(app, ann, recording, chunks):
    _, body = ann.new_track()
    track = body["track"]["id"]
    ann.put(track, 0, chunks[0])
    ann.put(track, 1, chunks[1])
    status, answer = ann.put(track, 1, chunks[2])
    assert status == 409 and answer["code"] == "conflict" and "already held" in answer["error"]
    assert [row.sha256 for row in chunk_rows(app)][1] == hashlib.sha256(chunks[1]).hexdigest()
    assert len(blob_keys(app)) == 2


def test_a_wrong_checksum_gets_422_and_nothing_is_kept(app, ann, recording, chunks):
    _, body = ann.new_track()
    track = body["track"]["id"]
    status, answer = ann.put(track, 0, chunks[0], sha256=hashlib.sha256(b"other bytes").hexdigest())
    assert status == 422 and answer["code"] == "checksum" and "Send it again" in answer["error"]
    assert chunk_rows(app) == [] and blob_keys(app) == []
    damaged = chunks[0][:-1] + bytes([chunks[0][-1] ^ 0xFF])  # a bit flipped on the way
    status, answer = ann.put(track, 0, damaged, sha256=hashlib.sha256(chunks[0]).hexdigest())
    assert status == 422 and chunk_rows(app) == []
    assert ann.put(track, 0, chunks[0])[0] == 201


@pytest.mark.parametrize("header", ["", "abc", "G" * 64, "0" * 63])
def test_a_missing_or_malformed_checksum_header_is_a_clear_400(app, ann, recording, chunks, header):
    _, body = ann.new_track()
    status, answer = ann.put(body["track"]["id"], 0, chunks[0], sha256=header)
    assert status == 400 and "X-Chunk-SHA256" in answer["error"] and chunk_rows(app) == []


def test_past_the_limits_the_answer_is_413(app, ann, recording, chunks):
    _, body = ann.new_track()
    track = body["track"]["id"]
    too_big = chunks[0] + b"\x00" * (64 * 1024)
    status, answer = ann.put(track, 0, too_big)
    assert status == 413 and answer["code"] == "too_large" and "recording.max_chunk_bytes" in answer["error"]
    last_allowed = (5 * 60) // 5 + 1
    status, answer = ann.put(track, last_allowed + 1, chunks[1])
    assert status == 413 and answer["code"] == "too_long" and "5 minutes" in answer["error"]
    assert chunk_rows(app) == [] and blob_keys(app) == []


def test_content_that_is_not_audio_is_refused_whatever_it_claims(app, ann, recording, chunks, tmp_path):
    _, body = ann.new_track()
    track = body["track"]["id"]
    status, answer = ann.put(track, 0, PNG)  # sent as audio/webm, but a PNG by content
    assert status == 415 and answer["code"] == "not_audio" and "PNG" in answer["error"]
    assert ann.put(track, 0, b"<html><body>hello</body></html>")[0] == 415
    assert ann.put(track, 0, chunks[0])[0] == 201
    status, answer = ann.put(track, 1, chunks[0])  # a second stream's header is not a continuation
    assert status == 415
    assert ann.put(track, 1, PNG)[0] == 415
    assert ann.put(track, 1, chunks[1])[0] == 201
    assert [row.sequence for row in chunk_rows(app)] == [0, 1]
    status, answer = ann.new_track(mime_type="video/mp4")
    assert status == 415 and "Opus" in answer["error"]


def test_only_the_two_participants_may_upload(app, login, cast, recording, ann, chunks):
    _, body = ann.new_track()
    track = body["track"]["id"]
    for email in ("cal@example.org", "fay@example.org", "ada@example.org"):
        other = signed_in_recorder(app, login, recording, email)
        assert other.status()[0] == 404
        assert other.new_track()[0] == 404
        status, answer = other.put(track, 0, chunks[0])
        assert status == 404 and answer["code"] == "not_found" and "no such recording" in answer["error"]
    ben = signed_in_recorder(app, login, recording, "ben@example.org")
    status, answer = ben.put(track, 0, chunks[0])  # Ann's track is not Ben's to write
    assert status == 404 and answer["code"] == "not_found"
    anonymous = app.test_client()
    response = anonymous.get(f"/conversations/{recording.id}/recording")
    assert response.status_code == 401 and response.get_json()["code"] == "signed_out"
    response = anonymous.put(f"/conversations/{recording.id}/recording/tracks/{track}/chunks/0", data=chunks[0])
    assert response.status_code in (400, 401) and response.is_json
    assert chunk_rows(app) == []


def test_a_put_without_the_csrf_token_is_refused_as_json(app, ann, recording, chunks):
    _, body = ann.new_track()
    response = ann.client.put(f"{ann.base}/tracks/{body['track']['id']}/chunks/0", data=chunks[0],
                              headers={"X-Chunk-SHA256": hashlib.sha256(chunks[0]).hexdigest()})
    assert response.status_code == 400 and response.get_json()["code"] == "csrf"
    assert chunk_rows(app) == []


def test_uploads_go_on_after_the_stop_until_the_grace_ends(app, ann, cast, recording, chunks):

    _, body = ann.new_track()
    track = body["track"]["id"]
    assert ann.put(track, 0, chunks[0])[0] == 201
    room_action(app, recording, cast["ann"], "stop")
    assert ann.new_track()[0] == 409  # no new take once stopped
    assert ann.put(track, 1, chunks[1])[0] == 201  # but queued chunks still arrive
    move_stop_back(app, 31)
    status, answer = ann.put(track, 2, chunks[2])
    assert status == 403 and answer["code"] == "closed" and "closed" in answer["error"]
    assert ann.status()[1]["accepting"] is False
    assert [row.sequence for row in chunk_rows(app)] == [0, 1]


def test_finishing_a_track_is_idempotent_and_checked(app, ann, recording, chunks):
    _, body = ann.new_track()
    track = body["track"]["id"]
    for sequence in range(3):
        ann.put(track, sequence, chunks[sequence])
    status, answer = ann.finish(track, 2)
    assert status == 409 and "past 1" in answer["error"]
    status, answer = ann.finish(track, 3)
    assert status == 200 and answer["track"] == {"id": track, "held": [0, 1, 2], "final": True, "chunks": 3}
    assert ann.finish(track, 3)[0] == 200
    status, answer = ann.finish(track, 4)
    assert status == 409 and "already finished with 3" in answer["error"]
    status, answer = ann.put(track, 3, chunks[3])
    assert status == 409 and answer["code"] == "final"
    assert ann.finish(track, "three")[0] == 400


@pytest.mark.parametrize("body", [None, [], {"started_at_ms": "soon", "mime_type": "audio/webm"},
                                  {"started_at_ms": True, "mime_type": "audio/webm"}])
def test_a_bad_track_request_is_a_clear_400(app, ann, recording, body):
    response = ann.client.post(f"{ann.base}/tracks", json=body, headers={"X-CSRFToken": ann.csrf})
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"


def test_both_browsers_starting_at_once_both_get_their_track(app, login, cast, recording):
    """Two participants' recorders start in the same instant (SQLite once answered "database is locked")."""
    import threading

    recorders = [signed_in_recorder(app, login, recording, email)
                 for email in ("ann@example.org", "ben@example.org") * 3]
    barrier = threading.Barrier(len(recorders))
    answers: list[int] = []

    def start(rec: Recorder) -> None:
        barrier.wait()
        answers.append(rec.new_track()[0])

    threads = [threading.Thread(target=start, args=(rec,)) for rec in recorders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [201] * len(recorders)

"""Bounds on the recorder's uploads, through the real upload API: the 4 MB chunk limit answered as JSON,
takes per person and recording, the rate of new takes (counted in the database) and bytes per take."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

from core.db import database
from core.recording.webm import split_clusters
from core.testing import deep_merge
from tests.audio_fixtures import chromium_like_chunks, make_speechlike_webm
from tests.recording_helpers import signed_in_recorder
from tests.room_fakes import ROOM_SETTINGS
from tests.test_recording_admin import (  # noqa: F401 (fixtures: the room's plugins and people, a consented conversation)
    cast,
    conversation,
    oss_connect_plugins,
)

FOUR_MB = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> bytes:
    """Loud noise at the highest bitrate libopus takes for mono (256 kbit/s): blocks as large as a recorder's."""
    return make_speechlike_webm(tmp_path_factory.mktemp("audio") / "noise.webm", 8, level=0.5,
                                bitrate="256k").read_bytes()


@pytest.fixture
def oss_connect_settings(request) -> dict[str, Any]:
    extra = getattr(request, "param", {})
    return deep_merge(ROOM_SETTINGS, deep_merge({"recording": {"upload_grace_minutes": 30}}, extra))


@pytest.fixture
def ann(app, login, conversation) -> Any:  # noqa: F811 (the imported fixture)
    return signed_in_recorder(app, login, conversation, "ann@example.org")


def media_of_size(webm: bytes, size: int) -> bytes:
    """`size` bytes of cluster data: real Clusters over and over, then the start of a real one, cut at `size`
    inside one of its blocks (a chunk may end anywhere in a block's audio)."""
    clusters = split_clusters(webm)[1:-1]
    body, turn = b"", 0
    while True:
        cluster = clusters[turn % len(clusters)]
        if len(body) + len(cluster) > size:
            break
        body, turn = body + cluster, turn + 1
    data = body + cluster[:size - len(body)]
    assert len(data) == size and len(cluster) > 2000
    return data


def put_raw(ann: Any, track: int, sequence: int, data: bytes) -> Any:
    return ann.client.put(f"{ann.base}/tracks/{track}/chunks/{sequence}", data=data, headers={
        "X-CSRFToken": ann.csrf, "Content-Type": "audio/webm", "X-Chunk-SHA256": hashlib.sha256(data).hexdigest()})


def test_the_documented_4_mb_chunk_limit_is_the_real_one_and_answers_json(app, ann, webm):
    _, body = ann.new_track()
    track = body["track"]["id"]
    assert ann.put(track, 0, chromium_like_chunks(webm)[0])[0] == 201
    exactly = media_of_size(webm, FOUR_MB)
    response = put_raw(ann, track, 1, exactly)  # more than the site's 2 MB for forms: this route's own limit
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    response = put_raw(ann, track, 2, exactly + b"\x00")
    assert response.status_code == 413 and response.is_json
    answer = response.get_json()
    assert answer["code"] == "too_large" and "4194304" in answer["error"] and "recording.max_chunk_bytes" in answer[
        "error"]
    response = ann.client.put(f"{ann.base}/tracks/{track}/chunks/3", data=b"\x00" * (3 * 1024 * 1024),
                              headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": ann.csrf,
                                       "X-Chunk-SHA256": "0" * 64})
    assert response.status_code != 413  # a body the CSRF check reads as a form is bound by the same limit


def test_other_recorder_calls_past_the_site_limit_are_json_too(app, ann):
    response = ann.client.post(f"{ann.base}/tracks", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                               headers={"Content-Type": "application/json", "X-CSRFToken": ann.csrf})
    assert response.status_code == 413 and response.get_json()["code"] == "too_large"


@pytest.mark.parametrize("oss_connect_settings", [{"recording": {"new_take_rate": "100 per hour"}}], indirect=True)
def test_the_eleventh_take_is_refused(app, login, ann, cast, conversation):  # noqa: F811 (imported fixtures)
    for _ in range(10):
        assert ann.new_track()[0] == 201
    status, answer = ann.new_track()
    assert status == 409 and answer["code"] == "too_many_takes"
    assert "10 takes" in answer["error"] and "recording.max_takes_per_person" in answer["error"]
    from core.models.recording import RecordingTrack

    with app.app_context(), database.connection_context():
        assert RecordingTrack.select().where(RecordingTrack.user == cast["ann"].id).count() == 10
    ben = signed_in_recorder(app, login, conversation, "ben@example.org")  # the limit is per person
    assert ben.new_track()[0] == 201


@pytest.mark.parametrize("oss_connect_settings", [{"recording": {"new_take_rate": "3 per hour"}}], indirect=True)
def test_new_takes_are_rate_limited_per_person_in_the_database(app, ann, cast):  # noqa: F811 (the imported fixture)
    for _ in range(3):
        assert ann.new_track()[0] == 201
    response = ann.client.post(f"{ann.base}/tracks", json={"started_at_ms": dt.datetime.now(dt.UTC).timestamp() * 1000,
                                                          "mime_type": "audio/webm;codecs=opus"},
                               headers={"X-CSRFToken": ann.csrf})
    answer = response.get_json()
    assert response.status_code == 429 and answer["code"] == "take_rate_limited"
    assert "recording.new_take_rate" in answer["error"] and 3500 <= int(response.headers["Retry-After"]) <= 3601
    from core.models.recording import RecordingTrack

    with app.app_context(), database.connection_context():  # an hour later the oldest take no longer counts
        oldest = RecordingTrack.select().order_by(RecordingTrack.id).first()
        RecordingTrack.update(created_at=oldest.created_at - dt.timedelta(minutes=61)).where(
            RecordingTrack.id == oldest.id).execute()
    assert ann.new_track()[0] == 201


@pytest.mark.parametrize("oss_connect_settings", [{"recording": {"max_minutes": 5, "max_bitrate_kbps": 6,
                                                                  "max_chunk_bytes": 64 * 1024}}], indirect=True)
def test_bytes_beyond_the_take_bound_are_refused(app, ann, webm):
    bound = 5 * 60 * 6000 // 8
    bound += bound // 20 + 64 * 1024  # 5 minutes at 6 kbit/s, 5% for the container, one chunk of margin
    _, body = ann.new_track()
    track = body["track"]["id"]
    first = chromium_like_chunks(webm)[0]
    assert ann.put(track, 0, first)[0] == 201
    held, sequence = len(first), 1
    piece = media_of_size(webm, 60_000)
    while held + len(piece) <= bound:
        assert ann.put(track, sequence, piece)[0] == 201
        held, sequence = held + len(piece), sequence + 1
    status, answer = ann.put(track, sequence, piece)
    assert status == 413 and answer["code"] == "take_too_large"
    assert str(bound) in answer["error"] and "recording.max_bitrate_kbps" in answer["error"]
    assert bound - held > 5000
    status, answer = ann.put(track, sequence, media_of_size(webm, bound - held))  # up to the bound exactly
    assert status == 201, answer
    assert ann.put(track, sequence + 1, chromium_like_chunks(webm)[1][:5000])[1]["code"] == "take_too_large"


def test_a_chunk_streamed_without_a_length_is_bound_by_the_same_limit(app, ann, webm):
    import io

    _, body = ann.new_track()
    track = body["track"]["id"]
    assert ann.put(track, 0, chromium_like_chunks(webm)[0])[0] == 201
    data = media_of_size(webm, FOUR_MB) + b"\x00"
    response = ann.client.put(f"{ann.base}/tracks/{track}/chunks/1", input_stream=io.BytesIO(data),
                              environ_overrides={"wsgi.input_terminated": True},
                              headers={"X-CSRFToken": ann.csrf, "Content-Type": "audio/webm",
                                       "Transfer-Encoding": "chunked",
                                       "X-Chunk-SHA256": hashlib.sha256(data).hexdigest()})
    assert response.request.content_length is None
    assert response.status_code == 413 and response.get_json()["code"] == "too_large"
    exactly = data[:-1]
    response = ann.client.put(f"{ann.base}/tracks/{track}/chunks/1", input_stream=io.BytesIO(exactly),
                              environ_overrides={"wsgi.input_terminated": True},
                              headers={"X-CSRFToken": ann.csrf, "Content-Type": "audio/webm",
                                       "Transfer-Encoding": "chunked",
                                       "X-Chunk-SHA256": hashlib.sha256(exactly).hexdigest()})
    assert response.status_code == 201, response.get_data(as_text=True)[:300]

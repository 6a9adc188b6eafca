"""The in-room recorder (core/static/js/recorder.js) in real headless Chromium against the real upload API:
both participants record their own fake microphone while the call runs, every chunk reaches the server
once and in order, and each take ends final with chunks 0..n-1. A network cut keeps the chunks in the
browser and uploads them when the connection is back; a reload mid-recording starts a second take and
finishes the first, nothing lost.

`recording_tracks()` returns both participants' tracks as the API and the database see them; later
checks (the processed master) can build on it.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.db import database
from tests.browser import create_account
from tests.browser.test_room import enter, person, wait_connected
from tests.matching_fakes import LeanPlugin
from tests.room_fakes import booked, people

TIMESLICE = 2  # seconds: several chunks per take in a short test
CHUNK_PUT = re.compile(r"/recording/tracks/(\d+)/chunks/(\d+)$")


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The real WebRTC provider (the recorder records the call's own microphone) and a short timeslice."""
    return {"plugins": {"questionnaire_yaml": None, "call_webrtc": None},
            "matching": {"strategy": "lean"},
            "room": {"call_provider": "webrtc"},
            "scheduling": {"early_entry_minutes": 10, "slot_minutes": 75, "recorded_minutes": 50},
            "recording": {"timeslice_seconds": TIMESLICE}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """The lean matching fake, for complete profiles."""
    return {"lean": LeanPlugin()}


@pytest.fixture
def cast(live_server: Any) -> dict[str, Any]:
    """Ann and Ben (the pair), and others the room tests use."""
    return people(live_server.app, create_account)


@dataclass
class Track:
    """One take of one participant: the API's answer and the database's rows."""

    id: int
    held: list[int]
    final: bool
    chunks: int | None
    user_id: int | None = None
    stored: list[int] = field(default_factory=list)  # the sequences of the database's chunk rows
    sizes: list[int] = field(default_factory=list)


def api_status(page: Any, conversation_id: int) -> dict[str, Any]:
    """GET the recording status from the page, with its session: the caller's own tracks."""
    return page.evaluate("""async (id) => {
        const response = await fetch(`/conversations/${id}/recording`, {credentials: "same-origin"});
        return {status: response.status, body: await response.json()};
    }""", conversation_id)


def recording_tracks(pages: dict[str, Any], conversation_id: int) -> dict[str, list[Track]]:
    """Each participant's tracks (by the name of their page), in creation order: API status joined with the
    database's RecordingTrack and RecordingChunk rows."""
    from core.models.recording import Recording, RecordingChunk, RecordingTrack

    found: dict[str, list[Track]] = {}
    with database.connection_context():
        rows = {track.id: track for track in RecordingTrack.select().join(Recording)
                .where(Recording.conversation == conversation_id)}
        chunks: dict[int, list[Any]] = {}
        for chunk in RecordingChunk.select().where(RecordingChunk.track.in_(list(rows))).order_by(
                RecordingChunk.track, RecordingChunk.sequence):
            chunks.setdefault(chunk.track_id, []).append(chunk)
    for name, page in pages.items():
        answer = api_status(page, conversation_id)
        assert answer["status"] == 200 and answer["body"]["ok"], answer
        found[name] = []
        for item in sorted(answer["body"]["tracks"], key=lambda item: item["id"]):
            row = rows.get(item["id"])
            assert row is not None, f"the API shows track {item['id']}, the database does not"
            found[name].append(Track(id=item["id"], held=item["held"], final=item["final"], chunks=item["chunks"],
                                     user_id=row.user_id,
                                     stored=[chunk.sequence for chunk in chunks.get(item["id"], [])],
                                     sizes=[chunk.size for chunk in chunks.get(item["id"], [])]))
    return found


def watch_uploads(page: Any) -> Counter:
    """Count the server's answers to chunk uploads from this page, by (track, sequence, status)."""
    answers: Counter = Counter()

    def seen(response: Any) -> None:
        match = CHUNK_PUT.search(response.url)
        if match and response.request.method == "PUT":
            answers[(int(match.group(1)), int(match.group(2)), response.status)] += 1

    page.on("response", seen)
    page.on("dialog", lambda dialog: dialog.accept())  # "chunks unsent" before a reload: leave anyway
    return answers


def start_recording(ann: Any, ben: Any) -> None:
    """Both agree; both recorders run."""
    for page in (ann, ben):
        page.get_by_role("button", name="I agree to be recorded").click()
    for page in (ann, ben):
        wait_recorder(page, "recording")


def wait_recorder(page: Any, state: str, timeout: int = 15_000) -> None:
    """Until this page's recorder is in `state` (recording, paused, inactive); else say what it shows."""
    try:
        page.wait_for_function("(state) => window.ossRecorder && window.ossRecorder.state() === state", arg=state,
                               timeout=timeout)
    except Exception as error:
        raise AssertionError(f"recorder {page.evaluate('window.ossRecorder && window.ossRecorder.state()')!r}, "
                             f"not {state!r}; room {page.locator('#room').get_attribute('data-recording')!r}; "
                             f"{page.locator('#recording-upload').inner_text()!r}; "
                             f"{page.locator('#room-status').inner_text()!r}; "
                             f"console: {getattr(page, 'oss_logs', [])[-12:]}") from error


def stop_recording(page: Any, *others: Any) -> None:
    """`page` stops the recording; every page's recorder comes to rest."""
    page.get_by_role("button", name="Stop the recording").click()
    for each in (page, *others):
        each.wait_for_selector("#recording-indicator[data-state=stopped]")
        wait_recorder(each, "inactive")


def pending(page: Any) -> int:
    """Chunks this page still has to upload (in IndexedDB or being stored)."""
    return page.evaluate("window.ossRecorder.pending()")


def wait_uploaded(pages: dict[str, Any], conversation_id: int, timeout: float = 20.0) -> dict[str, list[Track]]:
    """Until nothing waits in any browser and every track is final; then the tracks."""
    deadline = time.monotonic() + timeout
    while True:
        left = {name: pending(page) for name, page in pages.items()}
        tracks = recording_tracks(pages, conversation_id)
        if not any(left.values()) and all(track.final for each in tracks.values() for track in each):
            return tracks
        if time.monotonic() > deadline:
            raise AssertionError(f"still pending {left}; tracks {tracks}; "
                                 f"{[page.locator('#recording-upload').inner_text() for page in pages.values()]}")
        time.sleep(0.25)


def assert_complete(track: Track, user_id: int, recorded: int | None = None) -> None:
    """A final take of this user with chunks 0..n-1, each held once, as many as the browser recorded."""
    assert track.final and track.chunks is not None and track.chunks >= 1, track
    assert track.user_id == user_id, track
    assert track.held == list(range(track.chunks)), track
    assert track.stored == list(range(track.chunks)), track
    assert all(size > 0 for size in track.sizes), track
    if recorded is not None:
        assert track.chunks == recorded, (track, recorded)


def assert_each_stored_once(answers: Counter, tracks: list[Track]) -> None:
    """The server stored every chunk on its first arrival and never received a held chunk again."""
    stored = sorted((track, sequence) for (track, sequence, status), count in answers.items() if status == 201
                    for _ in range(count))
    assert stored == sorted((track.id, sequence) for track in tracks for sequence in track.held), answers
    assert not [key for key in answers if key[2] != 201], answers


LEAVING_IS_FREE = """() => {
    const event = new Event("beforeunload", {cancelable: true});
    window.dispatchEvent(event);
    return !event.defaultPrevented;
}"""


def leaving_is_questioned(page: Any) -> bool:
    """Whether the page asks before it is left (its beforeunload handler cancels the event)."""
    return not page.evaluate(LEAVING_IS_FREE)


def recorded_counts(page: Any) -> dict[int, int]:
    """Chunks this page's MediaRecorder produced, by track id."""
    return {int(key): value for key, value in page.evaluate("window.ossRecorder.recorded()").items()}


def test_both_participants_record_and_every_chunk_arrives_once(browser, live_server, cast):
    conversation = booked(live_server.app, cast["ann"], cast["ben"])
    with person(browser, live_server, "ann@example.org") as ann, person(browser, live_server, "ben@example.org") as ben:
        pages = {"ann": ann, "ben": ben}
        answers = {name: watch_uploads(page) for name, page in pages.items()}
        for page in (ann, ben):
            enter(page, live_server, conversation)
        for page in (ann, ben):
            wait_connected(page)
        assert ann.locator("#recording-upload").inner_text() == ""
        start_recording(ann, ben)
        ann.wait_for_timeout(6_000)
        ben.get_by_role("button", name="Pause the recording").click()
        for page in (ann, ben):
            wait_recorder(page, "paused")
        ann.wait_for_timeout(1_000)
        ann.get_by_role("button", name="Resume the recording").click()
        for page in (ann, ben):
            wait_recorder(page, "recording")
        ann.wait_for_timeout(6_000)
        assert ann.evaluate("window.ossCallAdapter.microphone().readyState") == "live"  # the call's microphone
        stop_recording(ann, ben)

        tracks = wait_uploaded(pages, conversation.id)
        for name, page in pages.items():
            assert len(tracks[name]) == 1, tracks  # a pause and a resume stay in one take
            (track,) = tracks[name]
            assert page.evaluate("window.ossRecorder.trackIds()") == [track.id]
            assert_complete(track, cast[name].id, recorded_counts(page)[track.id])
            assert track.chunks >= 12 // TIMESLICE - 1, track
            assert_each_stored_once(answers[name], tracks[name])
            assert page.locator("#recording-upload").inner_text() == "All of your recording is uploaded."
        assert ann.evaluate("window.ossCallAdapter.microphone().readyState") == "live"  # never stopped by the recorder


def test_a_network_cut_keeps_the_chunks_and_uploads_them_after(browser, live_server, cast):
    conversation = booked(live_server.app, cast["ann"], cast["ben"])
    with person(browser, live_server, "ann@example.org") as ann, person(browser, live_server, "ben@example.org") as ben:
        pages = {"ann": ann, "ben": ben}
        answers = {name: watch_uploads(page) for name, page in pages.items()}
        for page in (ann, ben):
            enter(page, live_server, conversation)
        start_recording(ann, ben)
        ben.wait_for_timeout(3_000)

        ben.context.set_offline(True)
        ben.wait_for_timeout(6_000)
        waiting = pending(ben)
        assert waiting >= 6 // TIMESLICE - 1, waiting
        assert "waiting to upload" in ben.locator("#recording-upload").inner_text()
        assert ben.locator("#recording-upload").get_attribute("data-pending") == str(waiting)
        assert leaving_is_questioned(ben)
        ben.context.set_offline(False)
        ben.wait_for_function("async () => (await window.ossRecorder.pending()) === 0", timeout=15_000)
        ben.wait_for_selector("#recording-upload[data-pending='0']")
        # The recording goes on, so a new chunk may be on its way at any moment: wait for an instant
        # with nothing pending rather than expect one right now (a stuck guard still fails here).
        ben.wait_for_function(LEAVING_IS_FREE, timeout=15_000)
        ben.wait_for_timeout(2_000)  # recording goes on after the cut
        stop_recording(ann, ben)

        tracks = wait_uploaded(pages, conversation.id)
        for name, page in pages.items():
            assert len(tracks[name]) == 1, tracks
            assert_complete(tracks[name][0], cast[name].id, recorded_counts(page)[tracks[name][0].id])
            assert_each_stored_once(answers[name], tracks[name])
        assert tracks["ben"][0].chunks >= 11 // TIMESLICE - 1, tracks


def test_a_reload_mid_recording_starts_a_second_take_and_finishes_the_first(browser, live_server, cast):
    conversation = booked(live_server.app, cast["ann"], cast["ben"])
    with person(browser, live_server, "ann@example.org") as ann, person(browser, live_server, "ben@example.org") as ben:
        pages = {"ann": ann, "ben": ben}
        answers = {name: watch_uploads(page) for name, page in pages.items()}
        for page in (ann, ben):
            enter(page, live_server, conversation)
        start_recording(ann, ben)
        ben.wait_for_timeout(5_000)
        (first,) = ben.evaluate("window.ossRecorder.trackIds()")
        recorded_before = recorded_counts(ben)[first]
        assert recorded_before >= 1

        ben.reload()
        ben.wait_for_selector("#room[data-joined=true]")
        wait_recorder(ben, "recording")
        ben.wait_for_function("() => window.ossRecorder.trackIds().length === 1")  # the new take's track
        (second,) = ben.evaluate("window.ossRecorder.trackIds()")
        assert second != first
        ben.wait_for_timeout(5_000)
        stop_recording(ann, ben)

        tracks = wait_uploaded(pages, conversation.id)
        assert len(tracks["ann"]) == 1, tracks
        assert_complete(tracks["ann"][0], cast["ann"].id, recorded_counts(ann)[tracks["ann"][0].id])
        assert [track.id for track in tracks["ben"]] == [first, second], tracks
        assert_complete(tracks["ben"][0], cast["ben"].id)
        assert tracks["ben"][0].chunks >= recorded_before, tracks  # all it had recorded before the reload
        assert_complete(tracks["ben"][1], cast["ben"].id, recorded_counts(ben)[second])
        assert_each_stored_once(answers["ann"], tracks["ann"])
        assert_each_stored_once(answers["ben"], tracks["ben"])  # the listener saw both pages of the reload


@pytest.fixture(scope="module")
def speaking_browser(browser: Any, tmp_path_factory: Any) -> Any:
    """Chromium whose fake microphone plays speech-like sound (syllable-rate bursts of pink noise with
    pauses, from a WAV made by ffmpeg) instead of its default full-scale beeps, whose clicks no listening
    copy could bring to -16 LUFS under a -2 dBFS ceiling (two-pass loudnorm lands at -19.9 on them)."""
    import shutil
    import subprocess

    from core.recording.audio import ffmpeg_executable
    from tests.conftest import CHROMIUM_ARGS

    voice = tmp_path_factory.mktemp("voice") / "voice.wav"
    envelope = "(0.6+0.4*sin(2*PI*4*t))*gt(sin(2*PI*0.35*t)\\,-0.3)"
    subprocess.run([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "anoisesrc=color=pink:sample_rate=48000:amplitude=0.1:seed=7:duration=40",
                    "-af", f"volume='{envelope}':eval=frame", "-ac", "1", "-c:a", "pcm_s16le", str(voice)], check=True)
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    speaking = browser.browser_type.launch(executable_path=executable,
                                           args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={voice}"])
    yield speaking
    speaking.close()


def test_twenty_seconds_in_two_browsers_become_the_archival_master_and_the_listening_copy(
        speaking_browser, browser, live_server, cast, tmp_path):
    """The acceptance: two participants record 20 s with fake media; both takes arrive; the master has
    2 channels, 48 kHz, 24-bit and the recorded duration (within 0.5 s, read by PyAV); the listening
    copy measures -16 +/- 1 LUFS (ffmpeg's EBU R128 meter). The admins' recordings page is the README's."""
    from core.models import RecordingEvent
    from core.models.recording import Recording, RecordingOutput
    from core.recording.audio import integrated_loudness
    from tests.audio_fixtures import decode
    from tests.browser.test_accessibility import assert_accessible
    from tests.browser.test_room import screenshot_options
    from tests.browser.test_screenshots import DESKTOP, assert_sane_png, save_screenshot

    conversation = booked(live_server.app, cast["ann"], cast["ben"])
    with person(speaking_browser, live_server, "ann@example.org") as ann, \
            person(speaking_browser, live_server, "ben@example.org") as ben:
        pages = {"ann": ann, "ben": ben}
        for page in (ann, ben):
            enter(page, live_server, conversation)
        start_recording(ann, ben)
        ann.wait_for_timeout(20_000)
        stop_recording(ann, ben)
        tracks = wait_uploaded(pages, conversation.id)
        for name in pages:
            assert len(tracks[name]) == 1 and tracks[name][0].final, tracks

    deadline = time.monotonic() + 60  # the last finish started the processing (in-line in tests)
    with database.connection_context():
        while (recording := Recording.get(Recording.conversation == conversation.id)).status != "processed":
            assert recording.status != "failed" and time.monotonic() < deadline, (recording.status, recording.error)
            time.sleep(0.25)
        events = {event.action: event.elapsed_seconds for event in
                  RecordingEvent.select().where(RecordingEvent.conversation == conversation.id)}
        outputs = {output.name: output for output in
                   RecordingOutput.select().where(RecordingOutput.recording == recording.id)}
    recorded = events["stop"] - events["start"]
    assert 19 < recorded < 30, events
    store = live_server.app.extensions["oss_connect"].blobs
    files = {}
    for name in ("master", "access"):
        files[name] = tmp_path / outputs[name].blob_key.rsplit("/", 1)[-1]
        store.download(outputs[name].blob_key, files[name])
    samples, rate, codec, sample_format = decode(files["master"])
    assert (samples.shape[0], rate, codec, sample_format) == (2, 48000, "pcm_s24le", "s32")
    assert abs(samples.shape[1] / rate - recorded) < 0.5, (samples.shape[1] / rate, recorded)
    assert min(abs(samples[0]).max(), abs(samples[1]).max()) > 0, "both channels carry a participant"
    assert abs(integrated_loudness(files["access"]) - (-16.0)) <= 1.0

    with person(browser, live_server, "ada@example.org", **screenshot_options()) as admin:
        admin.goto(f"{live_server.url}/admin/recordings")
        admin.wait_for_selector(f"#recording-{recording.id}[data-status=processed]")
        assert "master" in admin.locator(f"#recording-{recording.id}").inner_text()
        assert_accessible(admin)
        assert_sane_png(save_screenshot(admin, "admin-recordings"), DESKTOP["width"])

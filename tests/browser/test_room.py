"""The conversation room in real headless Chromium with the real `call_webrtc` plugin and fake camera and
microphone: two matched participants pass the tech check, connect peer to peer, agree to be recorded and
stay in step (a guide move reaches the other screen within a second; a reload comes back to the same
place with the call reconnected); anyone else is refused. A facilitator gives time cues and writes notes;
"Having trouble?" switches to audio only, and a report ends the call for both. The room has zero axe-core
violations in every bundled theme, and the README's screenshot of the room is taken here.

One browser, one live server per test; each participant is a browser context of their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core.db import database
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_screenshots import DESKTOP, ORGANISATIONS, assert_sane_png, save_screenshot
from tests.browser.test_tech_check import wait_for_state
from tests.matching_fakes import LeanPlugin
from tests.room_fakes import booked, people

CALL_TIMEOUT = 30_000  # ms: ICE on loopback takes about a second; a loaded machine (two passes, a 3-way mesh) more


@pytest.fixture
def theme_name() -> str:
    """The theme shown; the accessibility test runs in each bundled theme."""
    return "default"


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    """The real WebRTC provider, the lean matching fake for profiles, and a plausible partner's site."""
    return {"site": {"name": "Common Ground", "organisation": ORGANISATIONS["default"]},
            "theme": {"name": theme_name},
            "plugins": {"questionnaire_yaml": None, "call_webrtc": None},
            "matching": {"strategy": "lean"},
            "room": {"call_provider": "webrtc"},
            "scheduling": {"early_entry_minutes": 10, "slot_minutes": 75, "recorded_minutes": 50}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


@pytest.fixture
def cast(live_server: Any) -> dict[str, Any]:
    """Ann and Ben (the pair), Cal (another participant), Fay (a facilitator), Ada (an admin)."""
    return people(live_server.app, create_account)


@contextmanager
def person(browser: Any, live_server: Any, email: str, **options: Any) -> Iterator[Any]:
    """A signed-in page in a browser context of its own (its own cookies)."""
    context = browser.new_context(**{"viewport": {"width": 1100, "height": 900}, **options})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        logs: list[str] = []
        page.on("console", lambda message: logs.append(f"{message.type}: {message.text}"))
        page.oss_logs = logs  # shown when the call does not connect
        sign_in(page, live_server.url, email)
        yield page
    finally:
        context.close()


def screenshot_options() -> dict[str, Any]:
    """The context of test_screenshots.py: a fixed desktop viewport and everything else that could vary."""
    return {"viewport": DESKTOP, "device_scale_factor": 1, "color_scheme": "light", "reduced_motion": "reduce",
            "locale": "en-US", "timezone_id": "UTC"}


def start_tech_check(page: Any, base_url: str) -> None:
    open_page(page, f"{base_url}/tech-check")
    page.wait_for_selector("#tech-check[data-ready=true]")
    page.get_by_role("button", name="Start the check").click()


def finish_tech_check(page: Any) -> None:
    for check in ("camera", "microphone", "socket", "peer"):
        wait_for_state(page, check)


def room_url(live_server: Any, conversation: Any) -> str:
    return f"{live_server.url}/conversations/{conversation.id}/room"


def enter(page: Any, live_server: Any, conversation: Any) -> None:
    """Open the room and wait until this page is admitted to it on the live connection."""
    open_page(page, room_url(live_server, conversation))
    page.wait_for_selector("#room[data-joined=true]")


def wait_connected(page: Any, peers: int = 1) -> None:
    """The call is connected and `peers` remote videos show real frames."""
    try:
        page.wait_for_selector("#call-media[data-call-status=connected]", timeout=CALL_TIMEOUT)
    except Exception as error:
        raise AssertionError(f"{page.locator('#room-status').inner_text()!r} "
                             f"{page.evaluate('window.ossWebrtcState && window.ossWebrtcState()')} "
                             f"{page.locator('#members-line').inner_text()!r} "
                             f"console: {getattr(page, 'oss_logs', [])[-12:]}") from error
    try:
        page.wait_for_function(
            """(count) => {
              const state = window.ossWebrtcState && window.ossWebrtcState();
              const videos = [...document.querySelectorAll("#call-media .webrtc-peer video")];
              const playing = videos.filter(v => !v.paused && v.readyState >= 2 && v.videoWidth > 0);
              return state && Object.values(state.peers).filter(s => s === "connected").length >= count
                && playing.length >= count;
            }""", arg=peers, timeout=CALL_TIMEOUT)
    except Exception as error:
        videos = page.evaluate("""() => [...document.querySelectorAll("#call-media .webrtc-peer video")].map(v =>
            ({paused: v.paused, readyState: v.readyState, width: v.videoWidth,
              tracks: v.srcObject && v.srcObject.getTracks().map(t => `${t.kind}:${t.readyState}:${t.muted}`)}))""")
        raise AssertionError(f"{page.url} {page.locator('#room-status').inner_text()!r} "
                             f"{page.evaluate('window.ossWebrtcState()')} videos: {videos} "
                             f"stats: {page.evaluate('window.ossWebrtcStats()')} "
                             f"console: {getattr(page, 'oss_logs', [])[-12:]}") from error


def assert_untroubled(page: Any, partner: str) -> None:
    """The status line still says the call is connected: no refusal or error replaced it."""
    assert page.locator("#room-status").inner_text() == f"Connected to {partner}"


def timer_seconds(page: Any) -> int:
    minutes, seconds = page.locator("#timer-elapsed").inner_text().split(":")
    return int(minutes) * 60 + int(seconds)


def version(page: Any) -> int:
    return int(page.locator("#room").get_attribute("data-version"))


def socket_answers(page: Any, conversation_id: int, to: int) -> dict[str, Any]:
    """From a signed-in page: a new Socket.IO connection asks to join the room and to signal `to`."""
    return page.evaluate(
        """([conversationId, to]) => new Promise((resolve, reject) => {
          const socket = io({transports: ["websocket"], forceNew: true});
          const answers = {};
          socket.on("connect_error", reject);
          socket.on("connect", () => {
            socket.timeout(5000).emit("room_join", {conversation_id: conversationId}, (error, answer) => {
              answers.join = error ? {error: String(error)} : answer;
              socket.timeout(5000).emit("webrtc_signal", {conversation_id: conversationId, to: to, restart: true},
                (error, answer) => {
                  answers.signal = error ? {error: String(error)} : answer;
                  socket.disconnect();
                  resolve(answers);
                });
            });
          });
        })""", [conversation_id, to])


def test_two_participants_talk_record_and_stay_in_step(browser, live_server, cast):
    conversation = booked(live_server.app, cast["ann"], cast["ben"])
    with person(browser, live_server, "ann@example.org", **screenshot_options()) as ann, \
            person(browser, live_server, "ben@example.org") as ben:
        for page in (ann, ben):  # both run at once in the one browser
            start_tech_check(page, live_server.url)
        for page in (ann, ben):
            finish_tech_check(page)

        for page in (ann, ben):
            enter(page, live_server, conversation)
        for page in (ann, ben):
            wait_connected(page)
        assert ann.locator("#members-line").inner_text() == "In the room: you and Ben G."
        assert ann.locator(".webrtc-peer video").get_attribute("aria-label") == "Camera of Ben G."
        assert ben.locator(".webrtc-peer video").get_attribute("aria-label") == "Camera of Ann G."

        ann.get_by_role("button", name="I agree to be recorded").click()
        ben.wait_for_selector(f"#consent-list li[data-user='{cast['ann'].id}'][data-agreed=true]")
        assert ben.locator("#recording-indicator").inner_text() == "Not recording"
        ben.get_by_role("button", name="I agree to be recorded").click()
        for page in (ann, ben):
            page.wait_for_selector("#recording-indicator[data-state=recording]")
            assert page.locator("#recording-indicator").inner_text() == "Recording"
            assert page.get_by_role("button", name="You agreed to be recorded").is_disabled()
        assert_untroubled(ann, "Ben G.")
        assert_untroubled(ben, "Ann G.")

        first_prompt = ben.locator("#prompt-text").inner_text()
        expected = version(ann) + 1
        started = time.monotonic()
        ann.get_by_role("button", name="Next question").click()
        ben.wait_for_selector(f"#room[data-version='{expected}']", timeout=5_000)
        took = time.monotonic() - started
        assert took < 1.0, f"the other screen showed the next question after {took:.2f} s"
        assert ben.locator("#prompt-text").inner_text() != first_prompt
        assert ben.locator("#prompt-text").inner_text() == ann.locator("#prompt-text").inner_text()
        ann.wait_for_timeout(300)  # a second, unwanted action would have been answered by now
        assert version(ann) == version(ben) == expected
        assert_untroubled(ann, "Ben G.")

        ann.wait_for_function("() => Number(document.getElementById('timer-elapsed').textContent.split(':')[1]) >= 2")
        assert_sane_png(save_screenshot(ann, "room"), DESKTOP["width"])

        ben_before = {name: ben.locator("#room").get_attribute(f"data-{name}") for name in ("version", "phase",
                                                                                            "prompt", "recording")}
        prompt_before = ben.locator("#prompt-text").inner_text()
        session_before = ben.locator("#call-media").get_attribute("data-call-session")
        ben.reload()
        ben.wait_for_selector("#room[data-joined=true]")
        assert {name: ben.locator("#room").get_attribute(f"data-{name}")
                for name in ("version", "phase", "prompt", "recording")} == ben_before
        assert ben.locator("#prompt-text").inner_text() == prompt_before
        assert ben.locator("#recording-indicator").inner_text() == "Recording"
        assert abs(timer_seconds(ben) - timer_seconds(ann)) <= 2, (timer_seconds(ben), timer_seconds(ann))
        for page in (ann, ben):
            wait_connected(page)
        assert ben.locator("#call-media").get_attribute("data-call-session") != session_before
        assert abs(timer_seconds(ben) - timer_seconds(ann)) <= 2, (timer_seconds(ben), timer_seconds(ann))

        with person(browser, live_server, "cal@example.org") as cal:
            open_page(cal, room_url(live_server, conversation), expected_status=404)
            open_page(cal, f"{live_server.url}/account")
            answers = socket_answers(cal, conversation.id, cast["ann"].id)
        assert answers["join"]["code"] == "not_found", answers
        assert "not in this conversation" in answers["signal"]["error"], answers
        assert "Cal" not in ann.locator("#members-line").inner_text()


def test_a_picture_that_stays_empty_gets_a_new_element_then_a_new_connection(browser, live_server, cast):
    """Chrome can leave a remote <video> empty while its track is live and decoding: the adapter's
    watchdog shows the stream in a new element, and when that stays empty too, rebuilds the connection.
    Here every MediaStream the page makes is empty until the connection was rebuilt."""
    conversation = booked(live_server.app, cast["ann"], cast["ben"])
    with person(browser, live_server, "ann@example.org") as ann, \
            person(browser, live_server, "ben@example.org") as ben:
        for page in (ann, ben):
            enter(page, live_server, conversation)
        for page in (ann, ben):
            wait_connected(page)
        ann_id = str(cast["ann"].id)
        bens_connection = ben.evaluate("() => window.ossWebrtcState().connections")[ann_id]
        ann.evaluate("""() => {
          const RealMediaStream = window.MediaStream;
          window.realMediaStream = RealMediaStream;
          window.MediaStream = function () { return new RealMediaStream(); };
          document.querySelector("#call-media .webrtc-peer video").srcObject = new RealMediaStream();
        }""")
        try:
            at_rebuild = ann.wait_for_function(
                "() => { const state = window.ossWebrtcState(); return state.rebuilt >= 1 && state; }",
                timeout=30_000).json_value()
        except Exception as error:
            videos = ann.evaluate("""() => [...document.querySelectorAll("#call-media .webrtc-peer video")].map(v =>
                ({readyState: v.readyState, tracks: v.srcObject && v.srcObject.getTracks().length}))""")
            raise AssertionError(f"{ann.evaluate('window.ossWebrtcState()')} {videos} "
                                 f"{ann.evaluate('window.ossWebrtcStats()')} {ann.oss_logs[-12:]}") from error
        ann.evaluate("() => { window.MediaStream = window.realMediaStream; }")
        assert str(cast["ben"].id) in at_rebuild["peers"], f"Ann's page offers a new connection at once: {at_rebuild}"
        wait_connected(ann)
        wait_connected(ben)
        assert ben.evaluate("() => window.ossWebrtcState().connections")[ann_id] != bens_connection, \
            "Ben's end should be rebuilt to match Ann's new connection"
        messages = [line for line in ann.oss_logs if "webrtc: the picture of" in line]
        assert [line.rsplit("; ", 1)[1] for line in messages[:2]] == ["new element", "reconnecting"], messages
        assert ann.locator("#call-media .webrtc-peer video").count() == 1
        assert ann.locator(".webrtc-peer video").get_attribute("aria-label") == "Camera of Ben G."
        assert_untroubled(ann, "Ben G.")


def test_a_facilitator_guides_then_audio_only_and_a_report_end_the_call(browser, live_server, cast):
    from core.models import ConversationNote

    conversation = booked(live_server.app, cast["ann"], cast["ben"], facilitator=cast["fay"])
    with person(browser, live_server, "ann@example.org") as ann, \
            person(browser, live_server, "ben@example.org") as ben, \
            person(browser, live_server, "fay@example.org") as fay:
        for page in (ann, ben, fay):
            enter(page, live_server, conversation)
        for page in (ann, ben, fay):
            wait_connected(page, peers=2)

        assert fay.get_by_role("heading", name="Facilitator").is_visible()
        assert fay.locator("#prompt-text").inner_text() == ann.locator("#prompt-text").inner_text()
        assert fay.get_by_role("button", name="Next question").is_visible()
        assert fay.locator("#recording-consent").count() == 0
        assert ann.get_by_role("heading", name="Facilitator").count() == 0
        assert sorted(ann.locator(".webrtc-peer figcaption").all_inner_texts()) == ["Ben G.", "Facilitator"]
        assert sorted(fay.locator(".webrtc-peer figcaption").all_inner_texts()) == ["Ann G.", "Ben G."]

        fay.get_by_role("button", name="5 minutes left").click()
        for page in (ann, ben):
            page.get_by_text("From the facilitator: 5 minutes left.").wait_for()
        fay.get_by_label("Keyword note (people, places, topics), stamped with the timer").fill("grandmother, Ohio")
        fay.get_by_role("button", name="Add the note").click()
        fay.locator("#note-list li").filter(has_text="grandmother, Ohio").wait_for()
        with database.connection_context():
            notes = list(ConversationNote.select().where(ConversationNote.conversation == conversation.id))
        assert [(note.author_id, note.keywords) for note in notes] == [(cast["fay"].id, "grandmother, Ohio")]

        ann.get_by_text("Help with sound, picture or connection").click()
        ann.get_by_role("button", name="Switch to audio only").click()
        ann.get_by_role("button", name="Switch video back on").wait_for()
        assert ann.evaluate("window.ossWebrtcState().audioOnly") is True
        assert ann.get_by_role("button", name="Video on again").get_attribute("aria-pressed") == "true"
        assert ann.locator(".webrtc-self").is_hidden()
        assert ann.evaluate("window.ossCallAdapter.microphone().readyState") == "live"
        ann.wait_for_selector(".webrtc-peer[data-audio-only=true] >> nth=1")
        assert ann.locator("#call-media").get_attribute("data-call-status") == "connected"
        ben.wait_for_function("""(id) => {  // Ann's picture stops on Ben's screen; her sound goes on
          const video = document.querySelector(`.webrtc-peer[data-user-id="${id}"] video`);
          const tracks = video && video.srcObject ? video.srcObject.getTracks() : [];
          return tracks.some(t => t.kind === "video" && t.muted) && tracks.some(t => t.kind === "audio" && !t.muted);
        }""", arg=cast["ann"].id)

        ann.get_by_text("Report a problem with your partner").click()
        ann.locator("input[name=reason]").first.check()
        ann.get_by_label("Details (only our moderators read them)").fill("Shouted at me.")
        with ann.expect_navigation():
            ann.get_by_role("button", name="Report and leave the call").click()
        assert ann.url == f"{room_url(live_server, conversation)}/reported"
        assert ann.get_by_role("heading", name="Thank you for telling us").is_visible()
        for page in (ben, fay):
            page.wait_for_selector("#room-ended:not([hidden])")
            assert "The conversation has ended." in page.locator("#room-ended-message").inner_text()
            page.wait_for_selector("#call-media[data-call-status=disconnected]")
            assert page.get_by_role("button", name="Next question").is_disabled()


@pytest.mark.parametrize("theme_name", THEMES)
def test_the_room_has_no_axe_violations(browser, live_server, cast, theme_name):
    conversation = booked(live_server.app, cast["ann"], cast["ben"], facilitator=cast["fay"])
    with person(browser, live_server, "ann@example.org") as ann, \
            person(browser, live_server, "fay@example.org") as fay:
        enter(ann, live_server, conversation)
        assert_accessible(ann)  # alone, waiting
        enter(fay, live_server, conversation)
        for page in (ann, fay):
            wait_connected(page)
        ann.get_by_role("button", name="I agree to be recorded").click()
        ann.wait_for_selector(f"#consent-list li[data-user='{cast['ann'].id}'][data-agreed=true]")
        for summary in ("Help with sound, picture or connection", "Report a problem with your partner",
                        "All questions: pick one", "Tips"):
            ann.get_by_text(summary).click()
        assert_accessible(ann)
        fay.get_by_role("button", name="Time to close").click()
        fay.get_by_label("Keyword note (people, places, topics), stamped with the timer").fill("harbour")
        fay.get_by_role("button", name="Add the note").click()
        fay.locator("#note-list li").wait_for()
        assert_accessible(fay)

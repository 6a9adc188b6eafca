"""The room's pages with a real test client: the room itself (guide, consent, provider payload, CSP),
who gets a 404, the closed room, "Having trouble?" reports, keyword notes and the facilitator's list."""

from __future__ import annotations

from typing import Any

import pytest

from core.db import database
from tests.conftest import csrf_token_from
from tests.conftest import without_csrf as conftest_without_csrf
from tests.room_fakes import ROOM_SETTINGS, booked, people, prepare_call, room_data, room_plugins


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return ROOM_SETTINGS


@pytest.fixture
def plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def oss_connect_plugins(plugins) -> dict[str, Any]:
    return plugins


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    return booked(app, cast["ann"], cast["ben"], minutes_ago=1)


def as_user(app: Any, login: Any, email: str) -> Any:
    other = app.test_client()
    login(email, test_client=other)
    return other


def call_rooms(app: Any) -> list[tuple[int, str]]:
    """The stored call rooms: (conversation id, room name)."""
    from core.models import CallRoomRecord

    with app.app_context(), database.connection_context():
        return [(record.conversation_id, record.name) for record in CallRoomRecord.select()]


def test_a_participant_gets_the_room_with_the_guide_the_release_and_the_call(app, login, cast, conversation, plugins):
    ann = as_user(app, login, "ann@example.org")
    page = ann.get(f"/conversations/{conversation.id}/room")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your conversation with Ben" in html and "I agree to be recorded" in html
    assert "Having trouble?" in html and "Welcome and agreements" in html
    data = room_data(html)
    assert data["me"] == {"id": cast["ann"].id, "role": "participant", "name": "Ann G."}
    assert data["call"] == {"provider": "echo", "capabilities": ["audio_only", "camera_off", "facilitator", "mute"],
                            "payload": None, "prepare": f"/conversations/{conversation.id}/room/call"}
    assert 'id="control-mute"' in html  # the call's controls are there before the call is prepared
    assert data["state"]["version"] == 0 and len(data["guide"]["phases"]) == 4
    assert "example.org" not in html  # no email of anyone, the viewer's own included
    assert page.headers["Cache-Control"] == "no-store"
    assert plugins["echo"].provider.created == [] and call_rooms(app) == []  # opening the page made nothing

    answer = ann.post(data["call"]["prepare"], headers={"X-CSRFToken": data["csrfToken"]})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    call = answer.get_json()
    assert call["provider"] == "echo" and call["capabilities"] == data["call"]["capabilities"]
    assert call["payload"]["role"] == "participant" and call["payload"]["name"] == "Ann G."
    assert "example.org" not in answer.get_data(as_text=True)
    assert plugins["echo"].provider.created == [conversation.id]
    assert plugins["echo"].statuses == [(conversation.id, "created")]
    assert call_rooms(app) == [(conversation.id, call["payload"]["room"])]
    again = room_data(ann.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))
    assert again["call"]["payload"] == call["payload"]  # once made, the page carries the payload itself


def test_the_call_room_is_created_once_per_conversation(app, login, cast, conversation, plugins):
    from core.models import Conversation

    with database.connection_context():
        Conversation.update(facilitator=cast["fay"].id).where(Conversation.id == conversation.id).execute()
    answers = {who: prepare_call(as_user(app, login, f"{who}@example.org"), conversation)
               for who in ("ann", "ben", "fay", "ada")}
    answers["ann again"] = prepare_call(as_user(app, login, "ann@example.org"), conversation)
    assert {answer.status_code for answer in answers.values()} == {200}
    payloads = {who: answer.get_json()["payload"] for who, answer in answers.items()}
    assert len({payload["room"] for payload in payloads.values()}) == 1
    assert {who: payload["role"] for who, payload in payloads.items()} == {
        "ann": "participant", "ben": "participant", "fay": "facilitator", "ada": "admin",
        "ann again": "participant"}
    assert payloads["ben"]["name"] == "Ben G."
    assert plugins["echo"].provider.created == [conversation.id]
    assert plugins["echo"].statuses == [(conversation.id, "created")]
    assert len(call_rooms(app)) == 1


def test_a_room_made_meanwhile_by_the_partners_request_is_the_one_both_join(app, login, conversation, plugins):
    from core.models import Conversation
    from core.room.calls import room_for

    echo = plugins["echo"].provider
    real = echo.create_room
    theirs = []

    def slow(call_conversation: Any) -> Any:  # while the provider works, Ben's request makes the room
        echo.create_room = real
        with app.test_request_context(), database.connection_context():
            theirs.append(room_for(Conversation.get_by_id(call_conversation.id)).name)
        return real(call_conversation)

    echo.create_room = slow
    answer = prepare_call(as_user(app, login, "ann@example.org"), conversation)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["payload"]["room"] == theirs[0]
    assert call_rooms(app) == [(conversation.id, theirs[0])]
    assert plugins["echo"].statuses == [(conversation.id, "created")]


def test_preparing_the_call_needs_the_pages_csrf_token(app, login, conversation, plugins):
    ann = as_user(app, login, "ann@example.org")
    answer = ann.post(f"/conversations/{conversation.id}/room/call")
    assert answer.status_code == 400 and plugins["echo"].provider.created == [] and call_rooms(app) == []


def without_csrf(response: Any) -> str:
    """A page without its CSRF tokens, which carry a timestamp (two pages a second apart differ there)."""
    return conftest_without_csrf(response.get_data(as_text=True))


def test_preparing_the_call_refuses_exactly_whom_the_room_refuses(app, login, client, cast, conversation, plugins):
    cal = as_user(app, login, "cal@example.org")
    token = csrf_token_from(cal.get("/account").get_data(as_text=True))
    for path in (f"/conversations/{conversation.id}/room", f"/conversations/{conversation.id + 999}/room"):
        page = cal.get(path)
        answer = cal.post(f"{path}/call", headers={"X-CSRFToken": token})
        assert page.status_code == answer.status_code == 404
        missing = cal.post(f"/conversations/{conversation.id + 999}/room/call", headers={"X-CSRFToken": token})
        assert without_csrf(answer) == without_csrf(missing)  # nothing to probe
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    signed_out = client.post(f"/conversations/{conversation.id}/room/call", headers={"X-CSRFToken": token})
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    later = booked(app, cast["ann"], cast["ben"], minutes_ago=-60)
    ann = as_user(app, login, "ann@example.org")
    assert ann.get(f"/conversations/{later.id}/room").status_code == 403
    refused = ann.post(f"/conversations/{later.id}/room/call",
                       headers={"X-CSRFToken": csrf_token_from(ann.get("/account").get_data(as_text=True))})
    assert refused.status_code == 403 and refused.get_json() == {"error": "The room is not open yet."}
    assert plugins["echo"].provider.created == [] and call_rooms(app) == []


@pytest.mark.parametrize("path", ["/room", "/notes"])
def test_anyone_else_gets_a_404_on_every_room_page(app, login, conversation, path):
    cal = as_user(app, login, "cal@example.org")
    assert cal.get(f"/conversations/{conversation.id}{path}").status_code == 404
    assert cal.get(f"/conversations/{conversation.id + 999}{path}").status_code == 404


def test_the_facilitator_and_admins_get_their_panel(app, login, cast, conversation):
    from core.models import Conversation

    with database.connection_context():
        Conversation.update(facilitator=cast["fay"].id).where(Conversation.id == conversation.id).execute()
    fay = as_user(app, login, "fay@example.org")
    html = fay.get(f"/conversations/{conversation.id}/room").get_data(as_text=True)
    assert "Conversation of Ann G. and Ben G." in html and "Give a time cue" in html
    assert "I agree to be recorded" not in html
    assert room_data(html)["me"]["role"] == "facilitator"
    assert "Ann G. and Ben G." in fay.get("/facilitate").get_data(as_text=True)
    ada = as_user(app, login, "ada@example.org")
    assert room_data(ada.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))["me"]["role"] == "admin"


def test_a_participant_has_no_facilitator_list(app, login, conversation):
    assert as_user(app, login, "ann@example.org").get("/facilitate").status_code == 404


def test_outside_the_window_the_room_says_when_it_opens(app, login, cast):
    later = booked(app, cast["ann"], cast["ben"], minutes_ago=-60)
    page = as_user(app, login, "ann@example.org").get(f"/conversations/{later.id}/room")
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "The room is not open yet." in html and "opens 10 minutes before the start" in html
    assert "room-data" not in html


def test_without_the_configured_provider_the_page_names_the_plugin_to_enable(app, login, conversation):
    ann = as_user(app, login, "ann@example.org")
    token = room_data(ann.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))["csrfToken"]
    app.extensions["oss_connect"].settings.room.call_provider = "webrtc-missing"
    try:
        html = ann.get(f"/conversations/{conversation.id}/room").get_data(as_text=True)
        answer = ann.post(f"/conversations/{conversation.id}/room/call", headers={"X-CSRFToken": token})
    finally:
        app.extensions["oss_connect"].settings.room.call_provider = "echo"
    assert "The call provider &#39;webrtc-missing&#39; is not available" in html
    assert "call_webrtc-missing" in html and room_data(html)["call"] is None
    assert answer.status_code == 503
    assert answer.get_json()["error"].startswith("The call provider 'webrtc-missing' is not available")


def test_a_failing_provider_leaves_the_guide_working(app, login, conversation, plugins):
    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    ann = as_user(app, login, "ann@example.org")
    plugins["echo"].provider.create_room = broken
    answer = prepare_call(ann, conversation)  # the page's script asks, and says what the server answers
    assert answer.status_code == 502 and answer.get_json() == {"error": (
        "The call could not start because the call provider 'echo' failed. Tell the organisers; they will find "
        "the cause in the site's log.")}
    assert call_rooms(app) == []
    del plugins["echo"].provider.create_room  # the class's own again: the room is made
    assert prepare_call(ann, conversation).status_code == 200
    plugins["echo"].provider.join_payload = broken  # a failure with a room made: told on the page itself
    page = ann.get(f"/conversations/{conversation.id}/room")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "the call provider &#39;echo&#39; failed" in html
    assert "Welcome and agreements" in html and "boom" not in html and room_data(html)["call"] is None


def test_a_provider_that_explains_its_failure_is_quoted(app, login, conversation, plugins):
    from core.api import CallProviderError

    def refused(*args: Any) -> Any:
        raise CallProviderError("the call server refused our API key")

    plugins["echo"].provider.create_room = refused
    answer = prepare_call(as_user(app, login, "ann@example.org"), conversation)
    assert answer.status_code == 502
    assert answer.get_json() == {"error": "The call could not start: the call server refused our API key"}


def test_the_provider_adds_sources_to_the_csp_but_never_keywords(app, login, conversation, plugins):
    plugins["echo"].provider.csp_sources = lambda: {
        "connect-src": ["wss://media.example.org", "'unsafe-inline'"], "frame-src": ["https://meet.example.org"],
        "script-src": ["'unsafe-eval'"]}
    page = as_user(app, login, "ann@example.org").get(f"/conversations/{conversation.id}/room")
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://media.example.org" in csp and "frame-src 'self' https://meet.example.org" in csp
    assert "unsafe" not in csp and "script-src 'self';" in csp
    permissions = page.headers["Permissions-Policy"]  # the framed call may use the camera and microphone
    assert 'camera=(self "https://meet.example.org")' in permissions
    assert 'microphone=(self "https://meet.example.org")' in permissions


# --- "Having trouble?" --------------------------------------------------------------------------

def report(client: Any, conversation: Any, **data: Any) -> Any:
    token = csrf_token_from(client.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))
    return client.post(f"/conversations/{conversation.id}/room/trouble", data={"csrf_token": token, **data})


def test_a_report_from_the_room_ends_the_call_freezes_contact_and_reaches_moderation(app, login, cast, conversation,
                                                                                      plugins):
    from core.models import Conversation, Report
    from core.safety import is_blocked_either_way

    ann = as_user(app, login, "ann@example.org")
    assert prepare_call(ann, conversation).status_code == 200  # the call is on
    answer = report(ann, conversation, reason="harassment", details="He shouted at me.")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/conversations/{conversation.id}/room/reported")
    assert "Thank you for telling us" in ann.get(answer.headers["Location"]).get_data(as_text=True)
    with database.connection_context():
        filed = Report.get()
        assert (filed.reporter_id, filed.reported_id, filed.reason, filed.context) == (
            cast["ann"].id, cast["ben"].id, "harassment", "call")
        assert is_blocked_either_way(cast["ann"].id, cast["ben"].id)
        assert Conversation.get_by_id(conversation.id).status == "completed"
    assert len(plugins["echo"].provider.ended) == 1
    ben = as_user(app, login, "ben@example.org")
    assert ben.get(f"/conversations/{conversation.id}/room").status_code == 403
    ada = as_user(app, login, "ada@example.org")
    queue = ada.get("/admin/moderation").get_data(as_text=True)
    assert "He shouted at me." in queue or "harassment" in queue.lower()


def test_a_report_without_a_reason_loses_nothing_and_says_what_to_do(app, login, conversation):
    from core.models import Report

    ann = as_user(app, login, "ann@example.org")
    answer = report(ann, conversation, details="something")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/room#trouble")
    assert "Choose what happened." in ann.get(f"/conversations/{conversation.id}/room").get_data(as_text=True)
    with database.connection_context():
        assert Report.select().count() == 0


def test_facilitators_do_not_file_partner_reports_from_the_room(app, login, cast, conversation):
    from core.models import Conversation

    with database.connection_context():
        Conversation.update(facilitator=cast["fay"].id).where(Conversation.id == conversation.id).execute()
    fay = as_user(app, login, "fay@example.org")
    token = csrf_token_from(fay.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))
    assert fay.post(f"/conversations/{conversation.id}/room/trouble",
                    data={"csrf_token": token, "reason": "other"}).status_code == 404


# --- notes --------------------------------------------------------------------------------------

def test_participants_write_notes_after_a_self_facilitated_conversation(app, login, cast, conversation):
    from core.models import Conversation, ConversationNote

    ann = as_user(app, login, "ann@example.org")
    page = ann.get(f"/conversations/{conversation.id}/notes").get_data(as_text=True)
    assert "once your conversation has ended" in page
    token = csrf_token_from(page)
    assert ann.post(f"/conversations/{conversation.id}/notes",
                    data={"csrf_token": token, "keywords": "too early"}).status_code == 404
    with database.connection_context():
        Conversation.update(status="completed").where(Conversation.id == conversation.id).execute()
    token = csrf_token_from(ann.get(f"/conversations/{conversation.id}/notes").get_data(as_text=True))
    bad = ann.post(f"/conversations/{conversation.id}/notes",
                   data={"csrf_token": token, "keywords": "Aunt Rosalind, Toledo", "minute": "soon"})
    assert bad.status_code == 422 and "whole number from 0 to 240" in bad.get_data(as_text=True)
    assert "Aunt Rosalind, Toledo" in bad.get_data(as_text=True)  # what was typed is kept
    good = ann.post(f"/conversations/{conversation.id}/notes",
                    data={"csrf_token": token, "keywords": "Aunt Rosalind, Toledo", "minute": "12"})
    assert good.status_code == 302
    with database.connection_context():
        note = ConversationNote.get()
        assert (note.author_id, note.keywords, note.offset_seconds) == (cast["ann"].id, "Aunt Rosalind, Toledo", 720.0)
    ben = as_user(app, login, "ben@example.org")
    assert "Rosalind" not in ben.get(f"/conversations/{conversation.id}/notes").get_data(as_text=True)


# --- facilitators ---------------------------------------------------------------------------------

def assign(client: Any, conversation: Any, facilitator: Any) -> Any:
    token = csrf_token_from(client.get("/admin/conversations").get_data(as_text=True))
    return client.post(f"/admin/conversations/{conversation.id}/facilitator",
                       data={"csrf_token": token, "facilitator": facilitator})


def test_an_admin_assigns_a_facilitator_who_then_has_the_room(app, login, cast, conversation):
    from core.models import Conversation

    ada = as_user(app, login, "ada@example.org")
    page = ada.get("/admin/conversations").get_data(as_text=True)
    assert "Ann G. and Ben G." in page and "fay@example.org" in page
    assert assign(ada, conversation, str(cast["fay"].id)).status_code == 302
    with database.connection_context():
        assert Conversation.get_by_id(conversation.id).facilitator_id == cast["fay"].id
    fay = as_user(app, login, "fay@example.org")
    assert room_data(fay.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))["me"]["role"] == \
        "facilitator"
    assign(ada, conversation, "")
    with database.connection_context():
        assert Conversation.get_by_id(conversation.id).facilitator_id is None
    assert fay.get(f"/conversations/{conversation.id}/room").status_code == 404


@pytest.mark.parametrize("chosen", ["cal", "ann", "999999", "abc", "1 OR 1=1"])
def test_only_facilitators_who_are_not_in_the_conversation_can_be_assigned(app, login, cast, conversation, chosen):
    from core.models import Conversation

    ada = as_user(app, login, "ada@example.org")
    value = str(cast[chosen].id) if chosen in cast else chosen
    answer = assign(ada, conversation, value)
    assert answer.status_code == 302
    assert "Choose a facilitator" in ada.get("/admin/conversations").get_data(as_text=True)
    with database.connection_context():
        assert Conversation.get_by_id(conversation.id).facilitator_id is None


def test_participants_cannot_reach_the_admin_conversations(app, login, conversation):
    ann = as_user(app, login, "ann@example.org")
    assert ann.get("/admin/conversations").status_code == 403


# --- provider webhooks -----------------------------------------------------------------------------

def test_webhooks_reach_only_providers_that_take_them(app, client):
    assert client.post("/calls/nobody/webhook", data=b"{}").status_code == 404
    answer = client.post("/calls/echo/webhook", data=b"{}")
    assert answer.status_code == 404 and "takes webhooks" in answer.get_json()["error"]


def test_a_genuine_webhook_fires_call_status_changed_and_a_forged_one_is_refused(app, login, client, conversation,
                                                                                  plugins):
    from core.api import CallEvent

    echo = plugins["echo"].provider
    room = prepare_call(as_user(app, login, "ann@example.org"), conversation).get_json()["payload"]["room"]

    def handle(body: bytes, headers: dict[str, str]) -> list[Any]:
        if headers.get("X-Echo-Signature") != "good":
            raise ValueError("the signature does not match")
        return [CallEvent(room_name=room, status="left", user_id=1), CallEvent(room_name="elsewhere", status="left")]

    echo.capabilities = frozenset({*echo.capabilities, "webhook"})
    echo.handle_webhook = handle
    forged = client.post("/calls/echo/webhook", data=b"{}", headers={"X-Echo-Signature": "bad"})
    assert forged.status_code == 401 and "signature does not match" in forged.get_json()["error"]
    genuine = client.post("/calls/echo/webhook", data=b"{}", headers={"X-Echo-Signature": "good"})
    assert genuine.status_code == 200 and genuine.get_json() == {"ok": True, "handled": 1}
    assert (conversation.id, "left") in plugins["echo"].statuses

    def broken(body: bytes, headers: dict[str, str]) -> list[Any]:
        raise KeyError("oops")

    echo.handle_webhook = broken
    failed = client.post("/calls/echo/webhook", data=b"{}")
    assert failed.status_code == 502 and "oops" not in failed.get_data(as_text=True)

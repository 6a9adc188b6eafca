"""Sessions and Socket.IO, with real clients against the live server: a socket belongs to the session that
opened it and goes when the session ends (sign-out, revocation, suspension); a person who loses access
to a room (a facilitator taken off it, a block) leaves it at once; and a session in a room never times out.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import requests

from core.db import database, utcnow
from core.models import RoomConnection, SessionSocket, User, UserSession
from tests.conftest import csrf_token_from
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins
from tests.test_realtime import WAIT, Inbox, open_socket, sockets  # noqa: F401 (a fixture)

PASSWORD = "correct horse battery"


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return ROOM_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(live_server) -> dict[str, Any]:
    from core.api import create_user

    def make(email: str, password: str = PASSWORD, role: str = "participant") -> Any:
        with database.connection_context():
            return create_user(email, password, role=role)

    return people(live_server.app, make)


@pytest.fixture
def conversation(live_server, cast) -> Any:
    return booked(live_server.app, cast["ann"], cast["ben"], minutes_ago=1, facilitator=cast["fay"])


class Browser:
    """One signed-in browser: its HTTP session (cookies) and the sockets it opened."""

    def __init__(self, base_url: str, email: str, opened: list[Any]):
        self.base_url = base_url
        self.http = requests.Session()
        self.opened = opened
        token = csrf_token_from(self.get("/login").text)
        answer = self.http.post(f"{base_url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                                allow_redirects=False, timeout=WAIT)
        assert answer.status_code == 302, answer.text[answer.text.find("<main"):][:1500]

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.base_url}{path}", allow_redirects=False, timeout=WAIT)

    def post_form(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        token = csrf_token_from(self.get("/account").text)
        return self.http.post(f"{self.base_url}{path}", data={**(data or {}), "csrf_token": token},
                              allow_redirects=False, timeout=WAIT)

    def socket(self) -> Any:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        client = open_socket(self.base_url, "websocket", cookie)
        self.opened.append(client)
        client.closed = threading.Event()
        client.on("disconnect", lambda *args: client.closed.set())
        return client

    def signed_in(self) -> bool:
        return self.get("/account").status_code == 200


@pytest.fixture
def browser_for(live_server, cast, sockets) -> Any:  # noqa: F811 (the sockets fixture of test_realtime)
    return lambda email: Browser(live_server.url, email, sockets)


def call(client: Any, event: str, data: Any) -> Any:
    return client.call(event, data, timeout=WAIT)


def join(client: Any, conversation: Any) -> Any:
    answer = call(client, "room_join", {"conversation_id": conversation.id})
    assert answer.get("ok"), answer
    return answer


def member_ids(message: dict[str, Any]) -> set[int]:
    return {member["id"] for member in message["members"]}


def sessions_of(user: Any) -> list[UserSession]:
    with database.connection_context():
        return list(UserSession.select().where(UserSession.user == user.id))


# --- a socket goes with its session ---------------------------------------------------------------

def test_the_socket_is_recorded_with_the_session_that_opened_it(browser_for, cast):
    ann = browser_for("ann@example.org")
    ann.socket()

    [session] = sessions_of(cast["ann"])
    with database.connection_context():
        assert SessionSocket.select().where(SessionSocket.session == session.id).count() == 1


def test_a_socket_whose_session_was_signed_out_is_disconnected(browser_for):
    ann = browser_for("ann@example.org")
    socket = ann.socket()

    ann.post_form("/logout")

    assert socket.closed.wait(WAIT), "the socket of a signed-out session stays open"


def test_signing_out_one_device_leaves_the_other_devices_socket_open(browser_for):
    laptop, phone = browser_for("ann@example.org"), browser_for("ann@example.org")
    laptop_socket, phone_socket = laptop.socket(), phone.socket()

    phone.post_form("/logout")

    assert phone_socket.closed.wait(WAIT)
    assert not laptop_socket.closed.is_set()
    assert call(laptop_socket, "tech_ping", {}) == {"pong": True}


def test_signing_out_everywhere_else_disconnects_the_other_devices_sockets(browser_for):
    laptop, phone = browser_for("ann@example.org"), browser_for("ann@example.org")
    phone_socket = phone.socket()

    laptop.post_form("/account/sessions/end-others")

    assert phone_socket.closed.wait(WAIT)
    assert laptop.signed_in() and not phone.signed_in()


def test_a_socket_cannot_be_opened_with_a_signed_out_sessions_cookie(browser_for, live_server):
    import socketio

    ann = browser_for("ann@example.org")
    copied = "; ".join(f"{c.name}={c.value}" for c in ann.http.cookies)
    ann.post_form("/logout")

    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(live_server.url, "websocket", copied)


def test_suspension_ends_the_sessions_and_disconnects_open_sockets(browser_for, live_server, cast):
    from core import safety

    ann = browser_for("ann@example.org")
    socket = ann.socket()

    with live_server.app.test_request_context(), database.connection_context():
        safety.act(User.get_by_id(cast["ann"].id), cast["ada"], "suspend")

    assert socket.closed.wait(WAIT)
    assert sessions_of(cast["ann"]) == []
    assert not ann.signed_in()


def test_a_session_ended_on_the_server_refuses_the_next_room_event_and_closes(browser_for, cast, conversation):
    ann = browser_for("ann@example.org")
    socket = ann.socket()
    join(socket, conversation)
    with database.connection_context():  # ended without telling the socket (as if the message was lost)
        UserSession.delete().where(UserSession.user == cast["ann"].id).execute()

    answer = call(socket, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 0})

    assert answer["code"] == "unauthenticated"
    assert socket.closed.wait(WAIT)


# --- rooms: members are re-broadcast, access lost means out at once -------------------------------

def test_a_participant_who_signs_out_leaves_the_room_and_the_others_are_told(browser_for, cast, conversation):
    ann, ben = browser_for("ann@example.org"), browser_for("ben@example.org")
    ann_socket = ann.socket()
    join(ann_socket, conversation)
    members = Inbox(ann_socket, "room_members")
    ben_socket = ben.socket()
    join(ben_socket, conversation)
    members.wait_for(lambda message: member_ids(message) == {cast["ann"].id, cast["ben"].id})

    ben.post_form("/logout")

    members.wait_for(lambda message: member_ids(message) == {cast["ann"].id})
    with database.connection_context():
        assert not RoomConnection.select().where(RoomConnection.user == cast["ben"].id).exists()


def test_a_removed_facilitator_stops_receiving_the_room_at_once(browser_for, cast, conversation):
    fay, admin, ann = browser_for("fay@example.org"), browser_for("ada@example.org"), browser_for("ann@example.org")
    fay_socket = fay.socket()
    join(fay_socket, conversation)
    fay_states, fay_members = Inbox(fay_socket, "room_state"), Inbox(fay_socket, "room_members")
    fay_closed = Inbox(fay_socket, "room_closed")
    ann_socket = ann.socket()
    ann_members = Inbox(ann_socket, "room_members")
    join(ann_socket, conversation)
    fay_members.wait_for(lambda message: cast["ann"].id in member_ids(message))

    removed = admin.post_form(f"/admin/conversations/{conversation.id}/facilitator", {"facilitator": ""})

    assert removed.status_code == 302
    assert fay_closed.wait_for()["conversation_id"] == conversation.id
    ann_members.wait_for(lambda message: member_ids(message) == {cast["ann"].id})
    heard_states, heard_members = len(fay_states.received), len(fay_members.received)
    ben_socket = browser_for("ben@example.org").socket()
    ben_states = Inbox(ben_socket, "room_state")
    join(ben_socket, conversation)  # room_members goes out to the room
    moved = call(ann_socket, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 0})
    assert moved.get("ok"), moved
    ben_states.wait_for()  # room_state has reached the room
    assert len(fay_states.received) == heard_states, "the removed facilitator still hears room_state"
    assert len(fay_members.received) == heard_members, "the removed facilitator still hears room_members"
    refused = call(fay_socket, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 1})
    assert "error" in refused
    assert not fay_socket.closed.is_set(), "the facilitator keeps their session and socket"


def test_a_block_closes_the_room_of_the_two(browser_for, cast, conversation, live_server):
    ann, ben = browser_for("ann@example.org"), browser_for("ben@example.org")
    ben_socket = ben.socket()
    join(ben_socket, conversation)
    closed = Inbox(ben_socket, "room_closed")

    answer = ann.post_form(f"/people/{cast['ben'].id}/block", {"confirm": "y"})

    assert answer.status_code == 302, answer.text[:300]
    closed.wait_for(lambda message: message["conversation_id"] == conversation.id)
    with database.connection_context():
        assert not RoomConnection.select().where(RoomConnection.conversation == conversation.id).exists()


# --- a session in a room never times out under the person ----------------------------------------

def test_an_idle_session_in_a_room_is_kept_alive(browser_for, cast, conversation):
    ann = browser_for("ann@example.org")
    socket = ann.socket()
    join(socket, conversation)
    with database.connection_context():
        UserSession.update(idle_expires_at=utcnow() - dt.timedelta(minutes=1),
                           absolute_expires_at=utcnow() - dt.timedelta(seconds=1)).where(
            UserSession.user == cast["ann"].id).execute()

    assert ann.signed_in()
    status = ann.get("/session/status").json()
    assert status["signed_in"] and status["warn"] is False
    assert call(socket, "call_status", {"conversation_id": conversation.id, "status": "connected"}).get("ok")
    [session] = sessions_of(cast["ann"])
    assert session.idle_expires_at > utcnow()


def test_a_room_connection_left_behind_for_hours_keeps_nothing_alive(browser_for, cast, conversation):
    ann = browser_for("ann@example.org")
    join(ann.socket(), conversation)
    with database.connection_context():
        RoomConnection.update(connected_at=utcnow() - dt.timedelta(hours=7)).execute()  # as after a crash
        UserSession.update(idle_expires_at=utcnow() - dt.timedelta(minutes=1)).where(
            UserSession.user == cast["ann"].id).execute()

    assert not ann.signed_in()


def test_the_same_idle_session_outside_a_room_ends(browser_for, cast, conversation):
    ann = browser_for("ann@example.org")
    socket = ann.socket()  # connected, but not in a room
    with database.connection_context():
        UserSession.update(idle_expires_at=utcnow() - dt.timedelta(minutes=1)).where(
            UserSession.user == cast["ann"].id).execute()

    assert not ann.signed_in()
    assert socket.closed.wait(WAIT)


# --- several processes: the message queue carries the disconnect ---------------------------------

class TestAcrossProcesses:
    """With a Redis message queue, a session ended by another process of the site (a second app on the
    same queue and database, as a second gunicorn process would be) disconnects the socket here."""

    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        from tests.test_realtime import redis_url_or_skip

        return {**ROOM_SETTINGS, "realtime": {"message_queue": redis_url_or_skip()}}

    def test_a_session_ended_by_another_process_disconnects_the_socket(self, browser_for, live_server, cast):
        from core import sessions
        from core.app import create_app
        from core.config import load_config

        ann = browser_for("ann@example.org")
        socket = ann.socket()
        other_process = create_app(load_config(live_server.instance / "oss-connect.yaml",
                                               extra_plugins=room_plugins()), testing=True)

        with other_process.test_request_context(), database.connection_context():
            assert sessions.end_all_for_user(cast["ann"].id, sessions.SUSPENDED) == 1

        assert socket.closed.wait(WAIT), "the disconnect did not reach the process that holds the socket"

"""The room's Socket.IO events with real clients against the live server: every event is authorised
against the conversation (participants, facilitator, admins; in the window; after room_join on this
connection), bad payloads get a sentence, and changes reach everyone in the room in order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.db import database, utcnow
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins
from tests.test_realtime import WAIT, Inbox, open_socket, sign_in, sockets  # noqa: F401 (a fixture)

EVENTS = ["room_leave", "room_action", "room_note", "call_status"]
"""Every room event that needs room_join first (room_join itself is tested on its own)."""

VALID = {"room_leave": {}, "room_action": {"action": "pause"}, "room_note": {"keywords": "river"},
         "call_status": {"status": "connected"}}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return ROOM_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(live_server) -> dict[str, Any]:
    from core.api import create_user

    def make(email: str, password: str = "correct horse battery", role: str = "participant") -> Any:
        with database.connection_context():
            return create_user(email, password, role=role)

    return people(live_server.app, make)


@pytest.fixture
def conversation(live_server, cast) -> Any:
    return booked(live_server.app, cast["ann"], cast["ben"], minutes_ago=1, facilitator=cast["fay"])


@pytest.fixture
def connect(live_server, sockets) -> Any:  # noqa: F811 (the sockets fixture of test_realtime)
    def open_as(email: str, transport: str = "websocket") -> Any:
        client = open_socket(live_server.url, transport, sign_in(live_server.url, email))
        sockets.append(client)
        return client
    return open_as


def call(client: Any, event: str, data: Any) -> Any:
    return client.call(event, data, timeout=WAIT)


def joined(connect: Any, email: str, conversation: Any) -> Any:
    client = connect(email)
    answer = call(client, "room_join", {"conversation_id": conversation.id})
    assert answer.get("ok"), answer
    return client


def test_both_participants_join_and_see_each_other_with_names_only(connect, cast, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    members = Inbox(ann, "room_members")
    ben = connect("ben@example.org")
    answer = call(ben, "room_join", {"conversation_id": conversation.id})
    assert answer["me"] == {"id": cast["ben"].id, "role": "participant", "name": "Ben G."}
    assert answer["state"]["version"] == 0
    seen = members.wait_for(lambda data: len(data["members"]) == 2)
    assert {member["name"] for member in seen["members"]} == {"Ann G.", "Ben G."}
    assert "example.org" not in repr(seen) + repr(answer)


def test_a_prompt_change_reaches_the_other_participant(connect, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    ben = joined(connect, "ben@example.org", conversation)
    states = Inbox(ben, "room_state")
    answer = call(ann, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 0})
    assert answer["ok"] and answer["state"]["prompt"] == "introduce"
    assert states.wait_for(lambda data: data["version"] == 1)["prompt"] == "introduce"


def test_a_reconnect_gets_the_same_state_back(connect, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    call(ann, "room_action", {"conversation_id": conversation.id, "action": "pick", "prompt_id": "values",
                              "version": 0})
    ann.disconnect()
    again = connect("ann@example.org")
    answer = call(again, "room_join", {"conversation_id": conversation.id})
    assert (answer["state"]["phase"], answer["state"]["prompt"], answer["state"]["version"]) == (2, "values", 1)


def test_two_simultaneous_next_presses_advance_one_prompt(connect, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    ben = joined(connect, "ben@example.org", conversation)
    first = call(ann, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 0})
    second = call(ben, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 0})
    assert first["ok"] and second["code"] == "stale" and second["state"]["version"] == 1
    assert second["state"]["prompt"] == "introduce"


def test_consent_from_both_starts_the_recording_on_both_screens(connect, cast, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    ben = joined(connect, "ben@example.org", conversation)
    ann_states = Inbox(ann, "room_state")
    call(ann, "room_action", {"conversation_id": conversation.id, "action": "consent"})
    answer = call(ben, "room_action", {"conversation_id": conversation.id, "action": "consent"})
    assert answer["state"]["recording"]["state"] == "recording"
    seen = ann_states.wait_for(lambda data: data["recording"]["state"] == "recording")
    assert seen["recording"]["consented"] == sorted([cast["ann"].id, cast["ben"].id])
    stopped = call(ann, "room_action", {"conversation_id": conversation.id, "action": "stop"})
    assert stopped["state"]["recording"]["state"] == "stopped"


def test_the_facilitator_writes_timestamped_notes_and_participants_cannot(connect, cast, conversation):
    from core.models import ConversationNote

    fay = joined(connect, "fay@example.org", conversation)
    answer = call(fay, "room_note", {"conversation_id": conversation.id, "keywords": "grandfather, mill town"})
    assert answer["ok"] and answer["note"]["keywords"] == "grandfather, mill town"
    ann = joined(connect, "ann@example.org", conversation)
    refused = call(ann, "room_note", {"conversation_id": conversation.id, "keywords": "x"})
    assert refused["code"] == "forbidden"
    with database.connection_context():
        assert [note.author_id for note in ConversationNote.select()] == [cast["fay"].id]


def test_ending_closes_the_room_for_everyone_once(connect, live_server, conversation, oss_connect_plugins):
    from core.models import Conversation

    ann = joined(connect, "ann@example.org", conversation)
    ben = joined(connect, "ben@example.org", conversation)
    closed = Inbox(ben, "room_closed")
    assert call(ann, "room_action", {"conversation_id": conversation.id, "action": "end"})["ok"]
    assert "ended" in closed.wait_for()["message"]
    assert oss_connect_plugins["echo"].ended == [conversation.id]  # conversation_ended fired once
    assert (conversation.id, "ended") in oss_connect_plugins["echo"].statuses
    with database.connection_context():
        assert Conversation.get_by_id(conversation.id).status == "completed"
    assert call(ben, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 9})[
        "code"] == "closed"


# --- refusals -----------------------------------------------------------------------------------

def test_a_third_participant_cannot_join_or_hear_anything(connect, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    cal = connect("cal@example.org")
    overheard = Inbox(cal, "room_state")
    answer = call(cal, "room_join", {"conversation_id": conversation.id})
    assert answer == {"error": "There is no such conversation.", "code": "not_found"}
    call(ann, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 0})
    call(ann, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 1})
    mine = Inbox(ann, "room_state")
    call(ann, "room_action", {"conversation_id": conversation.id, "action": "next", "version": 2})
    mine.wait_for(lambda data: data["version"] == 3)  # by now Cal would have had all three
    assert overheard.received == []


def test_every_event_needs_the_room_joined_on_this_connection(connect, conversation):
    joined(connect, "ann@example.org", conversation)  # Ann's other tab is in the room; this one is not
    other_tab = connect("ann@example.org")
    for event in EVENTS:
        answer = call(other_tab, event, {"conversation_id": conversation.id, **VALID[event]})
        assert answer["code"] == "not_joined", (event, answer)


def test_every_event_refuses_someone_else_and_an_unknown_conversation(connect, conversation):
    cal = connect("cal@example.org")
    ann = connect("ann@example.org")
    for event in ["room_join", *EVENTS]:
        answer = call(cal, event, {"conversation_id": conversation.id, **VALID.get(event, {})})
        assert answer["code"] == "not_found", (event, answer)
        unknown = call(ann, event, {"conversation_id": conversation.id + 1000, **VALID.get(event, {})})
        assert unknown["code"] == "not_found", (event, unknown)


MALFORMED = [None, "7", [], {"conversation_id": "7"}, {"conversation_id": -1}, {"conversation_id": True}, {},
             {"conversation_id": 0}, {"conversation_id": 2**63}, {"conversation_id": 2**64}, {"conversation_id": 1.5}]


def test_every_event_answers_a_malformed_payload_with_a_sentence(connect, conversation):
    for event in ["room_join", *EVENTS]:
        ann = connect("ann@example.org")  # a connection per event: 35 at once would pass realtime.event_burst
        for payload in MALFORMED:
            answer = call(ann, event, payload)
            assert answer["code"] == "bad_request" and answer["error"].endswith("."), (event, payload, answer)


def test_every_event_is_refused_outside_the_window(connect, live_server, cast, conversation):
    from core.models import Conversation

    ann = joined(connect, "ann@example.org", conversation)
    with database.connection_context():  # the slot ended while Ann was still connected
        Conversation.update(starts_at=utcnow() - dt.timedelta(minutes=90)).where(
            Conversation.id == conversation.id).execute()
    for event in ["room_join", *EVENTS]:
        answer = call(ann, event, {"conversation_id": conversation.id, **VALID.get(event, {})})
        assert answer["code"] == "closed" and "passed" in answer["error"], (event, answer)


BAD_DATA = [
    ("room_action", {"action": 5}, "bad_request"),
    ("room_action", {"action": "explode"}, "bad_request"),
    ("room_action", {"action": "next"}, "bad_request"),
    ("room_action", {"action": "cue", "minutes": 5}, "forbidden"),
    ("room_note", {"keywords": "x"}, "forbidden"),
    ("call_status", {"status": "on fire"}, "bad_request"),
]


def test_bad_event_data_is_refused_with_a_sentence(connect, conversation):
    ann = joined(connect, "ann@example.org", conversation)
    for event, data, code in BAD_DATA:
        answer = call(ann, event, {"conversation_id": conversation.id, **data})
        assert answer["code"] == code and len(answer["error"]) > 10, (event, data, answer)


def test_a_facilitator_note_too_long_or_empty_is_refused(connect, conversation):
    fay = joined(connect, "fay@example.org", conversation)
    for keywords in ("", "   ", "x" * 501, "nul\x00byte", 42, "bell\x07", "esc\x1b[2J", "\u202eright to left",
                     "cr\rlf"):
        answer = call(fay, "room_note", {"conversation_id": conversation.id, "keywords": keywords})
        assert answer["code"] == "bad_request", keywords


def test_an_anonymous_socket_is_refused_at_the_door(live_server):
    import socketio

    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(live_server.url, "websocket")

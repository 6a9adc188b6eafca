"""The "webrtc" call provider (plugin call_webrtc): TURN credentials coturn accepts, settings refused with
a located message, rooms without a third party, and signalling relayed only between the members of a
conversation whose room is open, checked with real Socket.IO clients against a live server."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import subprocess
import threading
from typing import Any

import pytest
import socketio

import plugins.call_webrtc
from core.db import database, utcnow
from plugins.call_webrtc.provider import WebrtcProvider, ice_servers
from plugins.call_webrtc.settings import WebrtcSettings
from plugins.call_webrtc.turn import credentials_valid, turn_credentials, turn_password
from tests.test_config_errors import SECRET, assert_refused, check
from tests.test_realtime import PASSWORD, Inbox, open_socket, sign_in

TURN_SECRET = "north-gov-shared-secret"
SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


# --- TURN credentials --------------------------------------------------------------------------

def test_turn_password_is_base64_hmac_sha1_of_the_user_name():
    # Computed once with `printf %s "1700000000:42" | openssl dgst -binary -sha1 -hmac SECRET | base64`,
    # the command coturn's documentation of the TURN REST API gives.
    assert turn_password(TURN_SECRET, "1700000000:42") == "laqZ2+TcVGHW2ChsrOCTA+hVqow="


def test_turn_credentials_match_openssl_and_the_documented_format():
    credentials = turn_credentials(TURN_SECRET, 7, ttl_seconds=3600, now=1_800_000_000.7)
    assert credentials.username == "1800003600:7"
    assert credentials.expires_at == 1_800_003_600
    digest = subprocess.run(["openssl", "dgst", "-binary", "-sha1", "-hmac", TURN_SECRET],
                            input=credentials.username.encode(), capture_output=True, check=True).stdout
    assert credentials.credential == base64.b64encode(digest).decode()
    assert credentials.credential == base64.b64encode(
        hmac.new(TURN_SECRET.encode(), b"1800003600:7", hashlib.sha1).digest()).decode()


def test_turn_credentials_expire_when_they_say():
    credentials = turn_credentials(TURN_SECRET, 7, ttl_seconds=300, now=1_000)
    assert credentials_valid(TURN_SECRET, credentials.username, credentials.credential, now=1_299)
    assert not credentials_valid(TURN_SECRET, credentials.username, credentials.credential, now=1_300)
    assert not credentials_valid("another-secret-of-16", credentials.username, credentials.credential, now=1_001)
    assert not credentials_valid(TURN_SECRET, "1300:8", credentials.credential, now=1_001)


def turn_settings(**turn: Any) -> WebrtcSettings:
    return WebrtcSettings.model_validate({
        "ice_servers": [{"urls": "stun:stun.example.org:3478"}],
        "turn": {"urls": ["turn:turn.example.org:3478?transport=udp"], "secret": TURN_SECRET, **turn}})


def test_ice_servers_are_the_static_ones_plus_this_users_fresh_turn_credentials():
    servers = ice_servers(turn_settings(ttl_minutes=10), user_id=5, now=2_000)
    assert servers[0] == {"urls": "stun:stun.example.org:3478"}
    assert servers[1]["urls"] == ["turn:turn.example.org:3478?transport=udp"]
    assert servers[1]["username"] == "2600:5"
    assert credentials_valid(TURN_SECRET, servers[1]["username"], servers[1]["credential"], now=2_599)
    assert not credentials_valid(TURN_SECRET, servers[1]["username"], servers[1]["credential"], now=2_600)


def test_turn_credentials_outlast_the_booked_slot_but_never_a_day():
    slot_end = 2_000 + 75 * 60
    username = ice_servers(turn_settings(ttl_minutes=60), user_id=5, ends_at=slot_end, now=2_000)[1]["username"]
    assert username == f"{slot_end + 30 * 60}:5"
    far = ice_servers(turn_settings(ttl_minutes=60), user_id=5, ends_at=2_000 + 5 * 86400, now=2_000)[1]
    assert far["username"] == f"{2_000 + 86400}:5"


def test_no_ice_servers_by_default():
    assert ice_servers(WebrtcSettings(), user_id=5) == []
    assert WebrtcSettings().ice_transport_policy == "all"


# --- settings: `oss-connect check` -------------------------------------------------------------

def test_a_url_that_is_not_stun_or_turn_is_refused_at_its_line(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          call_webrtc:
            ice_servers:
              - urls: stun:stun.example.org:3478
              - urls: [stun:ok.example.org, "https://turn.example.org"]
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:7: plugins.call_webrtc.ice_servers[1].urls: not a STUN or TURN URL: "
                   "'https://turn.example.org'; write it as stun:HOST:PORT, stuns:HOST:PORT, "
                   "turn:HOST:PORT?transport=udp or turns:HOST:PORT (e.g. stun:stun.example.org:3478)")


def test_turn_settings_are_checked_ttl_secret_and_urls(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          call_webrtc:
            turn:
              urls: [stun:turn.example.org]
              secret: too-short
              ttl_minutes: 4
    """)
    assert_refused(
        outcome, tmp_path,
        f"{config}:6: plugins.call_webrtc.turn.urls: no turn: or turns: URL; "
        "write e.g. turn:turn.example.org:3478?transport=udp",
        f"{config}:7: plugins.call_webrtc.turn.secret: the secret is too short (at least 16 characters); generate "
        "one with `openssl rand -hex 32` and put the same value in coturn's static-auth-secret",
        f"{config}:8: plugins.call_webrtc.turn.ttl_minutes: out of range (expected a whole number from 5 to 1440, "
        "got 4 (a number)); write for example `ttl_minutes: 60` (the default)")


def test_relay_only_without_a_turn_server_is_refused(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          call_webrtc:
            ice_transport_policy: relay
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:4: plugins.call_webrtc: ice_transport_policy relay needs a TURN server, or no call can "
                   "connect; add a `turn:` section, or write ice_transport_policy: all")


def test_a_fixed_turn_account_needs_its_credentials(tmp_path):
    config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          call_webrtc:
            ice_servers:
              - urls: turn:turn.example.org:3478
    """)
    assert_refused(outcome, tmp_path,
                   f"{config}:6: plugins.call_webrtc.ice_servers[0]: a turn: or turns: URL needs a username and a "
                   "credential (browsers refuse it without); add them, or better use the `turn:` section for "
                   "short-lived credentials")


def test_a_turn_secret_from_the_environment_passes_the_check(tmp_path):
    _config, outcome = check(tmp_path, f"""
        site:
          secret_key: {SECRET}
        plugins:
          call_webrtc:
            turn:
              urls: ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]
              secret: ${{TURN_SECRET}}
            ice_transport_policy: relay
    """, env={"TURN_SECRET": "x" * 40})
    assert (outcome.code, outcome.errors) == (0, [])
    assert "call_webrtc" in outcome.stdout


# --- the provider -------------------------------------------------------------------------------

@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"call_webrtc": plugins.call_webrtc}


def call_conversation(conversation_id: int = 12) -> Any:
    from core.api import CallConversation

    start = utcnow()
    return CallConversation(id=conversation_id, uid="c12@example.org", starts_at=start,
                            ends_at=start + dt.timedelta(minutes=75), recorded_minutes=60)


def test_the_provider_is_registered_with_its_capabilities(app):
    provider = app.extensions["oss_connect"].provider("call_provider", "webrtc")
    assert isinstance(provider, WebrtcProvider)
    assert provider.capabilities == {"video", "audio_only", "mute", "camera_off", "reconnect", "facilitator"}
    assert provider.csp_sources() == {}


def test_a_room_is_a_keyed_name_the_same_for_the_same_conversation(app):
    import dataclasses

    provider = WebrtcProvider()
    with app.app_context():
        first, again = provider.create_room(call_conversation()), provider.create_room(call_conversation())
        other = provider.create_room(dataclasses.replace(call_conversation(), uid="another-uid@example.org"))
    assert first.provider == "webrtc"
    assert first.conversation_id == 12
    assert first.name.startswith("conversation-12-") and len(first.name) == len("conversation-12-") + 24
    assert first.name == again.name and first.name != other.name
    assert first.data["ended"] is False


def test_the_join_payload_by_default_has_no_ice_servers_and_no_email(app):
    from core.api import CallParticipant

    provider = WebrtcProvider()
    with app.test_request_context("/"):
        room = provider.create_room(call_conversation())
        payload = provider.join_payload(room, CallParticipant(31, "Ann", "participant"), "participant")
    assert payload == {"iceServers": [], "iceTransportPolicy": "all", "room": room.name, "conversationId": 12,
                       "role": "participant", "me": {"id": 31, "name": "Ann"}}


class TestWithTurn:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {"plugins": {"call_webrtc": {"turn": {"urls": ["turns:turn.example.org:5349"], "secret": TURN_SECRET},
                                            "ice_transport_policy": "relay"}}}

    def test_the_payload_carries_fresh_credentials_for_that_user_only(self, app):
        from core.api import CallParticipant

        provider = WebrtcProvider()
        with app.test_request_context("/"):
            room = provider.create_room(call_conversation())
            payload = provider.join_payload(room, CallParticipant(31, "Ann", "participant"), "participant")
            script = provider.client_scripts()
        (server,) = payload["iceServers"]
        assert server["urls"] == ["turns:turn.example.org:5349"]
        assert server["username"].endswith(":31")
        assert credentials_valid(TURN_SECRET, server["username"], server["credential"])
        assert payload["iceTransportPolicy"] == "relay"
        assert TURN_SECRET not in str(payload)
        assert script == ["/plugins/call_webrtc/static/webrtc.js"]


def test_the_browser_adapter_is_served_by_the_site(client):
    answer = client.get("/plugins/call_webrtc/static/webrtc.js")
    assert answer.status_code == 200
    assert 'OssCall.register("webrtc"' in answer.get_data(as_text=True)


# --- signalling against a live server ----------------------------------------------------------

@pytest.fixture
def sockets() -> Any:
    """Clients the test opened; disconnected in the background at the end (see tests/test_realtime.py)."""
    opened: list[Any] = []
    yield opened
    for client in opened:
        threading.Thread(target=client.disconnect, daemon=True).start()


@pytest.fixture
def people(live_server: Any) -> dict[str, Any]:
    """Ann and Ben in a conversation that starts now; Cal and Dee in another; Fay not in any: name -> user."""
    from core.api import create_user
    from core.scheduling.conversations import create_conversation

    with live_server.app.app_context(), database.connection_context():
        users = {name: create_user(f"{name}@example.org", PASSWORD) for name in ("ann", "ben", "cal", "dee", "fay")}
        users["ours"] = create_conversation(users["ann"].id, users["ben"].id, starts_at=utcnow())
        users["theirs"] = create_conversation(users["cal"].id, users["dee"].id, starts_at=utcnow())
    return users


def connect(live_server: Any, sockets: list[Any], name: str, transport: str = "websocket") -> Any:
    client = open_socket(live_server.url, transport, sign_in(live_server.url, f"{name}@example.org"))
    sockets.append(client)
    return client


def offer(conversation: Any, to: Any, **extra: Any) -> dict[str, Any]:
    return {"conversation_id": conversation.id, "to": to.id, "description": {"type": "offer", "sdp": SDP}, **extra}


def call(client: Any, data: Any) -> Any:
    return client.call("webrtc_signal", data, timeout=10)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_an_offer_and_a_candidate_reach_the_partner_with_the_sender(live_server, people, sockets, transport):
    ann, ben = connect(live_server, sockets, "ann", transport), connect(live_server, sockets, "ben", transport)
    inbox = Inbox(ben, "webrtc_signal")

    assert call(ann, offer(people["ours"], people["ben"], session="ann-page-1")) == {"ok": True}
    candidate = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0",
                 "sdpMLineIndex": 0, "usernameFragment": "abcd"}
    assert call(ann, {"conversation_id": people["ours"].id, "to": people["ben"].id, "candidate": candidate}) == \
        {"ok": True}

    assert inbox.wait_for(lambda data: "description" in data) == {
        "conversation_id": people["ours"].id, "from": people["ann"].id, "restart": False,
        "description": {"type": "offer", "sdp": SDP}, "session": "ann-page-1"}
    assert inbox.wait_for(lambda data: "candidate" in data)["candidate"] == candidate


def test_the_facilitator_signals_both_participants(live_server, people, sockets):
    from core.models import Conversation

    with database.connection_context():
        Conversation.update(facilitator=people["fay"].id).where(Conversation.id == people["ours"].id).execute()
    fay, ann = connect(live_server, sockets, "fay"), connect(live_server, sockets, "ann")
    inbox = Inbox(fay, "webrtc_signal")
    assert call(fay, offer(people["ours"], people["ann"])) == {"ok": True}
    assert call(ann, offer(people["ours"], people["fay"])) == {"ok": True}
    assert inbox.wait_for()["from"] == people["ann"].id


def refused_and_nothing_relayed(live_server: Any, people: dict[str, Any], sockets: list[Any], sender: str,
                                data: Any, reason: str, reopen: Any = None) -> None:
    """`sender` sends `data`: the ack names `reason`, and neither Ann nor Ben receives anything from it.

    Then each of them gets a marker signal through the same server: had the refused one been relayed,
    it would have arrived before the marker.
    """
    client = connect(live_server, sockets, sender)
    ann = client if sender == "ann" else connect(live_server, sockets, "ann")
    ben = client if sender == "ben" else connect(live_server, sockets, "ben")
    ann_inbox, ben_inbox = Inbox(ann, "webrtc_signal"), Inbox(ben, "webrtc_signal")
    answer = call(client, data)
    assert set(answer) == {"error"} and reason in answer["error"], answer
    if reopen is not None:
        reopen()
    assert call(connect(live_server, sockets, "ann"), offer(people["ours"], people["ben"], session="marker")) == \
        {"ok": True}
    assert call(connect(live_server, sockets, "ben"), offer(people["ours"], people["ann"], session="marker")) == \
        {"ok": True}
    for inbox in (ann_inbox, ben_inbox):
        inbox.wait_for(lambda data: data.get("session") == "marker")
        assert [data.get("session") for data in inbox.received] == ["marker"]


def test_someone_outside_the_conversation_is_refused(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "fay", offer(people["ours"], people["ben"]),
                                "you are not in this conversation's room now")


def test_a_participant_of_another_conversation_is_refused(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "cal", offer(people["ours"], people["ben"]),
                                "you are not in this conversation's room now")


def test_the_other_conversations_id_with_our_partner_as_recipient_is_refused(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "cal", offer(people["theirs"], people["ben"]),
                                "the recipient is not in this conversation")


def test_a_recipient_outside_the_conversation_is_refused(live_server, people, sockets):
    cal = connect(live_server, sockets, "cal")
    inbox = Inbox(cal, "webrtc_signal")
    refused_and_nothing_relayed(live_server, people, sockets, "ann", offer(people["ours"], people["cal"]),
                                "the recipient is not in this conversation")
    assert inbox.received == []


def test_a_conversation_that_does_not_exist_is_refused(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "ann",
                                {**offer(people["ours"], people["ben"]), "conversation_id": 999_999},
                                "you are not in this conversation's room now")


def test_a_room_that_is_not_open_yet_is_refused(live_server, people, sockets):
    from core.models import Conversation

    with database.connection_context():
        Conversation.update(starts_at=utcnow() + dt.timedelta(days=1)).where(
            Conversation.id == people["ours"].id).execute()
    def reopen() -> None:
        with database.connection_context():
            Conversation.update(starts_at=utcnow()).where(Conversation.id == people["ours"].id).execute()

    refused_and_nothing_relayed(live_server, people, sockets, "ann", offer(people["ours"], people["ben"]),
                                "you are not in this conversation's room now", reopen=reopen)


@pytest.mark.parametrize(("data", "reason"), [
    (None, "the signal must be an object"),
    ("hello", "the signal must be an object"),
    ([1, 2], "the signal must be an object"),
    ({"to": 2}, "conversation_id must be a positive whole number"),
    ({"conversation_id": "1", "to": 2, "restart": True}, "conversation_id must be a positive whole number"),
    ({"conversation_id": True, "to": 2, "restart": True}, "conversation_id must be a positive whole number"),
    ({"conversation_id": 1, "to": -2, "restart": True}, "to must be a positive whole number"),
    ({"conversation_id": 2**63, "to": 2, "restart": True}, "conversation_id must be a positive whole number"),
    ({"conversation_id": 1, "to": 2**64, "restart": True}, "to must be a positive whole number"),
    ({"conversation_id": 1, "to": 2}, "send one of description or candidate"),
    ({"conversation_id": 1, "to": 2, "description": {"type": "offer", "sdp": SDP}, "candidate": {"candidate": ""}},
     "send one of description or candidate"),
    ({"conversation_id": 1, "to": 2, "description": {"type": "pranswer", "sdp": SDP}}, "offer or answer"),
    ({"conversation_id": 1, "to": 2, "description": {"type": "offer", "sdp": 5}}, "description.sdp must be text"),
    ({"conversation_id": 1, "to": 2, "description": "v=0"}, "description must be {type, sdp}"),
    ({"conversation_id": 1, "to": 2, "candidate": {"candidate": "x" * 2000}}, "candidate.candidate is too long"),
    ({"conversation_id": 1, "to": 2, "candidate": {"candidate": "", "extra": 1}}, "candidate must be"),
    ({"conversation_id": 1, "to": 2, "candidate": {"candidate": "", "sdpMLineIndex": "0"}}, "sdpMLineIndex"),
    ({"conversation_id": 1, "to": 2, "restart": "yes"}, "restart must be true or false"),
    ({"conversation_id": 1, "to": 2, "restart": True, "session": "<script>"}, "session must be"),
    ({"conversation_id": 1, "to": 2, "restart": True, "email": "ann@example.org"}, "unknown field(s): email"),
])
def test_a_malformed_signal_is_refused_with_the_reason(data, reason):
    from plugins.call_webrtc.signalling import SignalError, parse_signal

    with pytest.raises(SignalError) as refused:
        parse_signal(data, sender_id=1)
    assert reason in str(refused.value)


def test_a_malformed_signal_is_answered_with_the_reason_and_nothing_is_relayed(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "ann",
                                {"conversation_id": people["ours"].id, "to": people["ben"].id, "restart": "yes"},
                                "restart must be true or false")


def test_an_id_no_row_can_have_is_answered_with_the_reason_over_the_socket(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "ann",
                                {"conversation_id": 2**64, "to": people["ben"].id, "restart": True},
                                "conversation_id must be a positive whole number")


def test_an_oversize_sdp_is_refused(live_server, people, sockets):
    big = {"type": "offer", "sdp": SDP + "a=x-padding:" + "y" * (100 * 1024) + "\r\n"}
    refused_and_nothing_relayed(live_server, people, sockets, "ann",
                                {**offer(people["ours"], people["ben"]), "description": big},
                                "description.sdp is too large (at most 100 KB)")


def test_signalling_to_oneself_is_refused(live_server, people, sockets):
    refused_and_nothing_relayed(live_server, people, sockets, "ann", offer(people["ours"], people["ann"]),
                                "to must be another member of the call")


def test_an_anonymous_socket_cannot_even_connect(live_server, people):
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(live_server.url, "websocket")


def test_joining_the_call_room_needs_room_access(live_server, people, sockets):
    ann, fay = connect(live_server, sockets, "ann"), connect(live_server, sockets, "fay")
    assert ann.call("webrtc_join", {"conversation_id": people["ours"].id}, timeout=10) == \
        {"ok": True, "role": "participant"}
    assert fay.call("webrtc_join", {"conversation_id": people["ours"].id}, timeout=10) == \
        {"error": "you are not in this conversation's room now"}
    assert ann.call("webrtc_join", "nonsense", timeout=10) == {"error": "send {conversation_id}"}


def test_ending_the_room_tells_the_browsers_in_it_once(live_server, people, sockets):
    from core.api import CallConversation

    ann, ben, cal = (connect(live_server, sockets, name) for name in ("ann", "ben", "cal"))
    inboxes = [Inbox(client, "webrtc_end") for client in (ann, ben, cal)]
    for client in (ann, ben):
        assert client.call("webrtc_join", {"conversation_id": people["ours"].id}, timeout=10)["ok"] is True
    conversation = people["ours"]
    provider = WebrtcProvider()
    with live_server.app.app_context():
        room = provider.create_room(CallConversation(conversation.id, conversation.uid, conversation.starts_at,
                                                     conversation.starts_at + dt.timedelta(minutes=75), 60))
        provider.end_room(room)
        provider.end_room(room)
        live_server.app.extensions["socketio"].emit("webrtc_end", {"conversation_id": 0, "marker": True},
                                                    to=f"webrtc:{conversation.id}")
    for inbox in inboxes[:2]:
        inbox.wait_for(lambda data: data.get("marker"))
        assert inbox.received == [{"conversation_id": conversation.id, "room": room.name},
                                  {"conversation_id": 0, "marker": True}]
    assert inboxes[2].received == []
    assert room.data["ended"] is True


# --- the documented coturn configuration --------------------------------------------------------

def test_the_documented_coturn_config_uses_the_secret_and_denies_private_and_loopback_peers():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "call-webrtc.md").read_text(encoding="utf-8")
    block = text.split("```ini\n", 1)[1].split("```", 1)[0]
    lines = {line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")}
    assert {"use-auth-secret", "realm=turn.example.org", "no-multicast-peers"} <= lines
    assert any(line.startswith("static-auth-secret=") for line in lines)
    denied = {line.removeprefix("denied-peer-ip=") for line in lines if line.startswith("denied-peer-ip=")}
    assert {"0.0.0.0-0.255.255.255", "10.0.0.0-10.255.255.255", "100.64.0.0-100.127.255.255",
            "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "172.16.0.0-172.31.255.255",
            "192.168.0.0-192.168.255.255", "::1", "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} <= denied


def test_a_signalling_flood_is_refused_past_its_burst_and_not_relayed(live_server, people, sockets):
    import time

    ann, ben = connect(live_server, sockets, "ann"), connect(live_server, sockets, "ben")
    inbox = Inbox(ben, "webrtc_signal")
    candidate = {"conversation_id": people["ours"].id, "to": people["ben"].id,
                 "candidate": {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0",
                               "sdpMLineIndex": 0}}
    acks: list[Any] = []
    done = threading.Event()

    def ack(answer: Any) -> None:
        acks.append(answer)
        if len(acks) == 400:
            done.set()

    started = time.monotonic()
    for _ in range(400):
        ann.emit("webrtc_signal", candidate, callback=ack)
    assert done.wait(10)
    took = time.monotonic() - started
    relayed = [answer for answer in acks if answer == {"ok": True}]
    assert 100 <= len(relayed) <= 100 + 25 * took + 1  # `realtime.signal_burst`, plus the refill meanwhile
    assert {answer.get("code") for answer in acks if answer not in relayed} == {"rate_limited"}
    time.sleep(1.0)
    assert len(inbox.received) == len(relayed)

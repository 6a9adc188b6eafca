"""The call_livekit plugin against LiveKit's documented formats (LiveKit itself cannot run here).

Access tokens are decoded with PyJWT and checked claim by claim as livekit-server reads them (HS256,
iss = API key, sub = identity, the `video` grant); room calls go over real HTTP to a local fake of
LiveKit's Twirp RoomService that checks the bearer token's signature and grants and answers in the
protobuf (or JSON) the client sent; webhooks are signed the way livekit-server signs them (a JWT in
the Authorization header carrying the body's SHA-256); configuration mistakes go through the real
`oss-connect check`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask
from google.protobuf import json_format
from livekit.protocol import models
from livekit.protocol import room as room_proto
from livekit.protocol import webhook as webhook_proto

import plugins.call_livekit
from core.api import CALL_CAPABILITIES, CallConversation, CallParticipant, CallProviderError, CallRoom
from core.testing import deep_merge, require_service
from plugins.call_livekit.provider import LiveKitProvider, make_token, room_name_for
from plugins.call_livekit.settings import LiveKitSettings
from tests.conftest import free_port
from tests.matching_fakes import LeanPlugin
from tests.room_fakes import ROOM_SETTINGS, booked, people, prepare_call

ROOT = Path(__file__).resolve().parent.parent
OSS_CONNECT = str(Path(sys.executable).parent / "oss-connect")
KEY = "APIoss0connect"
SECRET = "livekit-api-secret-for-tests-0123456789-abcdef"
SITE_SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
PLUGIN = {"url": "wss://livekit.example.org", "api_key": KEY, "api_secret": SECRET}
ANA = CallParticipant(user_id=7, display_name="Ana", role="participant")
BEN = CallParticipant(user_id=8, display_name="Ben", role="participant")


def settings(**changes: Any) -> LiveKitSettings:
    """Valid settings, with `changes`."""
    return LiveKitSettings.model_validate({**PLUGIN, **changes})


def provider(**changes: Any) -> LiveKitProvider:
    """A provider with explicit settings (no app needed)."""
    return LiveKitProvider(settings(**changes))


def conversation(uid: str = "c-0001", number: int = 1) -> CallConversation:
    """A conversation as core describes it to a provider."""
    return CallConversation(id=number, uid=uid, starts_at=None, ends_at=None, recorded_minutes=0)


def a_room(name: str | None = None) -> CallRoom:
    """A stored room, as core hands it back to join_payload and end_room."""
    return CallRoom(provider="livekit", name=name or room_name_for(settings(), "c-0001"), conversation_id=1, data={})


def decode(token: str, secret: str = SECRET, **options: Any) -> dict[str, Any]:
    """Verify and decode a token as livekit-server does: HS256, signature, issuer = API key, expiry."""
    return jwt.decode(token, secret, algorithms=["HS256"], issuer=KEY, options={"require": ["exp"]}, **options)


# --- the fake LiveKit server: Twirp RoomService as documented -----------------------------------

TWIRP = "/twirp/livekit.RoomService/"
METHODS = {  # method -> (request message, the grant livekit-server requires)
    "CreateRoom": (room_proto.CreateRoomRequest, "roomCreate"),
    "DeleteRoom": (room_proto.DeleteRoomRequest, "roomCreate"),
    "ListRooms": (room_proto.ListRoomsRequest, "roomList"),
}


@dataclass
class FakeLiveKit:
    """What the fake server holds and saw."""

    url: str
    keys: dict[str, str]
    rooms: dict[str, models.Room] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    delay: float = 0.0

    @property
    def ws_url(self) -> str:
        """The address as browsers would use it."""
        return self.url.replace("http://", "ws://")


class TwirpHandler(BaseHTTPRequestHandler):
    """POST /twirp/livekit.RoomService/<Method>, authenticated with `Authorization: Bearer <JWT>`."""

    server: Any

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        """Authenticate, authorise, decode, act, encode in the request's content type."""
        fake: FakeLiveKit = self.server.fake
        time.sleep(fake.delay)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(TWIRP) or self.path[len(TWIRP):] not in METHODS:
            return self.error(404, "bad_route", f"no handler for path {self.path}")
        method = self.path[len(TWIRP):]
        message_class, grant = METHODS[method]
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.error(401, "unauthenticated", "no authorization header")
        token = auth[len("Bearer "):]
        try:
            key = jwt.decode(token, options={"verify_signature": False})["iss"]
            claims = jwt.decode(token, fake.keys.get(key, ""), algorithms=["HS256"], issuer=key,
                                options={"require": ["exp", "nbf", "iss"]})
        except (jwt.PyJWTError, KeyError) as error:
            return self.error(401, "unauthenticated", f"invalid token: {error}")
        if not (claims.get("video") or {}).get(grant):
            return self.error(403, "permission_denied", f"{grant} grant required")
        content_type = self.headers.get("Content-Type", "")
        request = message_class()
        if content_type == "application/protobuf":
            request.ParseFromString(body)
        elif content_type == "application/json":
            json_format.Parse(body.decode(), request)
        else:
            return self.error(400, "malformed", f"unexpected content type {content_type!r}")
        fake.calls.append({"method": method, "content_type": content_type, "claims": claims,
                           "request": json_format.MessageToDict(request, preserving_proto_field_name=True),
                           "user_agent": self.headers.get("User-Agent", "")})
        answer = getattr(self, method.lower())(fake, request)
        if answer is None:
            return None
        if content_type == "application/json":
            data, kind = json_format.MessageToJson(answer).encode(), "application/json"
        else:
            data, kind = answer.SerializeToString(), "application/protobuf"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return None

    def do_GET(self) -> None:
        """The browser's signal connection (/rtc, a WebSocket) and its /rtc/validate check: refused (401)."""
        self.server.fake.signals.append(self.path)
        self.error(401, "unauthenticated", "this fake LiveKit server does not carry media")

    def createroom(self, fake: FakeLiveKit, request: Any) -> Any:
        """Documented: create a room, or return the one that already has this name."""
        if request.name not in fake.rooms:
            fake.rooms[request.name] = models.Room(
                sid=f"RM_{len(fake.calls):06d}", name=request.name, empty_timeout=request.empty_timeout,
                departure_timeout=request.departure_timeout, max_participants=request.max_participants,
                creation_time=int(time.time()))
        return fake.rooms[request.name]

    def deleteroom(self, fake: FakeLiveKit, request: Any) -> Any:
        """Documented: delete a room (disconnecting everyone); not_found when there is none."""
        if fake.rooms.pop(request.room, None) is None:
            return self.error(404, "not_found", "requested room does not exist")
        return room_proto.DeleteRoomResponse()

    def listrooms(self, fake: FakeLiveKit, request: Any) -> Any:
        """Documented: the open rooms, only the named ones when names are given."""
        names = set(request.names)
        return room_proto.ListRoomsResponse(rooms=[room for name, room in fake.rooms.items()
                                                   if not names or name in names])

    def error(self, status: int, code: str, message: str) -> None:
        """A Twirp error: JSON {code, msg} whatever the request's content type."""
        data = json.dumps({"code": code, "msg": message}).encode()
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")  # as livekit-server: browsers read /rtc/validate
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(handler: type[BaseHTTPRequestHandler], fake: Any = None) -> tuple[ThreadingHTTPServer, str]:
    """Serve `handler` on 127.0.0.1 from a thread; the server and its http:// address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.fake = fake
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    """A fake LiveKit server that knows the test API key pair."""
    server, url = serve(TwirpHandler)
    server.fake = FakeLiveKit(url=url, keys={KEY: SECRET})
    yield server.fake
    server.shutdown()
    server.server_close()


def at(fake: FakeLiveKit, **changes: Any) -> LiveKitProvider:
    """A provider whose browsers and API calls go to the fake server."""
    return provider(url=fake.ws_url, **changes)


# --- settings ---------------------------------------------------------------------------------

def test_the_api_url_is_derived_from_the_browser_url():
    assert settings().api_url == "https://livekit.example.org"
    assert settings(url="ws://127.0.0.1:7880/").api_url == "http://127.0.0.1:7880"
    assert settings(url="wss://example.org/livekit").api_url == "https://example.org/livekit"
    assert settings(api_url="http://10.0.0.5:7880/").api_url == "http://10.0.0.5:7880"


@pytest.mark.parametrize(("url", "message"), [
    ("https://livekit.example.org", "must start with wss:// or ws:// (got https); write `url: wss://livekit.example.org`"),
    ("livekit.example.org", "must start with wss:// or ws:// (got no scheme); write `url: wss://livekit.example.org`"),
    ("wss://", "must be an address with a host name such as wss://livekit.example.org"),
    ("wss://livekit.example.org/?room=x", "no query, fragment or password"),
])
def test_a_browser_url_that_is_not_a_websocket_address_is_refused(url, message):
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("(", r"\(").replace(")", r"\)")):
        settings(url=url)


def test_the_api_url_must_be_http():
    with pytest.raises(ValueError, match=r"must start with https:// or http:// \(got wss\); write `api_url: "
                                         r"https://livekit.example.org`"):
        settings(api_url="wss://livekit.example.org")


def test_a_short_secret_and_a_key_with_spaces_are_refused():
    with pytest.raises(ValueError, match=r"the API secret is too short \(at least 32 characters\)"):
        settings(api_secret="secret")
    with pytest.raises(ValueError, match=r"exactly as in livekit\.yaml"):
        settings(api_key="API key")


# --- rooms ------------------------------------------------------------------------------------

def test_the_provider_is_named_livekit_and_declares_known_capabilities():
    lk = provider()
    assert lk.name == "livekit"
    assert lk.capabilities == {"video", "audio_only", "mute", "camera_off", "reconnect", "facilitator", "webhook"}
    assert lk.capabilities <= CALL_CAPABILITIES


def test_room_names_are_stable_unique_and_unguessable():
    names = {room_name_for(settings(), f"c-{number}") for number in range(500)}
    assert len(names) == 500
    assert all(name.startswith("oss-") and len(name) == 36 and name[4:].isalnum() for name in names)
    assert room_name_for(settings(), "c-1") == room_name_for(settings(), "c-1")
    # keyed by the API secret: knowing the conversation uid is not enough to find the room
    assert room_name_for(settings(api_secret=SECRET[::-1]), "c-1") not in names
    assert all("c-" not in name for name in names)


def test_create_room_creates_it_on_the_server_with_the_configured_limits(livekit):
    lk = at(livekit, max_participants=3, room_empty_timeout_seconds=120)
    room = lk.create_room(conversation("c-42", 42))
    assert (room.provider, room.conversation_id, room.name) == ("livekit", 42, room_name_for(lk.settings, "c-42"))
    [call] = livekit.calls
    assert call["method"] == "CreateRoom"
    assert call["content_type"] == "application/protobuf"  # livekit-api speaks protobuf to the server
    assert call["request"] == {"name": room.name, "empty_timeout": 120, "departure_timeout": 120,
                               "max_participants": 3}
    # the server token: our key, a short life, only the grant CreateRoom needs
    claims = call["claims"]
    assert claims["iss"] == KEY
    assert claims["video"] == {"roomCreate": True, "canPublish": True, "canSubscribe": True, "canPublishData": True}
    assert 0 < claims["exp"] - time.time() <= 6 * 3600 + 5
    assert room.data == {"sid": livekit.rooms[room.name].sid, "max_participants": 3, "empty_timeout": 120}
    json.dumps(room.data)  # core stores it as JSON


def test_create_room_is_idempotent(livekit):
    lk = at(livekit)
    first, again = lk.create_room(conversation()), lk.create_room(conversation())
    assert first == again
    assert len(livekit.rooms) == 1
    assert [call["method"] for call in livekit.calls] == ["CreateRoom", "CreateRoom"]


def test_end_room_deletes_it_and_ending_it_again_is_fine(livekit):
    lk = at(livekit)
    room = lk.create_room(conversation())
    assert lk.end_room(room) is None
    assert livekit.rooms == {}
    assert lk.end_room(room) is None  # the server answers not_found: already ended
    assert [call["method"] for call in livekit.calls] == ["CreateRoom", "DeleteRoom", "DeleteRoom"]
    assert all(call["claims"]["video"]["roomCreate"] is True for call in livekit.calls)


def test_a_wrong_secret_is_a_provider_error_naming_the_server_and_the_fix(livekit):
    lk = at(livekit, api_secret="another-secret-that-livekit-does-not-know-0123")
    with pytest.raises(CallProviderError) as caught:
        lk.create_room(conversation())
    message = str(caught.value)
    assert message.startswith(f"the LiveKit server at {livekit.url} refused our API key when asked to create "
                              "the room oss-")
    assert "(401 unauthenticated: invalid token: Signature verification failed)" in message
    assert message.endswith("check that plugins.call_livekit.api_key and api_secret are a pair listed under "
                            "`keys:` in livekit.yaml (docs/call-livekit.md)")
    assert "another-secret" not in message
    assert livekit.rooms == {}


def test_an_unknown_key_is_refused_by_the_server_too(livekit):
    with pytest.raises(CallProviderError, match="refused our API key when asked to close the room"):
        at(livekit, api_key="APIunknown").end_room(a_room())


def test_a_server_that_is_down_is_a_provider_error_naming_the_url():
    port = free_port()  # nobody listens there
    lk = provider(url=f"ws://127.0.0.1:{port}")
    with pytest.raises(CallProviderError) as caught:
        lk.create_room(conversation())
    message = str(caught.value)
    assert message.startswith(f"the LiveKit server at http://127.0.0.1:{port} could not be reached to create "
                              "the room oss-")
    assert message.endswith("check that livekit-server is running and that plugins.call_livekit.api_url "
                            "(or url) points at it")
    with pytest.raises(CallProviderError, match=f"at http://127.0.0.1:{port} could not be reached to close"):
        lk.end_room(a_room())


def test_the_api_url_overrides_where_server_calls_go(livekit):
    lk = provider(url="wss://livekit.example.org", api_url=livekit.url)
    room = lk.create_room(conversation())
    assert room.name in livekit.rooms
    assert lk.join_payload(room, ANA, "participant")["url"] == "wss://livekit.example.org"


class NotLiveKit(BaseHTTPRequestHandler):
    """Some other web server: an HTML 404 for everything."""

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        """404 with a page."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_server_that_is_not_livekit_is_named_as_such():
    server, url = serve(NotLiveKit)
    try:
        lk = provider(url="wss://livekit.example.org", api_url=url)
        with pytest.raises(CallProviderError, match=f"the LiveKit server at {url} does not answer like a LiveKit "
                                                    r"server when asked to create the room .* \(404 unknown\); check "
                                                    r"plugins.call_livekit.api_url \(or url\)"):
            lk.create_room(conversation())
        # a 404 that is not LiveKit's not_found is no proof that the room is gone
        with pytest.raises(CallProviderError, match="does not answer like a LiveKit server"):
            lk.end_room(a_room())
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_does_not_answer_in_time_is_a_provider_error(livekit):
    livekit.delay = 2.5
    with pytest.raises(CallProviderError, match=f"the LiveKit server at {livekit.url} did not answer within 1 "
                                                "seconds when asked to create the room"):
        at(livekit, request_timeout_seconds=1).create_room(conversation())


def test_list_rooms_reads_the_json_or_protobuf_answer(livekit):
    from plugins.call_livekit import server

    lk = at(livekit)
    room = lk.create_room(conversation())
    other = lk.create_room(conversation("c-2", 2))
    assert sorted(found.name for found in server.list_rooms(lk.settings)) == sorted([room.name, other.name])
    assert [found.name for found in server.list_rooms(lk.settings, [room.name])] == [room.name]
    assert livekit.calls[-1]["claims"]["video"]["roomList"] is True


def test_the_fake_server_also_speaks_twirp_json():
    """The fake follows Twirp: the same method answers JSON requests in JSON (what curl users send)."""
    import requests

    server, url = serve(TwirpHandler)
    server.fake = FakeLiveKit(url=url, keys={KEY: SECRET})
    try:
        token = jwt.encode({"iss": KEY, "nbf": int(time.time()), "exp": int(time.time()) + 60,
                            "video": {"roomCreate": True}}, SECRET, algorithm="HS256")
        answer = requests.post(f"{url}{TWIRP}CreateRoom", json={"name": "json-room", "max_participants": 2},
                               headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert answer.status_code == 200
        assert answer.json()["name"] == "json-room" and answer.json()["maxParticipants"] == 2
        denied = requests.post(f"{url}{TWIRP}ListRooms", json={}, headers={"Authorization": f"Bearer {token}"},
                               timeout=5)
        assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    finally:
        server.shutdown()
        server.server_close()


# --- access tokens ------------------------------------------------------------------------------

def join(role: str = "participant", who: CallParticipant = ANA, lk: LiveKitProvider | None = None,
         room: CallRoom | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The join payload for `who` in `role`, and its decoded token."""
    lk = lk or provider()
    payload = lk.join_payload(room or a_room(), who, role)
    return payload, decode(payload["token"])


def test_the_payload_has_the_browser_url_the_token_and_the_room():
    room = a_room()
    payload, _ = join(room=room)
    assert set(payload) == {"url", "token", "room"}
    assert (payload["url"], payload["room"]) == ("wss://livekit.example.org", room.name)


def test_the_token_has_exactly_the_documented_claims():
    before = int(time.time())
    room = a_room()
    payload, claims = join(room=room)
    assert jwt.get_unverified_header(payload["token"]) == {"alg": "HS256", "typ": "JWT"}
    assert set(claims) == {"iss", "sub", "nbf", "exp", "name", "metadata", "video"}
    assert claims["iss"] == KEY
    assert claims["sub"] == "7"  # the identity: the user id, never an email
    assert claims["name"] == "Ana"
    assert json.loads(claims["metadata"]) == {"role": "participant"}
    assert before - 1 <= claims["nbf"] <= int(time.time())
    assert claims["exp"] - claims["nbf"] == 240 * 60
    assert claims["video"] == {"roomJoin": True, "room": room.name, "canPublish": True, "canSubscribe": True,
                               "canPublishData": False, "canUpdateOwnMetadata": False}


def test_the_facilitator_publishes_like_a_participant():
    _, claims = join("facilitator", CallParticipant(3, "Facilitator", "facilitator"))
    assert claims["video"]["canPublish"] is True
    assert "hidden" not in claims["video"] and "roomAdmin" not in claims["video"]
    assert json.loads(claims["metadata"]) == {"role": "facilitator"}


def test_an_admin_observes_hidden_without_publishing():
    _, claims = join("admin", CallParticipant(1, "Organiser", "admin"))
    assert claims["video"]["canPublish"] is False
    assert claims["video"]["hidden"] is True
    assert claims["video"]["canSubscribe"] is True
    assert claims["video"]["canPublishData"] is False
    assert json.loads(claims["metadata"]) == {"role": "admin"}


def test_a_token_only_opens_its_own_room():
    _, claims = join(room=a_room("oss-other"))
    assert claims["video"]["room"] == "oss-other"
    assert "roomCreate" not in claims["video"] and "roomList" not in claims["video"]


def test_a_token_signed_with_another_secret_does_not_verify():
    payload, _ = join()
    with pytest.raises(jwt.InvalidSignatureError):
        decode(payload["token"], secret=SECRET[::-1])


def test_the_lifetime_follows_the_settings_and_an_expired_token_is_refused():
    payload, claims = join(lk=provider(token_ttl_minutes=5))
    assert claims["exp"] - claims["nbf"] == 300
    with pytest.raises(jwt.ExpiredSignatureError):
        # as seen 301 seconds later (PyJWT checks exp against now + leeway)
        jwt.decode(payload["token"], SECRET, algorithms=["HS256"], issuer=KEY, options={"verify_nbf": False},
                   leeway=-301)


def test_no_email_reaches_the_payload_or_the_token():
    payload, claims = join(who=CallParticipant(9, "Ana", "participant"))
    text = json.dumps(payload) + json.dumps(claims)
    assert "@" not in text
    assert "secret" not in text.lower() and SECRET not in text


def test_a_participant_without_a_name_is_named_by_role():
    _, claims = join(who=CallParticipant(9, "  ", "participant"))
    assert claims["name"] == "Participant"


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown call role 'guest'"):
        make_token(settings(), "oss-x", ANA, "guest")


def test_csp_allows_the_livekit_server_and_nothing_else():
    assert provider().csp_sources() == {"connect-src": ["wss://livekit.example.org", "https://livekit.example.org"]}
    assert provider(url="ws://127.0.0.1:7880").csp_sources() == {
        "connect-src": ["ws://127.0.0.1:7880", "http://127.0.0.1:7880"]}


# --- webhooks -------------------------------------------------------------------------------------

def webhook_event(event: str, room: str = "oss-abc", identity: str = "7") -> bytes:
    """A webhook body as livekit-server posts it: the WebhookEvent as JSON."""
    message = webhook_proto.WebhookEvent(event=event, id="EV_1", created_at=1700000000,
                                         room=models.Room(sid="RM_1", name=room))
    if event.startswith("participant_"):
        message.participant.CopyFrom(models.ParticipantInfo(sid="PA_1", identity=identity, name="Ana"))
    return json_format.MessageToJson(message).encode()


def sign(body: bytes, key: str = KEY, secret: str = SECRET, ttl: int = 300) -> str:
    """livekit-server's webhook signature: a JWT from the API key whose `sha256` is the body's digest."""
    now = int(time.time())
    return jwt.encode({"iss": key, "nbf": now, "exp": now + ttl,
                       "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()}, secret, algorithm="HS256")


def test_a_genuine_room_finished_webhook_ends_the_room():
    body = webhook_event("room_finished")
    [event] = provider().handle_webhook(body, {"Authorization": sign(body), "Content-Type": "application/webhook+json"})
    assert (event.room_name, event.status, event.user_id) == ("oss-abc", "ended", None)
    assert event.detail == {"event": "room_finished", "event_id": "EV_1", "created_at": 1700000000, "room_sid": "RM_1"}


@pytest.mark.parametrize(("kind", "status"), [("participant_joined", "joined"), ("participant_left", "left"),
                                              ("participant_connection_aborted", "left")])
def test_participant_webhooks_name_the_user(kind, status):
    body = webhook_event(kind)
    [event] = provider().handle_webhook(body, {"authorization": sign(body)})  # header names are case-blind
    assert (event.room_name, event.status, event.user_id) == ("oss-abc", status, 7)
    assert event.detail["participant_sid"] == "PA_1"
    assert "Ana" not in json.dumps(event.detail)


def test_a_bearer_prefix_is_accepted_too():
    body = webhook_event("room_started")
    [event] = provider().handle_webhook(body, {"Authorization": f"Bearer {sign(body)}"})
    assert event.status == "created"


def test_other_webhooks_are_verified_and_ignored():
    body = webhook_event("track_published")
    assert provider().handle_webhook(body, {"Authorization": sign(body)}) == []
    with pytest.raises(ValueError):
        provider().handle_webhook(body, {"Authorization": sign(body, secret=SECRET[::-1])})


def test_an_identity_that_is_not_a_user_id_gives_no_user():
    body = webhook_event("participant_joined", identity="EG_recorder")
    [event] = provider().handle_webhook(body, {"Authorization": sign(body)})
    assert event.user_id is None


def test_a_tampered_body_is_refused():
    body = webhook_event("room_finished")
    tampered = body.replace(b"oss-abc", b"oss-xyz")
    with pytest.raises(ValueError, match=r"not genuine or not readable \(hash mismatch\)"):
        provider().handle_webhook(tampered, {"Authorization": sign(body)})


def test_a_webhook_signed_with_another_secret_or_key_is_refused():
    body = webhook_event("room_finished")
    with pytest.raises(ValueError, match="Signature verification failed"):
        provider().handle_webhook(body, {"Authorization": sign(body, secret=SECRET[::-1])})
    with pytest.raises(ValueError, match="Invalid issuer"):
        provider().handle_webhook(body, {"Authorization": sign(body, key="APIother")})


def test_an_expired_webhook_signature_is_refused():
    body = webhook_event("room_finished")
    with pytest.raises(ValueError, match="Signature has expired"):
        provider().handle_webhook(body, {"Authorization": sign(body, ttl=-120)})


def test_a_webhook_without_authorization_is_refused():
    body = webhook_event("room_finished")
    with pytest.raises(ValueError, match="no Authorization header"):
        provider().handle_webhook(body, {"Content-Type": "application/webhook+json"})
    with pytest.raises(ValueError, match="not genuine"):
        provider().handle_webhook(body, {"Authorization": "not-a-jwt"})


def test_a_webhook_body_that_is_not_utf8_is_refused():
    body = b"\xff\xfe{}"
    with pytest.raises(ValueError, match="not UTF-8"):
        provider().handle_webhook(body, {"Authorization": sign(body)})


# --- the plugin in an app ----------------------------------------------------------------------------

def test_the_scripts_are_served_by_the_site():
    app = Flask(__name__)
    for blueprint in plugins.call_livekit.register_blueprints(app):
        app.register_blueprint(blueprint)
    with app.test_request_context():
        scripts = provider().client_scripts()
    assert scripts == ["/plugins/call_livekit/static/vendor/livekit-client/livekit-client.umd.js",
                       "/plugins/call_livekit/static/livekit.js"]
    client = app.test_client()
    library, adapter = client.get(scripts[0]), client.get(scripts[1])
    assert library.status_code == adapter.status_code == 200
    assert b".LivekitClient={}" in library.data
    assert b'OssCall.register("livekit"' in adapter.data
    vendor = Path(plugins.call_livekit.STATIC) / "vendor" / "livekit-client"
    assert "Apache License" in (vendor / "LICENSE").read_text()
    recorded = (vendor / "VENDOR.md").read_text()
    assert hashlib.sha256(library.data).hexdigest() in recorded  # the copy is the one VENDOR.md names


@pytest.fixture
def fake_for_app() -> Iterator[FakeLiveKit]:
    """A fake LiveKit server started before the app (its address goes into the app's config)."""
    server, url = serve(TwirpHandler)
    server.fake = FakeLiveKit(url=url, keys={KEY: SECRET})
    yield server.fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def oss_connect_settings(fake_for_app: FakeLiveKit) -> dict[str, Any]:
    """The plugin's settings pointing at the fake server."""
    return {"plugins": {"call_livekit": {**PLUGIN, "url": fake_for_app.ws_url, "max_participants": 3}}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """call_livekit enabled."""
    return {"call_livekit": plugins.call_livekit}


def test_the_enabled_plugin_registers_the_provider_with_its_config(app, fake_for_app):
    lk = app.extensions["oss_connect"].provider("call_provider", "livekit")
    assert isinstance(lk, LiveKitProvider)
    with app.app_context():
        assert lk.settings.api_url == fake_for_app.url
        assert lk.settings.max_participants == 3
        room = lk.create_room(conversation())
        assert decode(lk.join_payload(room, BEN, "participant")["token"])["video"]["room"] == room.name
        lk.end_room(room)
    assert [call["method"] for call in fake_for_app.calls] == ["CreateRoom", "DeleteRoom"]
    with app.test_request_context():
        assert lk.client_scripts()[-1] == "/plugins/call_livekit/static/livekit.js"
    assert app.test_client().get("/plugins/call_livekit/static/livekit.js").status_code == 200


class TestTheRoomPage:
    """The real room page with room.call_provider = livekit, against the fake LiveKit server."""

    @pytest.fixture
    def oss_connect_settings(self, fake_for_app: FakeLiveKit) -> dict[str, Any]:
        """The room's settings with LiveKit as the call provider."""
        return deep_merge(ROOM_SETTINGS, {"room": {"call_provider": "livekit"},
                                          "plugins": {"call_livekit": {**PLUGIN, "url": fake_for_app.ws_url}}})

    @pytest.fixture
    def oss_connect_plugins(self) -> dict[str, Any]:
        """Profiles (lean) and call_livekit."""
        return {"lean": LeanPlugin(), "call_livekit": plugins.call_livekit}

    @pytest.fixture
    def cast(self, app: Any, make_user: Any) -> dict[str, Any]:
        """Ann, Ben and the rest."""
        return people(app, make_user)

    def page(self, app: Any, login: Any, email: str, conversation: Any) -> Any:
        """The room page as `email` sees it."""
        client = app.test_client()
        login(email, test_client=client)
        return client.get(f"/conversations/{conversation.id}/room")

    def call(self, app: Any, login: Any, email: str, conversation: Any) -> Any:
        """What the room page's script gets when it prepares the call as `email` (the JSON response)."""
        client = app.test_client()
        login(email, test_client=client)
        return prepare_call(client, conversation)

    def test_a_participant_joins_the_conversations_livekit_room_with_a_token(self, app, login, cast, fake_for_app):
        conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=1)
        page = self.page(app, login, "ann@example.org", conversation)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        data = json.loads(re.search(r'<script type="application/json" id="room-data">(.*?)</script>', html,
                                    re.S).group(1))
        assert data["call"]["payload"] is None and fake_for_app.rooms == {}  # opening the page makes no room
        call = self.call(app, login, "ann@example.org", conversation).get_json()
        assert call["provider"] == data["call"]["provider"] == "livekit"
        assert call["capabilities"] == data["call"]["capabilities"] == sorted(LiveKitProvider.capabilities)
        payload = call["payload"]
        assert set(payload) == {"url", "token", "room"}
        assert payload["url"] == fake_for_app.ws_url and payload["room"] in fake_for_app.rooms
        claims = decode(payload["token"])
        assert (claims["sub"], claims["name"]) == (str(cast["ann"].id), "Ann G.")
        assert claims["video"]["room"] == payload["room"] and claims["video"]["canPublish"] is True
        assert "example.org" not in html  # no email, and the LiveKit server is not example.org here
        scripts = re.findall(r'<script src="([^"]+)"', html)
        assert scripts.index("/plugins/call_livekit/static/vendor/livekit-client/livekit-client.umd.js") \
            < scripts.index("/plugins/call_livekit/static/livekit.js") < scripts.index("/static/js/room.js")
        connect = next(part for part in page.headers["Content-Security-Policy"].split(";")
                       if part.strip().startswith("connect-src"))
        assert connect.split()[1:] == ["'self'", fake_for_app.ws_url, fake_for_app.url]
        assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]

    def test_both_participants_and_an_admin_share_one_room(self, app, login, cast, fake_for_app):
        conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=1)
        rooms, tokens = set(), {}
        for who in ("ann", "ben", "ada"):
            payload = self.call(app, login, f"{who}@example.org", conversation).get_json()["payload"]
            rooms.add(payload["room"])
            tokens[who] = decode(payload["token"])
        assert len(rooms) == 1 and len(fake_for_app.rooms) == 1
        assert tokens["ada"]["video"]["hidden"] is True and tokens["ada"]["video"]["canPublish"] is False
        assert json.loads(tokens["ada"]["metadata"]) == {"role": "admin"}

    def test_a_livekit_server_that_is_down_is_explained_on_the_page(self, app, login, cast, fake_for_app):
        conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=1)
        fake_for_app.keys.clear()  # the server no longer knows our key: it answers 401
        answer = self.call(app, login, "ann@example.org", conversation)
        error = answer.get_json()["error"]
        assert answer.status_code == 502 and error.startswith("The call could not start: the LiveKit server at")
        assert "refused our API key" in error and "keys:" in error
        assert SECRET not in answer.get_data(as_text=True)


@pytest.mark.browser
class TestInChromium:
    """The real room page in headless Chromium with LiveKit's real browser client, against the fake server."""

    @pytest.fixture
    def oss_connect_settings(self, fake_for_app: FakeLiveKit) -> dict[str, Any]:
        """The room's settings with LiveKit as the call provider."""
        return deep_merge(ROOM_SETTINGS, {"room": {"call_provider": "livekit"},
                                          "plugins": {"call_livekit": {**PLUGIN, "url": fake_for_app.ws_url}}})

    @pytest.fixture
    def oss_connect_plugins(self) -> dict[str, Any]:
        """Profiles (lean) and call_livekit."""
        return {"lean": LeanPlugin(), "call_livekit": plugins.call_livekit}

    def test_the_browser_client_takes_the_token_to_the_server_and_reports_a_refusal(self, live_server, page,
                                                                                   fake_for_app):
        from tests.browser import create_account, open_page, sign_in
        from tests.profiles import complete_profile

        ann, ben = create_account("ann@example.org"), create_account("ben@example.org")
        complete_profile(live_server.app, ann, first_name="Ann")
        complete_profile(live_server.app, ben, first_name="Ben")
        conversation = booked(live_server.app, ann, ben, minutes_ago=1)
        violations: list[str] = []
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        sign_in(page, live_server.url, "ann@example.org")
        open_page(page, f"{live_server.url}/conversations/{conversation.id}/room")
        page.wait_for_selector('#call-media[data-call-status="failed"]', timeout=30_000)
        assert page.evaluate("typeof window.LivekitClient.Room") == "function"
        assert page.evaluate("window.ossLivekitState().status") == "failed"
        said = page.evaluate("document.body.innerText")
        assert "The call server did not accept this page's invitation" in said
        # LiveKit's client went to the configured server with the token of this page, for this room
        [room_name] = fake_for_app.rooms
        tokens = [value for path in fake_for_app.signals for key, values in parse_qs(urlsplit(path).query).items()
                  if key == "access_token" for value in values]
        assert tokens, fake_for_app.signals
        claims = decode(tokens[0])
        assert (claims["sub"], claims["video"]["room"]) == (str(ann.id), room_name)
        assert violations == []


# --- configuration mistakes: `oss-connect check` ---------------------------------------------

def check(folder: Path, plugin_yaml: str,
          env: dict[str, str] | None = None) -> tuple[Path, subprocess.CompletedProcess]:
    """Write a config enabling call_livekit with `plugin_yaml` and run `oss-connect check` on it."""
    config = folder / "oss-connect.yaml"
    config.write_text(f"site:\n  secret_key: {SITE_SECRET}\nplugins:\n  call_livekit:\n"
                      + textwrap.indent(textwrap.dedent(plugin_yaml).strip("\n"), "    ")
                      + "\nroom:\n  call_provider: livekit\n", encoding="utf-8")
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("OSS_CONNECT") and not key.startswith("LIVEKIT_")}
    environment.update(env or {})
    done = subprocess.run([OSS_CONNECT, "check", "--config", str(config)], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=60)
    return config.resolve(), done


def refused(done: subprocess.CompletedProcess, *lines: str) -> None:
    """Exit 2 with exactly these lines under the heading."""
    heading = f"Configuration error{'s' if len(lines) != 1 else ''} ({len(lines)}):"
    assert done.stderr.splitlines() == [heading, *lines]
    assert done.returncode == 2


GOOD = """
    url: wss://livekit.example.org
    api_key: APIoss0connect
    api_secret: ${LIVEKIT_API_SECRET}
"""


def test_a_good_config_with_the_secret_from_the_environment_passes(tmp_path):
    _, done = check(tmp_path, GOOD, env={"LIVEKIT_API_SECRET": SECRET})
    assert done.returncode == 0, done.stderr
    assert "call_livekit" in done.stdout


def test_a_missing_api_key_is_located(tmp_path):
    config, done = check(tmp_path, """
        url: wss://livekit.example.org
        api_secret: ${LIVEKIT_API_SECRET}
    """, env={"LIVEKIT_API_SECRET": SECRET})
    refused(done, f"{config}:4: plugins.call_livekit.api_key: a required key is missing (expected the API key "
                  "from the `keys:` of livekit.yaml (the tokens' iss), got nothing); add `api_key:` under "
                  "`plugins.call_livekit`")


def test_an_https_url_names_the_wss_address_to_write(tmp_path):
    config, done = check(tmp_path, GOOD.replace("wss://", "https://"), env={"LIVEKIT_API_SECRET": SECRET})
    refused(done, f"{config}:5: plugins.call_livekit.url: the address must start with wss:// or ws:// (got "
                  "https); write `url: wss://livekit.example.org`")


def test_a_short_secret_is_refused_without_showing_it(tmp_path):
    config, done = check(tmp_path, GOOD, env={"LIVEKIT_API_SECRET": "tooshort"})
    refused(done, f"{config}:7: plugins.call_livekit.api_secret: the API secret is too short (at least 32 "
                  "characters); generate a key pair with `livekit-server generate-keys` (or a secret with "
                  "`openssl rand -base64 48`), put it under `keys:` in livekit.yaml and here as "
                  "${LIVEKIT_API_SECRET}")
    assert "tooshort" not in done.stderr


def test_an_unset_secret_variable_is_named(tmp_path):
    config, done = check(tmp_path, GOOD)
    assert done.returncode == 2
    assert (f"{config}:7: plugins.call_livekit.api_secret: environment variable LIVEKIT_API_SECRET is not set"
            in done.stderr)


def test_an_out_of_range_ttl_is_located(tmp_path):
    config, done = check(tmp_path, GOOD + "    token_ttl_minutes: 2\n", env={"LIVEKIT_API_SECRET": SECRET})
    refused(done, f"{config}:8: plugins.call_livekit.token_ttl_minutes: out of range (expected a whole number "
                  "from 5 to 1440, got 2 (a number)); write for example `token_ttl_minutes: 240` (the default)")


# --- the browser adapter, driven by node against a fake LivekitClient ----------------------------

def test_the_adapter_maps_livekit_client_to_the_call_contract():
    node = shutil.which("node")
    if node is None:
        require_service("node", "the adapter test runs plugins/call_livekit/static/livekit.js in node")
    done = subprocess.run([node, str(ROOT / "tests/js/livekit_adapter_check.js"),
                           str(ROOT / "plugins/call_livekit/static/livekit.js")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout)
    assert seen["registered"] == "livekit"
    assert seen["roomOptions"]["audioCaptureDefaults"] == {"deviceId": "mic-2"}
    # audio only from the start: the microphone on, the camera off; then mute, camera off, video back on
    assert seen["local"] == [["microphone", True], ["camera", False], ["microphone", False],
                             ["camera", False], ["camera", False], ["camera", True]]
    assert seen["statuses"][:2] == ["connecting", "connected"]
    assert seen["details"][1] == "Connected. Waiting for the others to join."
    assert "Connected to Ben." in seen["details"]
    assert seen["microphone"] == "mic-track"
    assert seen["afterReconnect"] == [["wss://livekit.example.org", "token-1"]] * 2
    assert seen["statuses"][-1] == "disconnected"
    assert seen["disconnected"] == 2  # reconnect() and leave() each closed the room they had
    assert seen["adminLocal"] == []  # an admin observes: nothing is published
    assert seen["adminDisconnected"] == 1
    assert seen["refused"] == ["failed", "The call server did not accept this page's invitation (it may have "
                               "expired). Reload the page to get a new one."]


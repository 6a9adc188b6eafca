"""The call_jitsi plugin against Jitsi's documented formats (Jitsi itself cannot run here).

Tokens are decoded with PyJWT and checked claim by claim as prosody's token authentication reads them
(lib-jitsi-meet doc/tokens.md); the room-size check runs against a local fake of prosody's
mod_muc_size endpoint; configuration mistakes go through the real `oss-connect check`.
"""

from __future__ import annotations

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import yaml
from flask import Flask

import plugins.call_jitsi
from core.providers import CALL_CAPABILITIES, CallConversation, CallParticipant, CallProviderError
from core.testing import base_test_config, require_service
from plugins.call_jitsi.provider import JitsiProvider, make_token
from plugins.call_jitsi.roomsize import room_size
from plugins.call_jitsi.settings import JitsiSettings
from tests.conftest import free_port

OSS_CONNECT = str(Path(sys.executable).parent / "oss-connect")
SECRET = "jitsi-app-secret-for-tests-0123456789-abcdefgh"
SITE_SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
DOMAIN = "meet.example.org"
PLUGIN = {"domain": DOMAIN, "app_id": "oss-connect", "app_secret": SECRET}
ANA = CallParticipant(user_id=7, display_name="Ana", role="participant")
with_jitsi = pytest.mark.parametrize(("oss_connect_settings", "oss_connect_plugins"),
                                     [({"plugins": {"call_jitsi": PLUGIN}}, {"call_jitsi": plugins.call_jitsi})],
                                     ids=["call_jitsi"])


def settings(**changes: Any) -> JitsiSettings:
    """Valid settings, with `changes`."""
    return JitsiSettings.model_validate({**PLUGIN, **changes})


def provider(**changes: Any) -> JitsiProvider:
    """A provider with explicit settings (no app needed)."""
    return JitsiProvider(settings(**changes))


def conversation(uid: str = "c-0001", number: int = 1) -> CallConversation:
    """A conversation as core describes it to a provider."""
    return CallConversation(id=number, uid=uid, starts_at=None, ends_at=None, recorded_minutes=0)


def decode(token: str, secret: str = SECRET, **options: Any) -> dict[str, Any]:
    """Verify and decode a token as prosody would: signature, audience, issuer, expiry."""
    return jwt.decode(token, secret, algorithms=["HS256"], audience="jitsi", issuer="oss-connect", **options)


def join(role: str = "participant", who: CallParticipant = ANA, jitsi: JitsiProvider | None = None,
         uid: str = "c-0001") -> tuple[dict[str, Any], dict[str, Any]]:
    """The join payload for `who` in `role`, and its decoded token."""
    jitsi = jitsi or provider()
    payload = jitsi.join_payload(jitsi.create_room(conversation(uid)), who, role)
    return payload, decode(payload["jwt"])


# --- rooms ------------------------------------------------------------------------------------

def test_the_provider_is_named_jitsi_and_declares_known_capabilities():
    jitsi = provider()
    assert jitsi.name == "jitsi"
    assert jitsi.capabilities == {"video", "audio_only", "mute", "camera_off", "reconnect", "facilitator"}
    assert jitsi.capabilities <= CALL_CAPABILITIES


def test_a_conversation_always_gets_the_same_room():
    first, again = provider().create_room(conversation("c-42", 42)), provider().create_room(conversation("c-42", 42))
    assert first == again
    assert (first.provider, first.conversation_id) == ("jitsi", 42)


def test_room_names_are_unique_lowercase_url_safe_and_unguessable():
    names = {provider().create_room(conversation(f"c-{number}", number)).name for number in range(500)}
    assert len(names) == 500
    assert all(re.fullmatch(r"[a-z2-7]{32}", name) for name in names)
    # keyed by the app secret: knowing the conversation uid is not enough to find the room
    assert provider(app_secret=SECRET[::-1]).create_room(conversation("c-1")).name not in names
    assert all("c-" not in name for name in names)


def test_the_room_prefix_goes_first():
    name = provider(room_prefix="talk-").create_room(conversation()).name
    assert re.fullmatch(r"talk-[a-z2-7]{32}", name)


def test_ending_a_room_is_harmless_and_idempotent():
    jitsi = provider()
    room = jitsi.create_room(conversation())
    assert jitsi.end_room(room) is None
    assert jitsi.end_room(room) is None
    assert jitsi.create_room(conversation()) == room


# --- tokens -----------------------------------------------------------------------------------

def test_the_token_has_exactly_the_documented_claims():
    before = int(time.time())
    payload, claims = join()
    header = jwt.get_unverified_header(payload["jwt"])
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert set(claims) == {"aud", "iss", "sub", "room", "iat", "nbf", "exp", "context"}
    assert claims["aud"] == "jitsi"
    assert claims["iss"] == "oss-connect"
    assert claims["sub"] == DOMAIN
    assert claims["room"] == payload["room"]
    assert before <= claims["iat"] <= int(time.time())
    assert claims["nbf"] == claims["iat"] - 30
    assert claims["exp"] == claims["iat"] + 180 * 60
    assert set(claims["context"]) == {"user", "features"}
    assert set(claims["context"]["user"]) == {"id", "name", "moderator"}
    assert claims["context"]["user"]["name"] == "Ana"
    assert claims["context"]["features"] == {"livestreaming": "false", "recording": "false",
                                             "transcription": "false", "outbound-call": "false"}


def test_every_user_field_is_a_string_as_prosody_requires():
    _, claims = join()
    assert all(isinstance(value, str) for value in claims["context"]["user"].values())


def test_a_token_signed_with_another_secret_does_not_verify():
    payload, _ = join()
    with pytest.raises(jwt.InvalidSignatureError):
        decode(payload["jwt"], secret=SECRET.upper())
    assert decode(payload["jwt"])["room"] == payload["room"]


def test_a_token_from_another_app_secret_is_refused():
    other = provider(app_secret="another-secret-of-the-right-length-0123456789")
    payload = other.join_payload(other.create_room(conversation()), ANA, "participant")
    with pytest.raises(jwt.InvalidSignatureError):
        decode(payload["jwt"])


def test_an_expired_token_is_refused():
    jitsi_settings = settings(token_ttl_minutes=5)
    token = make_token(jitsi_settings, "room", ANA, "participant", now=time.time() - 6 * 60)
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(token)


@pytest.mark.parametrize(("role", "moderator"), [("participant", "false"), ("facilitator", "true"),
                                                 ("admin", "true")])
def test_facilitators_and_admins_are_moderators_participants_are_not(role, moderator):
    _, claims = join(role, CallParticipant(user_id=3, display_name="Sam", role=role))
    assert claims["context"]["user"]["moderator"] == moderator


def test_the_user_id_is_a_pseudonym_per_room():
    _, here = join()
    _, there = join(uid="c-0002")
    _, again = join()
    assert here["context"]["user"]["id"] == again["context"]["user"]["id"]
    assert here["context"]["user"]["id"] != there["context"]["user"]["id"]
    assert re.fullmatch(r"p-[a-z2-7]{16}", here["context"]["user"]["id"])


def test_no_email_or_avatar_reaches_the_payload_or_the_token():
    payload, claims = join(who=CallParticipant(user_id=9, display_name="Bo", role="participant"))
    text = json.dumps(payload) + json.dumps(claims)
    assert "@" not in text
    assert "email" not in text and "avatar" not in text
    assert set(payload) == {"domain", "room", "jwt"}
    assert payload["domain"] == DOMAIN


def test_a_participant_without_a_name_is_named_by_role():
    _, claims = join("facilitator", CallParticipant(user_id=4, display_name="  ", role="facilitator"))
    assert claims["context"]["user"]["name"] == "Facilitator"


def test_an_unknown_role_is_a_provider_error():
    jitsi = provider()
    with pytest.raises(CallProviderError, match="unknown call role 'guest'"):
        jitsi.join_payload(jitsi.create_room(conversation()), ANA, "guest")


def test_a_port_stays_in_the_domain_but_not_in_the_sub_claim():
    payload, claims = join(jitsi=provider(domain="meet.example.org:8443"))
    assert payload["domain"] == "meet.example.org:8443"
    assert claims["sub"] == "meet.example.org"


def test_the_signature_algorithm_and_lifetime_follow_the_settings():
    long_secret = SECRET * 2
    jitsi = provider(algorithm="HS512", token_ttl_minutes=30, app_secret=long_secret)
    token = jitsi.join_payload(jitsi.create_room(conversation()), ANA, "participant")["jwt"]
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    claims = jwt.decode(token, long_secret, algorithms=["HS512"], audience="jitsi")
    assert claims["exp"] - claims["iat"] == 30 * 60


# --- browser side: CSP and scripts ------------------------------------------------------------

def test_csp_allows_the_jitsi_iframe_but_no_script_from_it():
    assert provider().csp_sources() == {"frame-src": ["https://meet.example.org"]}


def test_loading_the_iframe_api_from_the_server_adds_it_to_script_src_and_the_payload():
    jitsi = provider(load_iframe_api_from_server=True)
    assert jitsi.csp_sources() == {"frame-src": ["https://meet.example.org"],
                                   "script-src": ["https://meet.example.org"]}
    payload = jitsi.join_payload(jitsi.create_room(conversation()), ANA, "participant")
    assert payload["script_url"] == "https://meet.example.org/external_api.js"


def test_the_scripts_are_served_by_the_site():
    app = Flask(__name__)
    for blueprint in plugins.call_jitsi.register_blueprints(app):
        app.register_blueprint(blueprint)
    with app.test_request_context():
        scripts = provider().client_scripts()
        from_server = provider(load_iframe_api_from_server=True).client_scripts()
    assert scripts == ["/plugins/call_jitsi/static/external_api.js", "/plugins/call_jitsi/static/jitsi.js"]
    assert from_server == ["/plugins/call_jitsi/static/jitsi.js"]
    client = app.test_client()
    api = client.get(scripts[0])
    adapter = client.get(scripts[1])
    assert api.status_code == adapter.status_code == 200
    assert b"JitsiMeetExternalAPI" in api.data
    assert b'OssCall.register("jitsi"' in adapter.data
    assert b"toggleAudio" in adapter.data and b"isVideoMuted" in adapter.data
    assert (Path(plugins.call_jitsi.STATIC) / "LICENSE").read_text().count("Apache License") >= 1


@with_jitsi
def test_the_enabled_plugin_registers_the_provider_with_its_config(app):
    jitsi = app.extensions["oss_connect"].provider("call_provider", "jitsi")
    with app.app_context():
        assert jitsi.settings.domain == DOMAIN
        room = jitsi.create_room(conversation())
        assert decode(jitsi.join_payload(room, ANA, "admin")["jwt"])["room"] == room.name
    with app.test_request_context():
        assert jitsi.client_scripts()[-1] == "/plugins/call_jitsi/static/jitsi.js"
    assert app.test_client().get("/plugins/call_jitsi/static/jitsi.js").status_code == 200


# --- configuration mistakes: `oss-connect check` ---------------------------------------------

def check(folder: Path, plugin_yaml: str,
          env: dict[str, str] | None = None) -> tuple[Path, subprocess.CompletedProcess]:
    """Write a config enabling call_jitsi with `plugin_yaml` and run `oss-connect check` on it."""
    config = folder / "oss-connect.yaml"
    config.write_text(f"site:\n  secret_key: {SITE_SECRET}\nplugins:\n  call_jitsi:\n"
                      + textwrap.indent(textwrap.dedent(plugin_yaml).strip("\n"), "    ")
                      + "\nroom:\n  call_provider: jitsi\n", encoding="utf-8")
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("OSS_CONNECT") and key != "JITSI_APP_SECRET"}
    environment.update(env or {})
    done = subprocess.run([OSS_CONNECT, "check", "--config", str(config)], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=60)
    return config.resolve(), done


def refused(done: subprocess.CompletedProcess, *lines: str) -> None:
    """Exit 2 with exactly these lines under the heading."""
    heading = f"Configuration error{'s' if len(lines) != 1 else ''} ({len(lines)}):"
    assert done.stderr.splitlines() == [heading, *lines]
    assert done.returncode == 2


def test_a_good_config_with_the_secret_from_the_environment_passes(tmp_path):
    _, done = check(tmp_path, """
        domain: meet.example.org
        app_id: oss-connect
        app_secret: ${JITSI_APP_SECRET}
    """, env={"JITSI_APP_SECRET": SECRET})
    assert done.returncode == 0, done.stderr
    assert "call_jitsi" in done.stdout


def test_a_missing_domain_is_located(tmp_path):
    config, done = check(tmp_path, """
        app_id: oss-connect
        app_secret: ${JITSI_APP_SECRET}
    """, env={"JITSI_APP_SECRET": SECRET})
    refused(done, f"{config}:4: plugins.call_jitsi.domain: a required key is missing (expected the host name of "
                  "your Jitsi Meet server, like meet.example.org (a :port may follow), got nothing); "
                  "add `domain:` under `plugins.call_jitsi`")


def test_a_url_for_the_domain_names_the_host_to_write(tmp_path):
    config, done = check(tmp_path, """
        domain: https://Meet.Example.org/jitsi
        app_id: oss-connect
        app_secret: ${JITSI_APP_SECRET}
    """, env={"JITSI_APP_SECRET": SECRET})
    refused(done, f"{config}:5: plugins.call_jitsi.domain: a host name is expected, not a URL "
                  "('https://Meet.Example.org/jitsi' has a scheme or path); write `domain: meet.example.org` "
                  "(the site derives https://meet.example.org from it)")


def test_a_host_with_a_path_is_refused_too(tmp_path):
    config, done = check(tmp_path, """
        domain: meet.example.org/room
        app_id: oss-connect
        app_secret: ${JITSI_APP_SECRET}
    """, env={"JITSI_APP_SECRET": SECRET})
    assert done.returncode == 2
    assert f"{config}:5: plugins.call_jitsi.domain: a host name is expected, not a URL" in done.stderr
    assert "write `domain: meet.example.org`" in done.stderr


def test_a_short_secret_is_refused_without_showing_it(tmp_path):
    config, done = check(tmp_path, """
        domain: meet.example.org
        app_id: oss-connect
        app_secret: ${JITSI_APP_SECRET}
    """, env={"JITSI_APP_SECRET": "tooshort"})
    refused(done, f"{config}:7: plugins.call_jitsi.app_secret: the app secret is too short (at least 32 "
                  "characters); generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(64))', "
                  "put it in prosody's app_secret and here as ${JITSI_APP_SECRET}")
    assert "tooshort" not in done.stderr


def test_hs512_needs_a_longer_secret():
    with pytest.raises(ValueError, match=r"too short for HS512 \(at least 64 characters\)"):
        settings(algorithm="HS512")


def test_an_unset_secret_variable_is_named(tmp_path):
    config, done = check(tmp_path, """
        domain: meet.example.org
        app_id: oss-connect
        app_secret: ${JITSI_APP_SECRET}
    """)
    assert done.returncode == 2
    assert (f"{config}:7: plugins.call_jitsi.app_secret: environment variable JITSI_APP_SECRET is not set"
            in done.stderr)


# --- the room-size endpoint (prosody mod_muc_size), faked as documented -----------------------

class FakeRoomSize(BaseHTTPRequestHandler):
    """GET /room-size?room=&domain=[&token=]: 200 {"participants": N}, 404 no room, 403 bad token, 400."""

    rooms: dict[str, int] = {}
    secret = SECRET
    seen: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        type(self).seen.append(query)
        if parts.path != "/room-size":
            return self.answer(404, b"")
        if not query.get("room") or not query.get("domain"):
            return self.answer(400, b"")
        room = query["room"][0]
        if "token" in query:
            try:
                claims = jwt.decode(query["token"][0], self.secret, algorithms=["HS256"], audience="jitsi")
            except jwt.InvalidTokenError:
                return self.answer(403, b"")
            if claims["room"] not in (room, "*") or claims["sub"] != query["domain"][0]:
                return self.answer(403, b"")
        if room not in self.rooms:
            return self.answer(404, b"")
        return self.answer(200, json.dumps({"participants": self.rooms[room]}).encode())

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def fake_prosody() -> Iterator[str]:
    """The fake's base URL; it knows one room with 2 participants."""
    FakeRoomSize.rooms = {"busy": 2}
    FakeRoomSize.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRoomSize)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_room_size_counts_the_people_in_a_room(fake_prosody):
    jitsi_settings = settings(room_size_url=fake_prosody)
    token = make_token(jitsi_settings, "busy", ANA, "admin")
    assert room_size(jitsi_settings, "busy", token) == 2
    assert FakeRoomSize.seen[-1]["domain"] == [DOMAIN]
    assert room_size(jitsi_settings, "empty", make_token(jitsi_settings, "empty", ANA, "admin")) is None


def test_room_size_reports_a_refused_token(fake_prosody):
    wrong = settings(room_size_url=fake_prosody, app_secret="another-secret-of-the-right-length-0123456789")
    with pytest.raises(CallProviderError, match=r"refused the token \(403\); check that app_id and app_secret"):
        room_size(wrong, "busy", make_token(wrong, "busy", ANA, "admin"))


def test_room_size_reports_an_unreachable_server():
    unreachable = r"cannot reach http://127\.0\.0\.1:\d+/room-size: .*check room_size_url"
    with pytest.raises(CallProviderError, match=unreachable):
        room_size(settings(room_size_url=f"http://127.0.0.1:{free_port()}"), "busy")


def test_room_size_reports_an_answer_that_is_not_mod_muc_size(fake_prosody):
    FakeRoomSize.rooms = {"odd": -1}
    with pytest.raises(CallProviderError, match="invalid participant count"):
        room_size(settings(room_size_url=fake_prosody), "odd")


def jitsi_check(folder: Path, database_url: str, plugin: dict[str, Any], *args: str) -> subprocess.CompletedProcess:
    """Run `oss-connect jitsi-check` on an instance with call_jitsi enabled."""
    config = base_test_config(database_url, folder, {"plugins": {"call_jitsi": plugin}})
    (folder / "oss-connect.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    return subprocess.run([OSS_CONNECT, "jitsi-check", "--config", str(folder / "oss-connect.yaml"), *args],
                          cwd=folder, env=environment, capture_output=True, text=True, timeout=60)


def test_jitsi_check_asks_the_server_about_a_room(tmp_path, database_url, fake_prosody):
    done = jitsi_check(tmp_path, database_url, {**PLUGIN, "room_size_url": fake_prosody}, "--room", "busy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Jitsi Meet at https://meet.example.org: tokens HS256, iss 'oss-connect', aud 'jitsi', "
        "sub 'meet.example.org', valid 180 minutes",
        f"{fake_prosody}/room-size answers: room 'busy' has 2 participant(s)"]
    assert decode(FakeRoomSize.seen[-1]["token"][0])["room"] == "busy"


def test_jitsi_check_fails_with_the_reason_when_the_token_is_refused(tmp_path, database_url, fake_prosody):
    FakeRoomSize.secret = "the-server-has-another-secret-0123456789abcdef"
    try:
        done = jitsi_check(tmp_path, database_url, {**PLUGIN, "room_size_url": fake_prosody})
    finally:
        FakeRoomSize.secret = SECRET
    assert done.returncode == 1
    assert "jitsi-check failed: " in done.stderr and "refused the token (403)" in done.stderr


# --- the browser adapter, driven by node against a fake IFrame API -----------------------------

def test_the_adapter_maps_the_iframe_api_to_the_call_contract():
    node = shutil.which("node")
    if node is None:
        require_service("node", "the adapter test runs plugins/call_jitsi/static/jitsi.js in node")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([node, str(root / "tests/js/jitsi_adapter_check.js"),
                           str(root / "plugins/call_jitsi/static/jitsi.js")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout)
    assert seen["registered"] == "jitsi"
    [(created)] = seen["constructed"]
    assert created["domain"] == DOMAIN
    options = created["options"]
    assert (options["roomName"], options["jwt"], options["parentNode"]) == ("abc", "token", True)
    assert options["userInfo"] == {"displayName": "Ana"}
    assert options["configOverwrite"]["prejoinPageEnabled"] is False
    assert options["configOverwrite"]["startWithVideoMuted"] is True  # the page asked for audio only
    assert seen["joined"] is True
    # mute once (a second mute is not a toggle), camera off, then audio-only off turns the camera back on
    assert seen["commands"] == ["toggleAudio", "toggleVideo", "toggleVideo"]
    assert seen["statuses"] == ["connecting", "connected", "connected", "disconnected", "disconnected"]
    assert seen["disposed"] == 1

"""The call provider contract (core/call_contract.py) against the three bundled providers, and against
deliberately broken providers to show that the contract can fail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

import jwt
import pytest

import plugins.call_jitsi
import plugins.call_livekit
import plugins.call_webrtc
from core.call_contract import (
    CallProviderContract,
    check_capabilities,
    check_create_room,
    check_csp_sources,
    check_end_room,
    check_identity,
    check_join_payloads,
    check_unguessable_name,
    check_webhook,
    jwt_claims,
)
from core.providers import CallConversation, CallParticipant, CallProvider, CallRoom
from tests.test_call_jitsi import PLUGIN as JITSI_SETTINGS
from tests.test_call_livekit import KEY, SECRET, FakeLiveKit, TwirpHandler, serve
from tests.test_call_livekit import PLUGIN as LIVEKIT_SETTINGS

pytest_plugins = ["pytester"]

# --- the bundled providers -----------------------------------------------------------------------


class TestWebrtcContract(CallProviderContract):
    """call_webrtc with its defaults: no ICE servers, browser to browser."""

    plugin_name = "call_webrtc"
    plugin = plugins.call_webrtc
    plugin_settings: ClassVar[dict[str, Any]] = {}
    provider_name = "webrtc"


class TestWebrtcWithTurnContract(CallProviderContract):
    """call_webrtc with a TURN server: every payload carries that person's own TURN credentials."""

    plugin_name = "call_webrtc"
    plugin = plugins.call_webrtc
    plugin_settings: ClassVar[dict[str, Any]] = {
        "turn": {"urls": ["turns:turn.example.org:5349?transport=tcp"], "secret": "contract-turn-secret-0123456789"}}
    provider_name = "webrtc"


class TestLivekitContract(CallProviderContract):
    """call_livekit against the fake LiveKit Twirp server of tests/test_call_livekit.py."""

    plugin_name = "call_livekit"
    plugin = plugins.call_livekit
    provider_name = "livekit"

    @pytest.fixture
    def provider_server(self) -> Iterator[FakeLiveKit]:
        """The fake LiveKit server, knowing the test key pair."""
        server, url = serve(TwirpHandler)
        server.fake = FakeLiveKit(url=url, keys={KEY: SECRET})
        yield server.fake
        server.shutdown()
        server.server_close()

    def settings_for(self, server: FakeLiveKit) -> dict[str, Any]:
        """The plugin pointed at the fake server."""
        return {**LIVEKIT_SETTINGS, "url": server.ws_url}

    def test_the_rooms_were_made_and_closed_on_the_server(self, world: Any, provider_server: FakeLiveKit) -> None:
        """The contract really talked to the (fake) LiveKit server."""
        room = world.provider.create_room(world.conversation)
        assert room.name in provider_server.rooms
        check_end_room(world.provider, room)
        assert room.name not in provider_server.rooms
        assert [call["method"] for call in provider_server.calls] == ["CreateRoom", "DeleteRoom", "DeleteRoom"]


class TestJitsiContract(CallProviderContract):
    """call_jitsi (nothing to start: Jitsi creates rooms itself)."""

    plugin_name = "call_jitsi"
    plugin = plugins.call_jitsi
    plugin_settings: ClassVar[dict[str, Any]] = JITSI_SETTINGS
    provider_name = "jitsi"


class TestJitsiByEntryPoint(CallProviderContract):
    """The same plugin enabled only by its entry-point name, as a plugin author's own package would be."""

    plugin_name = "call_jitsi"
    plugin_settings: ClassVar[dict[str, Any]] = {**JITSI_SETTINGS, "load_iframe_api_from_server": True}
    provider_name = "jitsi"

    def test_the_fixture_enables_nothing_by_object(self, oss_connect_plugins: dict[str, Any]) -> None:
        assert oss_connect_plugins == {}


# --- the contract can fail -----------------------------------------------------------------------

CONVERSATION = CallConversation(id=3, uid="c-3@example.org", starts_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                                ends_at=dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC), recorded_minutes=50)
OTHER = CallConversation(id=4, uid="c-4@example.org", starts_at=None, ends_at=None, recorded_minutes=50)
PEOPLE = [CallParticipant(1, "Ana", "participant"), CallParticipant(2, "Ben", "participant"),
          CallParticipant(3, "Fay", "facilitator"), CallParticipant(4, "Ada", "admin")]
EMAILS = {1: "ana@example.org", 2: "ben@example.org", 3: "fay@example.org", 4: "ada@example.org"}


class Broken(CallProvider):
    """Everything a plugin author might get wrong."""

    name = "broken"
    label = ""
    capabilities = {"video", "teleport"}  # deliberately not a frozenset

    def create_room(self, conversation: CallConversation) -> CallRoom:
        return CallRoom(provider="broken", name=f"room-{conversation.id}", conversation_id=conversation.id,
                        data={"starts": conversation.starts_at})  # a datetime: not JSON

    def join_payload(self, room: CallRoom, participant: CallParticipant, role: str) -> dict[str, Any]:
        token = jwt.encode({"sub": EMAILS[participant.user_id], "name": participant.display_name},
                           "a-secret-long-enough-for-hs256-0123456789", algorithm="HS256")
        return {"room": room.name, "token": token}

    def end_room(self, room: CallRoom) -> None:
        if room.data.get("ended"):
            raise RuntimeError("already ended")
        room.data["ended"] = True

    def handle_webhook(self, body: bytes, headers: dict[str, str]) -> list[Any]:
        return [body.decode()]  # neither verified nor declared

    def csp_sources(self) -> dict[str, list[str]]:
        return {"connect-src": ["'self'"], "script": ["https://cdn.example.org"]}


class Fixed(Broken):
    """Broken with only the capabilities and JSON fixed, to reach the checks behind them."""

    label = "Fixed"
    capabilities = frozenset({"video", "webhook"})

    def create_room(self, conversation: CallConversation) -> CallRoom:
        return CallRoom(provider="broken", name=f"room-{conversation.id}", conversation_id=conversation.id, data={})


def fails(check: Any, *args: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        check(*args)


def test_a_wrong_name_label_or_capabilities_fail():
    fails(check_identity, Broken(), "mine", match=r"named 'broken', the test expects 'mine'")
    fails(check_identity, Broken(), "broken", match=r"label is empty")
    fails(check_identity, object(), "broken", match=r"not a CallProvider")
    fails(check_capabilities, Broken(), match=r"capabilities is a set; declare it as frozenset")
    undeclared = type("Undeclared", (Fixed,), {"capabilities": frozenset({"video"})})()
    fails(check_capabilities, undeclared, match=r"declare the capability \"webhook\" exactly when")
    unknown = type("Unknown", (Fixed,), {"capabilities": frozenset({"video", "webhook", "teleport"})})()
    fails(check_capabilities, unknown, match=r"unknown capabilities \['teleport'\]")


def test_rooms_that_are_not_json_or_guessable_fail():
    fails(check_create_room, Broken(), CONVERSATION, OTHER, match=r"CallRoom.data is not JSON-serialisable")
    fails(check_unguessable_name, Fixed(), CONVERSATION, match=r"only depends on the conversation id \(3\)")


def test_a_random_name_per_call_is_not_idempotent():
    class Random(Fixed):
        def create_room(self, conversation: CallConversation) -> CallRoom:
            import secrets

            return CallRoom("broken", f"r-{secrets.token_hex(8)}", conversation.id, {})

    fails(check_create_room, Random(), CONVERSATION, OTHER, match=r"gave two rooms .* for the same conversation")


def test_an_email_inside_a_token_fails():
    room = Fixed().create_room(CONVERSATION)
    fails(check_join_payloads, Fixed(), room, PEOPLE, list(EMAILS.values()),
          match=r"contains the email address ana@example.org \(in the payload or a token's claims\)")
    fails(check_join_payloads, Fixed(), room, PEOPLE, [], match=r"something like an email address")


def test_a_shared_payload_or_a_missing_name_fails():
    class Shared(Fixed):
        def join_payload(self, room: CallRoom, participant: CallParticipant, role: str) -> dict[str, Any]:
            return {"room": room.name, "roles": [role]}

    room = Shared().create_room(CONVERSATION)
    fails(check_join_payloads, Shared(), room, PEOPLE, match=r"display name 'Ana' is neither in the join payload")
    fails(check_join_payloads, Shared(), room, PEOPLE, [], False, match=r"two people in role 'participant'")


def test_ending_twice_must_not_raise():
    fails(check_end_room, Fixed(), CallRoom("broken", "r", 3, {"ended": True}), match=r"end_room failed")


def test_bad_csp_sources_and_unverified_webhooks_fail():
    fails(check_csp_sources, Broken(), match=r"contains \"'self'\"")
    fails(check_webhook, Fixed(), match=r"handle_webhook accepted a request that is not genuine")

    class Crashing(Fixed):
        def handle_webhook(self, body: bytes, headers: dict[str, str]) -> list[Any]:
            return headers["Authorization"]

    fails(check_webhook, Crashing(), match=r"raised KeyError: 'Authorization'; raise ValueError")


def test_tokens_are_found_and_decoded_inside_any_text():
    token = jwt.encode({"name": "Ana"}, "k" * 32, algorithm="HS256")
    assert jwt_claims(f'{{"url": "https://meet.example.org/room?jwt={token}"}}') == [{"name": "Ana"}]
    assert jwt_claims("meet.example.org and 1.2.3 are no tokens") == []


BROKEN_PLUGIN_TESTS = '''
import secrets

from core.api import CallProvider, CallRoom, hookimpl
from core.call_contract import CallProviderContract


class Leaky(CallProvider):
    name = "leaky"
    label = "Leaky"
    capabilities = frozenset({"video"})

    def client_scripts(self):
        return ["https://cdn.example.org/leaky.js"]

    def create_room(self, conversation):
        return CallRoom(self.name, f"leaky-{secrets.token_hex(8)}", conversation.id, {})

    def join_payload(self, room, participant, role):
        from core.models import User

        return {"room": room.name, "name": participant.display_name,
                "email": User.get_by_id(participant.user_id).email}

    def end_room(self, room):
        return None


class LeakyPlugin:
    @hookimpl
    def register_call_providers(self):
        return [Leaky()]


class TestLeaky(CallProviderContract):
    plugin_name = "leaky"
    plugin = LeakyPlugin()
    provider_name = "leaky"
'''


@pytest.mark.database
def test_a_plugin_authors_subclass_fails_for_a_broken_provider(pytester, request):
    """The whole class, run as a plugin author runs it, in its own process and database."""
    pytester.makepyfile(test_leaky=BROKEN_PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:cacheprovider",
                                           "--db", request.config.getoption("--db"),
                                           "--pg-url", request.config.getoption("--pg-url"))
    result.assert_outcomes(passed=7, failed=4)
    result.stdout.fnmatch_lines(["*FAILED*test_create_room_gives_one_room_per_conversation*",
                                 "*FAILED*test_join_payloads_are_personal_json_without_emails*",
                                 "*FAILED*test_client_scripts_are_served_by_the_site*",
                                 "*FAILED*test_core_stores_the_room_and_builds_payloads_with_it*"])
    output = result.stdout.str()
    assert "contains the email address ana.contract-" in output
    assert "scripts must be site-relative URLs (served by this site, never a CDN)" in output

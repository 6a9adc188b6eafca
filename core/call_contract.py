"""The call provider contract as a pytest class: subclass `CallProviderContract` to test your provider.

    from core.call_contract import CallProviderContract

    class TestMyProvider(CallProviderContract):
        plugin_name = "call_mine"          # the plugin's entry-point name
        plugin_settings = {"url": "..."}   # its settings in the test app's config
        provider_name = "mine"             # what room.call_provider names

The class builds a test app (core.testing's fixtures) with that plugin enabled and the provider
selected, and checks what core and the browser rely on: names, capabilities, rooms, join payloads
(no email, per person, JSON), ending twice, scripts served by the site, CSP sources, webhooks that
refuse garbage, recordings. Every check is also a plain function (`check_*`) that raises an
AssertionError saying what to fix. See docs/call-providers.md, "Testing your provider".
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from core.providers import (
    CALL_CAPABILITIES,
    CALL_ROLES,
    CallConversation,
    CallParticipant,
    CallProvider,
    CallRoom,
    ProviderRecording,
)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
JWT_LIKE = re.compile(r"[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
SCRIPT_TYPES = ("javascript", "ecmascript")
MAX_ROOM_NAME = 200
GARBAGE_WEBHOOKS: list[tuple[bytes, dict[str, str]]] = [
    (b"", {}),
    (b"not json at all", {"Content-Type": "application/json"}),
    (b'{"event": "room_finished", "room": {"name": "x"}}', {"Authorization": "Bearer not.a.token"}),
    (b"\xff\xfe\x00garbage", {"Authorization": "garbage", "X-Signature": "0" * 64}),
]


# --- helpers -----------------------------------------------------------------------------------

def _b64json(part: str) -> Any:
    """A base64url part decoded as JSON, or None."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def jwt_claims(text: str) -> list[dict[str, Any]]:
    """The claims of every JWT-looking token in `text` (header and payload both JSON objects); unverified."""
    found = []
    for candidate in JWT_LIKE.findall(text):
        header, payload, _signature = candidate.split(".", 2)
        header_json, claims = _b64json(header), _b64json(payload)
        if isinstance(header_json, dict) and isinstance(claims, dict):
            found.append(claims)
    return found


def readable_text(value: Any) -> str:
    """`value` as JSON text followed by the JSON of every JWT's claims found in it: what a reader could see."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "\n".join([text, *(json.dumps(claims, ensure_ascii=False, sort_keys=True)
                              for claims in jwt_claims(text))])


def _json(value: Any, what: str, fix: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{what} is not JSON-serialisable ({error}); {fix}") from None


def _as_stored(room: CallRoom) -> CallRoom:
    """The room as core hands it back: read from the database, its data through JSON."""
    return CallRoom(provider=room.provider, name=room.name, conversation_id=room.conversation_id,
                    data=json.loads(json.dumps(room.data)))


# --- the checks, usable on their own -------------------------------------------------------------

def check_identity(provider: Any, expected_name: str) -> None:
    """A CallProvider with a non-empty name (the expected one) and label."""
    assert isinstance(provider, CallProvider), (
        f"{provider!r} is a {type(provider).__name__}, not a CallProvider; subclass core.api.CallProvider")
    assert isinstance(provider.name, str) and provider.name, (
        f"{type(provider).__name__}.name is empty; set `name = \"...\"` (what room.call_provider names)")
    assert provider.name == expected_name, (
        f"the provider is named {provider.name!r}, the test expects {expected_name!r}; fix `name` or provider_name")
    assert isinstance(provider.label, str) and provider.label.strip(), (
        f"{type(provider).__name__}.label is empty; set `label` to a human name shown to admins")


def check_capabilities(provider: Any) -> None:
    """capabilities is a frozenset of known capability names."""
    capabilities = provider.capabilities
    assert isinstance(capabilities, frozenset), (
        f"capabilities is a {type(capabilities).__name__}; declare it as frozenset({{...}}) (core compares sets "
        "and shares the class attribute between requests)")
    unknown = sorted(str(item) for item in set(capabilities) - CALL_CAPABILITIES)
    assert not unknown, (f"unknown capabilities {unknown} stop the site at start-up; use only "
                         f"{sorted(CALL_CAPABILITIES)}")
    overrides_webhook = type(provider).handle_webhook is not CallProvider.handle_webhook
    assert ("webhook" in capabilities) == overrides_webhook, (
        "declare the capability \"webhook\" exactly when the provider implements handle_webhook "
        f"(declared: {'webhook' in capabilities}, implemented: {overrides_webhook})")
    if "provider_recording" in capabilities:
        assert type(provider).fetch_recordings is not CallProvider.fetch_recordings, (
            "the capability \"provider_recording\" is declared but fetch_recordings is not implemented")


def check_room(provider: Any, room: Any, conversation: CallConversation) -> None:
    """One CallRoom returned by create_room for `conversation`."""
    assert isinstance(room, CallRoom), (
        f"create_room returned {type(room).__name__}; return core.api.CallRoom(provider, name, conversation_id, data)")
    assert room.provider == provider.name, (
        f"CallRoom.provider is {room.provider!r}; set it to the provider's name {provider.name!r}")
    assert room.conversation_id == conversation.id, (
        f"CallRoom.conversation_id is {room.conversation_id!r}; set it to conversation.id ({conversation.id})")
    assert isinstance(room.name, str) and room.name.strip(), "CallRoom.name is empty; give every room a name"
    assert len(room.name) <= MAX_ROOM_NAME, (
        f"CallRoom.name has {len(room.name)} characters; core stores at most {MAX_ROOM_NAME}")
    assert isinstance(room.data, dict), f"CallRoom.data is a {type(room.data).__name__}; it must be a dict"
    text = _json(room.data, "CallRoom.data", "core stores it as JSON: keep only str, numbers, bools, None, "
                                             "lists and dicts in it")
    assert not EMAIL.search(text + room.name), "the room's name or data contains an email address; remove it"


def check_create_room(provider: Any, conversation: CallConversation, other: CallConversation) -> CallRoom:
    """create_room: a well-formed room, the same for the same conversation, different for another; the room."""
    room = provider.create_room(conversation)
    check_room(provider, room, conversation)
    again = provider.create_room(conversation)
    check_room(provider, again, conversation)
    assert again.name == room.name, (
        f"create_room gave two rooms ({room.name!r}, {again.name!r}) for the same conversation; it must be "
        "idempotent as CallProvider.create_room documents (two people opening the room at once both call it and "
        "core keeps one room): derive the name from the conversation, e.g. an HMAC of conversation.uid keyed by a "
        "secret")
    second = provider.create_room(other)
    check_room(provider, second, other)
    assert second.name != room.name, (
        f"two conversations got the same room name {room.name!r}; each conversation needs its own room")
    return room


def check_unguessable_name(provider: Any, conversation: CallConversation) -> None:
    """The room name is no function of the conversation id alone and does not show the calendar UID.

    Conversation ids count up from 1, so a name made from the id lets anyone find every room; the
    UID travels in calendar invitations. A name with a random part, or an HMAC of the UID keyed by a
    secret, passes: two conversations with the same id but different UIDs get different names.
    """
    twin = dataclasses.replace(conversation, uid=f"contract-{secrets.token_hex(12)}@oss-connect.test")
    first, second = provider.create_room(conversation).name, provider.create_room(twin).name
    assert first != second, (
        f"the room name {first!r} only depends on the conversation id ({conversation.id}), so anyone can guess "
        "every room; add a random part or derive it from conversation.uid with a secret (HMAC)")
    for room_name, described in ((first, conversation), (second, twin)):
        assert described.uid not in room_name, (
            f"the room name {room_name!r} contains the calendar UID {described.uid!r}, which travels in calendar "
            "invitations; derive the name from it with a secret (HMAC) instead")


def check_join_payloads(provider: Any, room: CallRoom, people: Sequence[CallParticipant],
                        emails: Sequence[str] = (), names_in_payload: bool = True) -> dict[str, Any]:
    """join_payload for every role and person: JSON, no email, per person, with the name; the payloads by user."""
    payloads: dict[str, Any] = {}
    stored = _as_stored(room)
    roles_seen = set()
    for person in people:
        payload = provider.join_payload(stored, person, person.role)
        roles_seen.add(person.role)
        assert isinstance(payload, dict), (
            f"join_payload returned {type(payload).__name__} for role {person.role!r}; return a dict")
        _json(payload, f"the join payload for role {person.role!r}", "the page hands it to the browser as JSON")
        text = readable_text(payload)
        leaked = [email for email in emails if email.lower() in text.lower()]
        assert not leaked, (f"the join payload for role {person.role!r} contains the email address {leaked[0]} "
                            "(in the payload or a token's claims); emails never reach a browser or a provider: use "
                            "participant.display_name and participant.user_id only")
        found = EMAIL.search(text)
        assert not found, (f"the join payload for role {person.role!r} contains something like an email address "
                           f"({found.group(0)!r}, in the payload or a token's claims); remove it")
        if names_in_payload:
            assert person.display_name in text, (
                f"the display name {person.display_name!r} is neither in the join payload for role {person.role!r} "
                "nor in a token's claims; pass participant.display_name on (or set names_in_payload = False when "
                "your adapter shows names from context.me and context.members())")
        payloads[f"{person.user_id}:{person.role}"] = payload
    missing = set(CALL_ROLES) - roles_seen
    assert not missing, f"the contract test data has no participant for roles {sorted(missing)}"
    by_role: dict[str, list[Any]] = {}
    for key, payload in payloads.items():
        by_role.setdefault(key.split(":", 1)[1], []).append(payload)
    for role, same_role in by_role.items():
        texts = [json.dumps(payload, sort_keys=True) for payload in same_role]
        assert len(set(texts)) == len(texts), (
            f"two people in role {role!r} got the same join payload; a payload is for one person only: give each "
            "their own token or credentials (with their user id), so one person's payload cannot admit another")
    return payloads


def check_end_room(provider: Any, room: CallRoom) -> None:
    """end_room on a stored room works, and again does nothing (no exception)."""
    try:
        provider.end_room(_as_stored(room))
    except Exception as error:
        raise AssertionError(f"end_room failed on a room create_room made: {type(error).__name__}: {error}") from error
    try:
        provider.end_room(_as_stored(room))
    except Exception as error:
        raise AssertionError(f"end_room raised {type(error).__name__} on a room that was already ended ({error}); "
                             "ending twice must do nothing (core may retry)") from error


def check_client_scripts(provider: Any, client: Any) -> list[str]:
    """client_scripts (in a request): site-relative URLs the site serves as JavaScript, one registering the adapter."""
    scripts = provider.client_scripts()
    assert isinstance(scripts, list) and scripts, (
        "client_scripts() returned no list of URLs; return [url_for('<blueprint>.static', filename='x.js')] "
        "for the script that calls OssCall.register")
    registered = False
    pattern = re.compile(r"OssCall\.register\(\s*[\"']" + re.escape(provider.name) + r"[\"']")
    for url in scripts:
        assert isinstance(url, str) and url.startswith("/") and not url.startswith("//"), (
            f"client_scripts() returned {url!r}; scripts must be site-relative URLs (served by this site, never a "
            "CDN): use url_for on your plugin's static blueprint")
        answer = client.get(url)
        assert answer.status_code == 200, (
            f"the site answers {answer.status_code} for {url}; register a blueprint with static_folder in "
            "register_blueprints and ship the file in the plugin's static/ folder")
        kind = answer.headers.get("Content-Type", "")
        assert any(name in kind for name in SCRIPT_TYPES), (
            f"{url} is served as {kind!r}, not JavaScript; name the file *.js")
        registered = registered or bool(pattern.search(answer.get_data(as_text=True)))
    assert registered, (f"none of {scripts} calls OssCall.register(\"{provider.name}\", factory); the room page "
                        "cannot start the call without it")
    return scripts


def check_csp_sources(provider: Any) -> None:
    """csp_sources: {"*-src": [scheme://host sources]} without quotes or keywords."""
    sources = provider.csp_sources()
    assert isinstance(sources, dict), f"csp_sources() returned {type(sources).__name__}; return a dict"
    for directive, values in sources.items():
        assert isinstance(directive, str) and re.fullmatch(r"[a-z-]+-src", directive), (
            f"csp_sources() names the directive {directive!r}; use fetch directives such as connect-src, frame-src")
        assert isinstance(values, list) and all(isinstance(value, str) for value in values), (
            f"csp_sources()[{directive!r}] must be a list of strings")
        for value in values:
            assert "://" in value and not re.search(r"[\s'\";,]", value), (
                f"csp_sources()[{directive!r}] contains {value!r}; give origins like wss://lk.example.org (no "
                "quotes, keywords such as 'self', wildcards alone, spaces or semicolons)")


def check_webhook(provider: Any) -> None:
    """With the capability "webhook", handle_webhook refuses garbage with ValueError (core answers 400)."""
    if "webhook" not in provider.capabilities:
        return
    for body, headers in GARBAGE_WEBHOOKS:
        try:
            events = provider.handle_webhook(body, dict(headers))
        except ValueError:
            continue
        except Exception as error:
            raise AssertionError(
                f"handle_webhook({body[:40]!r}, {headers}) raised {type(error).__name__}: {error}; raise ValueError "
                "for a request that is not genuine or not readable (core answers it with 400)") from error
        raise AssertionError(f"handle_webhook accepted a request that is not genuine ({body[:40]!r}, {headers}) and "
                             f"returned {events!r}; verify the signature and raise ValueError")


def check_recordings(provider: Any, room: CallRoom) -> None:
    """fetch_recordings: a list of ProviderRecording for that room (empty when there are none)."""
    found = provider.fetch_recordings(_as_stored(room))
    assert isinstance(found, list), f"fetch_recordings returned {type(found).__name__}; return a list (maybe empty)"
    for item in found:
        assert isinstance(item, ProviderRecording), (
            f"fetch_recordings returned a {type(item).__name__}; return core.api ProviderRecording objects")
        assert item.room_name == room.name, f"fetch_recordings returned a recording of room {item.room_name!r}"


# --- the test class ------------------------------------------------------------------------------

@dataclass
class ContractWorld:
    """What the contract tests work with: the provider, people with emails in the database, conversations."""

    provider: Any
    client: Any
    conversation: CallConversation
    other: CallConversation
    people: list[CallParticipant]
    emails: list[str]
    records: dict[str, Any]  # the database rows: "conversation", "ana", "ben", ...


PEOPLE = (("ana", "participant", "Ana Contractor"), ("ben", "participant", "Ben Contractor"),
          ("fay", "facilitator", "Fay Contractor"), ("ada", "admin", "Ada Contractor"))


class CallProviderContract:
    """Subclass as `TestSomething(CallProviderContract)` and set the class attributes below."""

    plugin_name: ClassVar[str] = ""
    """The plugin's entry-point name, enabled under `plugins:` in the test app's config."""
    plugin: ClassVar[Any] = None
    """The plugin object (module); None loads it through its entry point `plugin_name`."""
    plugin_settings: ClassVar[dict[str, Any]] = {}
    """The plugin's settings in the test config; override settings_for() when they need provider_server."""
    provider_name: ClassVar[str] = ""
    """The provider's name, selected as room.call_provider."""
    names_in_payload: ClassVar[bool] = True
    """False when the browser adapter shows names from context.me/members(), not from the payload."""

    def settings_for(self, server: Any) -> dict[str, Any]:
        """The plugin's settings for a test, given what the provider_server fixture returned."""
        return dict(self.plugin_settings)

    @pytest.fixture
    def provider_server(self) -> Any:
        """Start what the provider talks to (override; yield its address or handle), else None."""
        return None

    @pytest.fixture
    def oss_connect_settings(self, provider_server: Any) -> dict[str, Any]:
        """The test config: the plugin with its settings, its provider selected."""
        assert self.plugin_name and self.provider_name, (
            f"{type(self).__name__} must set plugin_name and provider_name")
        return {"room": {"call_provider": self.provider_name},
                "plugins": {self.plugin_name: self.settings_for(provider_server) or None}}

    @pytest.fixture
    def oss_connect_plugins(self) -> dict[str, Any]:
        """The plugin object when given (else its entry point is used)."""
        return {self.plugin_name: self.plugin} if self.plugin is not None else {}

    @pytest.fixture
    def world(self, app: Any) -> Iterator[ContractWorld]:
        """A request context on the test app, people with email addresses, and two conversations."""
        from core.api import create_user
        from core.db import database, utcnow
        from core.room.calls import call_conversation
        from core.scheduling.conversations import create_conversation

        registered = app.extensions["oss_connect"].providers.get("call_provider", {})
        assert self.provider_name in registered, (
            f"no call provider named {self.provider_name!r} is registered (registered: "
            f"{sorted(registered) or 'none'}); return it from the register_call_providers hook of {self.plugin_name}")
        token = secrets.token_hex(4)
        records: dict[str, Any] = {}
        people, emails = [], []
        with app.app_context(), database.connection_context():
            for key, role, name in PEOPLE:
                email = f"{key}.contract-{token}@example.org"
                records[key] = create_user(email, None, role=role)
                people.append(CallParticipant(user_id=records[key].id, display_name=name, role=role))
                emails.append(email)
            records["cal"] = create_user(f"cal.contract-{token}@example.org", None)
            emails.append(f"cal.contract-{token}@example.org")
            records["conversation"] = create_conversation(records["ana"].id, records["ben"].id, starts_at=utcnow())
            records["other"] = create_conversation(records["ben"].id, records["cal"].id, starts_at=utcnow())
            conversation, other = call_conversation(records["conversation"]), call_conversation(records["other"])
        with app.test_request_context("/"):  # url_for works; the test client opens its own requests
            yield ContractWorld(provider=registered[self.provider_name], client=app.test_client(),
                                conversation=conversation, other=other, people=people, emails=emails,
                                records=records)

    def test_the_provider_is_registered_and_named(self, world: ContractWorld) -> None:
        """Registered under provider_name; a CallProvider with a name and a label."""
        check_identity(world.provider, self.provider_name)

    def test_capabilities_are_a_frozenset_of_known_names(self, world: ContractWorld) -> None:
        """Only capabilities core knows; webhook declared exactly when handle_webhook is implemented."""
        check_capabilities(world.provider)

    def test_create_room_gives_one_room_per_conversation(self, world: ContractWorld) -> None:
        """A well-formed, JSON-storable room; the same again for the same conversation; another for another."""
        check_create_room(world.provider, world.conversation, world.other)

    def test_room_names_are_not_guessable_from_the_conversation(self, world: ContractWorld) -> None:
        """Not a function of the id alone; the calendar UID not shown."""
        check_unguessable_name(world.provider, world.conversation)

    def test_join_payloads_are_personal_json_without_emails(self, world: ContractWorld) -> None:
        """Every role gets a JSON dict for that person only, with no email anywhere (tokens decoded too)."""
        room = world.provider.create_room(world.conversation)
        check_join_payloads(world.provider, room, world.people, world.emails, self.names_in_payload)

    def test_ending_a_room_twice_is_harmless(self, world: ContractWorld) -> None:
        """end_room works on a created room and does nothing the second time."""
        check_end_room(world.provider, world.provider.create_room(world.conversation))

    def test_client_scripts_are_served_by_the_site(self, world: ContractWorld) -> None:
        """Site-relative JavaScript, served with 200, one script registering the adapter."""
        check_client_scripts(world.provider, world.client)

    def test_csp_sources_are_origins_by_directive(self, world: ContractWorld) -> None:
        """A dict of *-src directives to lists of origins."""
        check_csp_sources(world.provider)

    def test_webhooks_that_are_not_genuine_raise_value_error(self, world: ContractWorld) -> None:
        """With "webhook": garbage bodies and headers raise ValueError, never another exception."""
        check_capabilities(world.provider)
        check_webhook(world.provider)

    def test_fetch_recordings_returns_a_list(self, world: ContractWorld) -> None:
        """A list of ProviderRecording (empty when the provider records nothing)."""
        check_recordings(world.provider, world.provider.create_room(world.conversation))

    def test_core_stores_the_room_and_builds_payloads_with_it(self, world: ContractWorld,
                                                              caplog: pytest.LogCaptureFixture) -> None:
        """Through core: the room is stored once and reused, payloads carry no email, ending it logs no error."""
        from core.db import database
        from core.models import CallRoomRecord
        from core.room.calls import end_call, join_payload, room_for

        conversation = world.records["conversation"]
        with database.connection_context():
            room = room_for(conversation)
            record = CallRoomRecord.get(conversation=conversation.id, provider=self.provider_name)
            assert (record.name, record.data) == (room.name, room.data), (
                "the room core stored differs from the one create_room returned; keep CallRoom.data plain JSON")
            assert room_for(conversation).name == room.name, "core did not reuse the stored room"
            for key, role in (("ana", "participant"), ("fay", "facilitator"), ("ada", "admin")):
                text = readable_text(join_payload(conversation, world.records[key], role))
                assert not any(email.lower() in text.lower() for email in world.emails), (
                    f"the payload core sends to the {role} contains an email address; never look up users' emails")
            end_call(conversation)
            failures = [entry.getMessage() for entry in caplog.records if "could not end room" in entry.getMessage()]
            assert not failures, f"end_room raised when core ended the conversation: {failures}"
            assert CallRoomRecord.get_by_id(record.id).ended_at is not None, "core did not mark the room ended"

"""The access matrix: every route of the app (all bundled plugins enabled) and every Socket.IO event is
declared (core/access_policy.py, and the plugins' register_access_policies), and each is exercised as
every actor (tests/security/world.py): the actors the policy admits get through, the others are
refused (401, 403, 404 or the sign-in page), nobody gets a server error, no request is refused by the
CSRF check instead of by access, a refusal on an object route looks exactly like an id that does not
exist, and a refused request changes nothing in the database.

One live server and one world per run of this module; every route gets fresh objects (a Scene).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio
from flask import url_for

from core.access_policy import (
    INTERNAL_KIND,
    OBJECT_KIND,
    SIGN_IN_STEP_KIND,
    TOKEN_KIND,
    AccessTables,
    Policy,
    events_of,
    routes_of,
    stale_routes,
    suggested_policy,
    undeclared_routes,
)
from core.db import database
from core.models.accounts import ROLES
from core.plugins_loader import installed_plugins
from core.testing import empty_tables
from tests.conftest import start_live_server
from tests.security.world import (
    ACTORS,
    BOGUS_TOKEN,
    BUNDLED_TABLES,
    EMAILS,
    LOGIN_PATH,
    PLUGINS,
    RELATIONS,
    SITE_ROLES,
    Scene,
    World,
    build_world,
    csrf_token,
    settings_with,
    sign_in,
    url_values,
)
from tests.test_realtime import WAIT, open_socket

pytestmark = pytest.mark.database

REDIRECTS = (301, 302, 303, 307, 308)
NO_SUCH_ID = 987654321
CSRF_VALUE = re.compile(r'(name="csrf_token"( type="hidden")? value|data-csrf(-token)?)="[^"]*"')
FLASHES = re.compile(r'<div class="container flashes".*?</div>', re.S)
REFUSALS = (401, 403, 404)
ENDS_SESSION = frozenset({"POST auth.logout"})
"""Routes that sign the actor out: sent from a throwaway client signed in for the purpose."""
UNWATCHED_TABLES: frozenset[str] = frozenset({"user_session"})
"""Tables a refused request may still write: a session's last-seen time (written at most once a minute)."""
ACCESS_CODES = frozenset({"unauthenticated", "not_found", "closed", "not_joined", "forbidden"})
"""The codes of a room event's acknowledgement that refuse the sender (core/room/events.py)."""


@pytest.fixture(scope="module")
def matrix_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app with every bundled plugin, served over HTTP and WebSocket for this module."""
    live, server = start_live_server(tmp_path_factory.mktemp("matrix"), database_url, settings_with(), PLUGINS)
    yield live
    server.shutdown()
    with database.connection_context():
        empty_tables()


@pytest.fixture(scope="module")
def world(matrix_server: Any) -> World:
    """The actors and the public objects (tests/security/world.py)."""
    return build_world(matrix_server.app)


# The table covers the app, and only the app ---------------------------------------------------------------


def tables_of(server: Any) -> AccessTables:
    """The access tables of the running app: core's and every enabled plugin's declarations."""
    return server.app.extensions["oss_connect"].access


def test_every_route_of_the_app_has_a_declared_policy(matrix_server):
    missing = undeclared_routes(tables_of(matrix_server), matrix_server.app.url_map)
    lines = "\n".join(f'    "{key}": {suggested_policy(rule)},  # {rule}  (a guess from the URL: check it)'
                      for key, rule in sorted(missing.items()))
    assert not missing, (
        f"{len(missing)} route(s) have no access policy. Add one line for each to ROUTES in "
        f"core/access_policy.py (a plugin's route: to its register_access_policies hook), with the policy that "
        f"says who may use it (docs/security.md, \"The access matrix: how to declare a route\"):\n{lines}")


def test_every_declared_route_exists(matrix_server):
    stale = stale_routes(tables_of(matrix_server), matrix_server.app.url_map)
    assert not stale, ("ROUTES in core/access_policy.py (or a plugin) declares route(s) the app does not have "
                       f"(renamed or removed?); delete or rename these lines: {stale}")


def test_every_socket_event_has_a_declared_policy_and_every_declared_event_exists(matrix_server):
    events = events_of(matrix_server.app.extensions["socketio"].server.handlers)
    declared = tables_of(matrix_server).events
    missing = [event for event in events if event not in declared]
    lines = "\n".join(f'    "{event}": CONVERSATION_VIEWERS,  # check who may send it' for event in missing)
    assert not missing, ("Socket.IO event(s) with no access policy: add one line for each to SOCKET_EVENTS in "
                         f"core/access_policy.py (a plugin's: to its register_access_policies hook):\n{lines}")
    stale = sorted(set(declared) - set(events))
    assert not stale, f"SOCKET_EVENTS declares event(s) no handler answers; delete these lines: {stale}"


def test_the_matrix_world_starts_every_bundled_plugin(matrix_server):
    bundled = {name for name, entry in installed_plugins().items() if entry.value.startswith("plugins.")}
    enabled = {info.name for info in matrix_server.app.extensions["oss_connect"].config.plugins}
    assert bundled <= enabled, f"enable these bundled plugins in tests/security/world.py: {sorted(bundled - enabled)}"


def test_every_site_role_is_an_actor_of_the_matrix():
    missing = sorted(set(ROLES) - set(SITE_ROLES.values()))
    assert not missing, (f"the site role(s) {missing} have no actor in the access matrix: add an actor for each "
                         "to ACTORS, SITE_ROLES, EMAILS and RELATIONS in tests/security/world.py, with an account "
                         "in build_world()")


# Routes ----------------------------------------------------------------------------------------------------


def admitted(policy: Policy, actor: str) -> bool:
    """Whether the policy admits the actor, given the actor's role and relations to the scene's objects."""
    return policy.admits(SITE_ROLES[actor], RELATIONS.get(actor, {}).get(policy.object or "", ()))


def is_refusal(response: Any, also: tuple[int, ...] = ()) -> bool:
    """401, 403, 404 (or a status in `also`), or a redirect to the sign-in page."""
    if response.status_code in REFUSALS + also:
        return True
    return response.status_code in REDIRECTS and bool(LOGIN_PATH.match(response.headers.get("Location", "")))


def described(response: Any) -> str:
    """A response as a failure message shows it."""
    if response.status_code in REDIRECTS:
        return f"{response.status_code} to {urlsplit(response.headers.get('Location', '')).path}"
    return str(response.status_code)


def send(client: Any, method: str, path: str) -> Any:
    """One request; state-changing ones carry a valid CSRF token (as a form field and a header)."""
    if method == "GET":
        return client.get(path)
    token = csrf_token(client)
    headers = {"X-CSRFToken": token}
    if method == "PUT":
        return client.put(path, data=b"", headers=headers)
    return client.open(path, method=method, data={"csrf_token": token}, headers=headers)


def client_for(world: World, key: str, actor: str) -> Any:
    """The actor's client, or for routes that end the session a throwaway one: signed in as the actor, or
    holding a copy of the suspended account's cookie (which can no longer sign in)."""
    if key not in ENDS_SESSION or actor == "anonymous":
        return world.clients[actor]
    client = world.app.test_client()
    if actor == "suspended":
        name = world.app.config["SESSION_COOKIE_NAME"]
        client.set_cookie(name, world.clients[actor].get_cookie(name).value)
    else:
        sign_in(client, EMAILS[actor])
    return client


def problem(response: Any, should_pass: bool, refusal_also: tuple[int, ...] = ()) -> str | None:
    """What is wrong with one answer, or None."""
    if response.status_code >= 500:
        return f"got {response.status_code}, a server error"
    if response.status_code == 400 and b"The form expired or was sent from another site" in response.data:
        return "was refused by the CSRF check, so its access was not tested"
    refused = is_refusal(response, refusal_also)
    if should_pass and refused:
        return f"is admitted by the policy but was refused ({described(response)})"
    if not should_pass and not refused:
        return f"is not admitted by the policy but got through ({described(response)})"
    return None


def comparable(response: Any) -> str:
    """A page without what differs between any two requests: CSRF tokens (timestamped), flashed messages
    (left over from an earlier route) and the blank space around them."""
    text = CSRF_VALUE.sub('csrf=""', response.get_data(as_text=True))
    return " ".join(FLASHES.sub("", text).split())


def probe_problem(refused: Any, missing: Any) -> str | None:
    """An object's id must not be probed: refused, the answer is the same as for an id that does not exist."""
    if refused.status_code != 404 or missing.status_code != 404 or comparable(refused) != comparable(missing):
        return (f"was refused with {described(refused)} but an id that does not exist gets {described(missing)}"
                "; answer both with the same 404 so ids cannot be probed")
    return None


def database_state() -> dict[str, int]:
    """Every table's rows (outside the migration history and UNWATCHED_TABLES), as a hash per table."""
    with database.connection_context():
        real = database.obj
        tables = [name for name in real.get_tables()
                  if not name.startswith("schema_migrations") and name not in UNWATCHED_TABLES]
        return {name: hash(tuple(sorted(repr(row) for row in real.execute_sql(f'SELECT * FROM "{name}"').fetchall())))
                for name in tables}


def changed_tables(before: dict[str, int]) -> list[str]:
    """The tables whose rows differ from `before`."""
    after = database_state()
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def test_the_matrix_exercises_the_tables_of_the_running_app(matrix_server):
    assert tables_of(matrix_server) == BUNDLED_TABLES


@pytest.mark.parametrize("key", sorted(BUNDLED_TABLES.routes))
def test_route_admits_exactly_the_declared_actors(world, key):
    method, endpoint = key.split(" ", 1)
    rules = [rule for rule in world.app.url_map.iter_rules() if rule.endpoint == endpoint and method in rule.methods]
    if not rules:
        pytest.fail(f"{key} is declared but the app has no such route; see test_every_declared_route_exists")
    policy = BUNDLED_TABLES.routes[key]
    scene = Scene(world)
    values = url_values(scene, endpoint, set(rules[0].arguments))
    with world.app.test_request_context():
        path = url_for(endpoint, **values)
        missing_path = url_for(endpoint, **{name: NO_SUCH_ID if isinstance(value, int) and name != "sequence"
                                            else value for name, value in values.items()})
    problems = []
    before = database_state() if method != "GET" else None
    refusals_checked = False
    for actor in sorted(ACTORS, key=lambda name: admitted(policy, name)):  # the refused first: they change nothing
        client = client_for(world, key, actor)
        if before is not None and admitted(policy, actor) and policy.kind not in (TOKEN_KIND, INTERNAL_KIND) \
                and not refusals_checked:
            problems += [f"  a refused request changed the table {name}" for name in changed_tables(before)]
            refusals_checked = True
        if policy.kind == INTERNAL_KIND:  # no signature: refused whoever is signed in
            found = problem(send(client, method, path), False, refusal_also=(400,))
        elif policy.kind == TOKEN_KIND:
            with world.app.test_request_context():
                bogus = url_for(endpoint, **{**values, "token": BOGUS_TOKEN})
            found = problem(send(client, method, bogus), False, refusal_also=(400,))
            if found is None and method == "GET":  # a valid link opens for anyone; a POST would spend it
                found = problem(send(client, method, path), True)
        elif policy.kind == SIGN_IN_STEP_KIND:  # nobody here is half signed in: any redirect away refuses
            found = problem(send(client, method, path), False, refusal_also=(302, 303))
        else:
            response = send(client, method, path)
            found = problem(response, admitted(policy, actor))
            if found is None and policy.kind == OBJECT_KIND and SITE_ROLES[actor] and not admitted(policy, actor):
                found = probe_problem(response, send(client, method, missing_path))
        if found:
            problems.append(f"  {actor}: {found}")
    if before is not None and not refusals_checked and policy.kind in (TOKEN_KIND, INTERNAL_KIND):
        problems += [f"  a refused request changed the table {name}" for name in changed_tables(before)]
    assert not problems, f"{key} ({path}, policy {policy.kind}):\n" + "\n".join(problems)


# Socket.IO events ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def room(world) -> Any:
    """The conversation the socket events are sent about (in its booked window)."""
    return Scene(world).conversation()


@pytest.fixture(scope="module")
def sockets(world, matrix_server) -> Iterator[dict[str, Any]]:
    """One Socket.IO connection per signed-in actor, with the session cookie of the actor's client."""
    opened: dict[str, Any] = {}
    for actor in ACTORS:
        if SITE_ROLES[actor] is None:
            continue
        cookie = world.clients[actor].get_cookie(world.app.config["SESSION_COOKIE_NAME"])
        opened[actor] = open_socket(matrix_server.url, "websocket", f"{cookie.key}={cookie.value}")
    yield opened
    for client in opened.values():
        threading.Thread(target=client.disconnect, daemon=True).start()


def payload(event: str, world: World, conversation: Any, actor: str) -> dict[str, Any]:
    """A well-formed payload of each event, about the conversation (a signal goes to the other participant)."""
    about = {"conversation_id": conversation.id}
    recipient = world.user("ann" if actor == "partner" else "ben")
    return {"room_action": {**about, "action": "pause"}, "room_note": {**about, "keywords": "matrix"},
            "call_status": {**about, "status": "connected"},
            "webrtc_signal": {**about, "to": recipient.id, "restart": True},
            "tech_ping": {}}.get(event, about)


def ack_passed(answer: Any) -> bool:
    """Whether an acknowledgement lets the sender through (ok, or refused for a reason other than access)."""
    if not isinstance(answer, dict):
        return False
    if answer.get("ok") or answer.get("pong"):
        return True
    return "code" in answer and answer["code"] not in ACCESS_CODES


LIFECYCLE = ("connect", "disconnect")


def test_anonymous_visitors_cannot_open_a_socket(matrix_server):
    assert not BUNDLED_TABLES.events["connect"].admits(None)
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(matrix_server.url, "websocket")


def test_a_suspended_accounts_session_cookie_cannot_open_a_socket(world, matrix_server):
    cookie = world.clients["suspended"].get_cookie(world.app.config["SESSION_COOKIE_NAME"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(matrix_server.url, "websocket", f"{cookie.key}={cookie.value}")


@pytest.mark.parametrize("event", sorted(BUNDLED_TABLES.events))
def test_socket_event_admits_exactly_the_declared_actors(world, matrix_server, sockets, room, event):
    policy = BUNDLED_TABLES.events[event]
    problems = []
    for actor in ACTORS:
        should_pass = admitted(policy, actor)
        if SITE_ROLES[actor] is None or event in LIFECYCLE:
            if SITE_ROLES[actor] is None and should_pass:
                problems.append(f"  {actor}: admitted by the policy, but the connect handler refuses signed-out "
                                "visitors")
            continue
        client = sockets[actor]
        if event not in ("room_join", "webrtc_join", "webrtc_signal", "tech_ping"):
            client.call("room_join", {"conversation_id": room.id}, timeout=WAIT)
        answer = client.call(event, payload(event, world, room, actor), timeout=WAIT)
        if answer is not None and answer.get("code") == "server_error":
            problems.append(f"  {actor}: a server error: {answer}")
        elif should_pass != ack_passed(answer):
            verdict = "admitted by the policy but refused" if should_pass else "not admitted but got through"
            problems.append(f"  {actor}: {verdict}: {answer}")
        elif policy.kind == OBJECT_KIND and not RELATIONS.get(actor, {}).get(policy.object or "") \
                and not should_pass:
            elsewhere = client.call(event, {**payload(event, world, room, actor), "conversation_id": NO_SUCH_ID},
                                    timeout=WAIT)
            if answer != elsewhere:
                problems.append(f"  {actor}: refused with {answer}, but a conversation that does not exist gets "
                                f"{elsewhere}; answer both alike so ids cannot be probed")
    assert not problems, f"Socket.IO event {event} (policy {policy.kind}):\n" + "\n".join(problems)


def test_the_socket_connections_are_the_actors_own(world, sockets, room):
    """A control: each connection is let into the room as its actor's role, or not at all, so the cookies
    really carried each actor's own session."""
    roles = {}
    for actor, client in sockets.items():
        answer = client.call("room_join", {"conversation_id": room.id}, timeout=WAIT)
        roles[actor] = answer["me"]["role"] if answer.get("ok") else answer["code"]
    assert roles == {"outsider": "not_found", "participant": "participant", "partner": "participant",
                     "facilitator": "facilitator", "bystander": "not_found", "admin": "admin"}


def test_routes_of_lists_each_method_of_a_rule_and_skips_head_and_options(matrix_server):
    keys = routes_of(matrix_server.app.url_map)
    assert keys["GET auth.account"] == keys["POST auth.account"] == "/account"
    assert not any(key.startswith(("HEAD ", "OPTIONS ")) for key in keys)

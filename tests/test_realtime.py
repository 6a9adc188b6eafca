"""Real time: a real Socket.IO client against the live server.

Only signed-in users connect, only from the site's own Origin, events reach exactly the user they
are meant for, and with a Redis message queue an event emitted by another process arrives too.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio

from core.testing import require_service
from tests.conftest import csrf_token_from

PASSWORD = "correct horse battery"
WAIT = 10  # seconds: the bound on every wait for an event
TRANSPORTS = ["websocket", "polling"]
REDIS_BASE = "redis://127.0.0.1:6379"


def sign_in(base_url: str, email: str, password: str = PASSWORD) -> str:
    """Log in through the real /login form; return the Cookie header of the signed-in session."""
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=WAIT)
    token = csrf_token_from(page.text)
    answer = session.post(f"{base_url}/login", data={"email": email, "password": password, "csrf_token": token},
                          allow_redirects=False, timeout=WAIT)
    assert answer.status_code == 302, answer.text[:300]
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


class Client(socketio.Client):
    """socketio.Client whose disconnect does not wait for the engine.io read loop to end.

    python-engineio's polling client can exit its write loop before sending CLOSE when disconnect()
    follows connect() closely; disconnect() would then wait for the long-poll to time out (25 s).
    """

    def disconnect(self) -> None:
        for namespace in self.namespaces:
            self._send_packet(self.packet_class(socketio.packet.DISCONNECT, namespace=namespace))
        self.eio.disconnect(abort=True)


def open_socket(base_url: str, transport: str, cookie: str | None = None,
                origin: str | None = None) -> Client:
    """A connected Socket.IO client (raises socketio.exceptions.ConnectionError when refused).

    The Origin is sent the way each transport sends it: a header on polling requests, the
    handshake's Origin on the WebSocket (which otherwise defaults to the server's own address).
    """
    headers = {"Cookie": cookie} if cookie else {}
    extra: dict[str, Any] = {}
    if origin is not None:
        if transport == "polling":
            headers["Origin"] = origin
        else:
            extra["origin"] = origin
    client = Client(reconnection=False, request_timeout=WAIT, websocket_extra_options=extra)
    client.connect(base_url, headers=headers, transports=[transport], wait_timeout=WAIT)
    return client


class Inbox:
    """Collects one event's payloads on a client and lets a test wait for a matching one."""

    def __init__(self, client: socketio.Client, event: str):
        self.received: list[Any] = []
        self._arrived = threading.Condition()
        client.on(event, self._record)

    def _record(self, data: Any) -> None:
        with self._arrived:
            self.received.append(data)
            self._arrived.notify_all()

    def wait_for(self, predicate: Any = lambda data: True) -> Any:
        """The first payload matching `predicate`, waiting at most WAIT seconds (else fail)."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: next((d for d in self.received if predicate(d)), None), WAIT)
        assert found is not None, f"no matching event within {WAIT}s; received {self.received}"
        return found


@pytest.fixture
def users(live_server: Any) -> dict[str, int]:
    """Two verified participants on the live server: name -> user id."""
    from core.api import create_user
    from core.db import database

    with live_server.app.app_context(), database.connection_context():
        return {name: create_user(f"{name}@example.org", PASSWORD).id for name in ("alice", "bob")}


@pytest.fixture
def sockets() -> Iterator[list[socketio.Client]]:
    """A list the test appends its clients to; all are disconnected at the end, side by side.

    The closing handshakes finish in the background: on the development server (werkzeug) the
    WebSocket client waits 3 s for a close frame that werkzeug never sends after the upgrade.
    """
    opened: list[socketio.Client] = []
    yield opened
    for client in opened:
        threading.Thread(target=client.disconnect, daemon=True).start()


def notify(live_server: Any, user_id: int, event: str, data: dict[str, Any]) -> None:
    """core.api.notify, called the way a view or job calls it: inside the app."""
    from core.api import notify as api_notify

    with live_server.app.app_context():
        api_notify(user_id, event, data)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_signed_in_user_connects(live_server, users, sockets, transport):
    client = open_socket(live_server.url, transport, sign_in(live_server.url, "alice@example.org"))
    sockets.append(client)
    assert client.connected
    assert client.transport() == transport


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_anonymous_client_is_refused(live_server, transport):
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(live_server.url, transport)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_foreign_origin_is_refused_even_when_signed_in(live_server, users, transport):
    cookie = sign_in(live_server.url, "alice@example.org")
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(live_server.url, transport, cookie, origin="http://evil.example")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_site_own_origin_is_accepted(live_server, users, sockets, transport):
    client = open_socket(live_server.url, transport, sign_in(live_server.url, "alice@example.org"),
                         origin=live_server.url)
    sockets.append(client)
    assert client.connected


def test_notify_reaches_only_that_users_sockets(live_server, users, sockets):
    alice = open_socket(live_server.url, "websocket", sign_in(live_server.url, "alice@example.org"))
    bob = open_socket(live_server.url, "websocket", sign_in(live_server.url, "bob@example.org"))
    sockets.extend([alice, bob])
    alice_inbox, bob_inbox = Inbox(alice, "match_found"), Inbox(bob, "match_found")

    notify(live_server, users["alice"], "match_found", {"for": "alice"})
    notify(live_server, users["bob"], "match_found", {"for": "bob"})

    assert alice_inbox.wait_for() == {"for": "alice"}
    # Bob's own event comes after Alice's would have (one server, in order): he got only his.
    bob_inbox.wait_for(lambda data: data == {"for": "bob"})
    assert bob_inbox.received == [{"for": "bob"}]
    assert alice_inbox.received == [{"for": "alice"}]


def redis_db_for_worker() -> int:
    """A Redis database number of this xdist worker's own for the message queue, so parallel runs stay apart."""
    from core.testing import redis_test_db

    return redis_test_db("realtime")


def redis_url_or_skip() -> str:
    """The test Redis database URL; fails on CI and skips elsewhere when Redis is not running."""
    import redis

    url = f"{REDIS_BASE}/{redis_db_for_worker()}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        require_service("Redis", f"{url}: {error}")
    return url


class TestWithRedisMessageQueue:
    """Several processes share events through Redis: an outside emitter reaches the client."""

    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {"realtime": {"message_queue": redis_url_or_skip()}}

    @staticmethod
    def emitter(live_server: Any, base_url: str | None = None) -> Any:
        """What another process of the site uses: Socket.IO on the same queue and channel, no server."""
        from flask_socketio import SocketIO

        from core.realtime import message_channel

        settings = live_server.app.extensions["oss_connect"].settings
        return SocketIO(message_queue=settings.realtime.message_queue,
                        channel=message_channel(base_url or settings.site.base_url))

    def test_event_from_another_process_reaches_the_user(self, live_server, users, sockets):
        from core.realtime import user_room

        client = open_socket(live_server.url, "websocket", sign_in(live_server.url, "alice@example.org"))
        sockets.append(client)
        inbox = Inbox(client, "from_worker")

        self.emitter(live_server).emit("from_worker", {"job": "reminder"}, to=user_room(users["alice"]))

        assert inbox.wait_for() == {"job": "reminder"}

    def test_another_site_on_the_same_redis_does_not_reach_our_users(self, live_server, users, sockets):
        from core.realtime import user_room

        client = open_socket(live_server.url, "websocket", sign_in(live_server.url, "alice@example.org"))
        sockets.append(client)
        inbox = Inbox(client, "from_worker")
        other_site = self.emitter(live_server, base_url=f"https://other-{uuid.uuid4().hex[:8]}.example.org")

        other_site.emit("from_worker", {"site": "other"}, to=user_room(users["alice"]))
        self.emitter(live_server).emit("from_worker", {"site": "ours"}, to=user_room(users["alice"]))

        inbox.wait_for(lambda data: data == {"site": "ours"})
        assert inbox.received == [{"site": "ours"}]

"""Per-connection rate limits on Socket.IO events, with real clients against the live server: a flood of
call_status from one page is refused ("rate_limited") past the burst and never fans out to the partner;
the budget refills; each connection has its own."""

from __future__ import annotations

import threading
import time
from typing import Any

from core.realtime_limits import TokenBucket
from tests.test_realtime import WAIT, Inbox, open_socket, sign_in, sockets  # noqa: F401 (a fixture)
from tests.test_room_events import (  # noqa: F401 (fixtures: the room's settings, plugins, people and conversation)
    cast,
    conversation,
    oss_connect_plugins,
    oss_connect_settings,
)

BURST = 20


def joined(live_server: Any, sockets: list[Any], email: str, conversation: Any) -> Any:  # noqa: F811
    client = open_socket(live_server.url, "websocket", sign_in(live_server.url, email))
    sockets.append(client)
    answer = client.call("room_join", {"conversation_id": conversation.id}, timeout=WAIT)
    assert answer.get("ok"), answer
    return client


def flood(client: Any, event: str, data: Any, count: int) -> list[Any]:
    """Emit `count` events as fast as the client can, and collect every acknowledgement."""
    acks: list[Any] = []
    done = threading.Event()

    def ack(answer: Any) -> None:
        acks.append(answer)
        if len(acks) == count:
            done.set()

    for _ in range(count):
        client.emit(event, data, callback=ack)
    assert done.wait(WAIT), f"only {len(acks)} of {count} acknowledgements arrived"
    return acks


def test_a_call_status_flood_is_refused_past_the_burst_and_does_not_reach_the_partner(
        live_server, sockets, cast, conversation):  # noqa: F811
    ann = joined(live_server, sockets, "ann@example.org", conversation)
    ben = joined(live_server, sockets, "ben@example.org", conversation)
    statuses = Inbox(ben, "member_status")
    started = time.monotonic()
    acks = flood(ann, "call_status", {"conversation_id": conversation.id, "status": "connected"}, 200)
    took = time.monotonic() - started
    passed = [answer for answer in acks if answer.get("ok")]
    refused = [answer for answer in acks if answer.get("code") == "rate_limited"]
    assert len(passed) + len(refused) == 200
    assert BURST - 1 <= len(passed) <= BURST + 5 * took + 1  # the burst (ann's join spent one), plus the refill
    assert "too many events" in refused[0]["error"]
    time.sleep(1.0)  # anything relayed has arrived by now
    assert len(statuses.received) == len(passed) and len(statuses.received) <= BURST + 5 * took + 1
    # Ben's own connection has its own budget; after a pause Ann's refills.
    assert ben.call("call_status", {"conversation_id": conversation.id, "status": "connected"},
                    timeout=WAIT) == {"ok": True}
    assert ann.call("call_status", {"conversation_id": conversation.id, "status": "reconnecting"},
                    timeout=WAIT) == {"ok": True}
    assert statuses.wait_for(lambda data: data["status"] == "reconnecting")["user_id"] == cast["ann"].id


def test_the_tech_check_ping_is_limited_too(live_server, sockets, cast):  # noqa: F811
    client = open_socket(live_server.url, "websocket", sign_in(live_server.url, "cal@example.org"))
    sockets.append(client)
    acks = flood(client, "tech_ping", {}, 60)
    assert 1 <= sum(1 for answer in acks if answer.get("code") == "rate_limited") <= 60 - BURST
    assert sum(1 for answer in acks if answer == {"pong": True}) >= BURST


def test_a_token_bucket_spends_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(burst=3, per_second=2, tokens=3, updated=100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(100.4) is False  # 0.8 of a token
    assert bucket.take(100.5) is True  # one token after half a second
    assert [bucket.take(200.0) for _ in range(4)] == [True, True, True, False]  # never more than the burst

"""Per-connection rate limits for Socket.IO events: a token bucket per (connection, kind) in process memory.

A connection lives in one process (sticky sessions), so its limit needs no shared store. Each bucket holds
`burst` tokens and refills at `per_second`; an event that finds no token is refused with the code
"rate_limited" and goes nowhere (no broadcast, no relay, no database work). Two kinds: "events" (the room's
events and the tech check, `realtime.event_burst` / `realtime.events_per_second`) and "signals" (a call
provider's signalling, where a browser sends a handful of ICE candidates at once:
`realtime.signal_burst` / `realtime.signals_per_second`).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

RATE_LIMITED = "rate_limited"
KINDS = ("events", "signals")
IDLE_SECONDS = 120.0
"""A bucket untouched this long is full again, so it is forgotten when the table is swept."""
SWEEP_ABOVE = 2000
"""Sweep idle buckets when the table holds more than this many (connections that closed unseen)."""
HANDLERS_AT_ONCE = 8
"""Socket.IO handlers of one process that may work at the same time. In threading mode every event runs in
a thread of its own, so a burst (a browser's ICE candidates, a flood within its budget) would otherwise open
one database connection per event at once and exhaust the server's (PostgreSQL's max_connections)."""
_handler_slots = threading.BoundedSemaphore(HANDLERS_AT_ONCE)


@dataclass
class TokenBucket:
    """`burst` tokens, refilled at `per_second`; take() spends one when there is one."""

    burst: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        """Refill for the time passed, then spend a token; False when none is left."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


_buckets: dict[tuple[str, str], TokenBucket] = {}
_lock = threading.Lock()


def _budget(kind: str) -> tuple[float, float]:
    """(burst, per second) of `kind` from the `realtime:` settings."""
    settings = current_app.extensions["oss_connect"].settings.realtime
    if kind == "signals":
        return settings.signal_burst, settings.signals_per_second
    return settings.event_burst, settings.events_per_second


def allow(kind: str = "events", sid: str | None = None) -> bool:
    """Whether the current connection (or `sid`) may send one more event of `kind` now; spends a token."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    key = (sid or request.sid, kind)
    now = time.monotonic()
    with _lock:
        bucket = _buckets.get(key)
        if bucket is None:
            if len(_buckets) > SWEEP_ABOVE:
                _sweep(now)
            burst, per_second = _budget(kind)
            bucket = _buckets[key] = TokenBucket(burst, per_second, burst, now)
        return bucket.take(now)


def _sweep(now: float) -> None:
    """Forget buckets idle long enough to be full again (call with the lock held)."""
    for key in [key for key, bucket in _buckets.items() if now - bucket.updated > IDLE_SECONDS]:
        del _buckets[key]


def forget(sid: str) -> None:
    """Drop a closed connection's buckets."""
    with _lock:
        for kind in KINDS:
            _buckets.pop((sid, kind), None)


def rate_limited(kind: str = "events") -> dict[str, Any]:
    """The acknowledgement of a refused event: a sentence and the code "rate_limited"."""
    burst, per_second = _budget(kind)
    return {"error": f"This page sent too many events at once (more than {burst:g} in a burst or {per_second:g} "
                     "a second); the last ones were dropped. Wait a moment; reload the page if it keeps happening.",
            "code": RATE_LIMITED}


def limit_events(kind: str = "events") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Socket.IO handler: over the connection's budget of `kind`, answer rate_limited instead."""
    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if not allow(kind):
                return rate_limited(kind)
            with handler_slot():
                return handler(*args, **kwargs)
        return limited
    return decorate


@contextlib.contextmanager
def handler_slot() -> Iterator[None]:
    """Wait for one of the process's HANDLERS_AT_ONCE places, so that a burst of events queues instead of
    opening a database connection each."""
    with _handler_slots:
        yield

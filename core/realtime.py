"""Real time: Flask-SocketIO in threading mode; only signed-in users connect, from allowed origins.

Every connection is recorded with the server-side session that opened it (SessionSocket), so that
ending a session, or a person losing access, disconnects its sockets at once, on every process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, SocketIO, join_room

from core.db import database
from core.models import SessionSocket
from core.realtime_limits import forget, limit_events

log = logging.getLogger(__name__)

CURRENT_SESSION = "oss_session"
"""The flask.g attribute that holds the request's UserSession row (set by core.sessions when it loads the user)."""


def allowed_origins(base_url: str, extra: list[str]) -> list[str]:
    """The Origin values allowed to open a WebSocket: the site's own, plus configured extras."""
    parts = urlsplit(base_url)
    origins = [f"{parts.scheme}://{parts.netloc}"]
    return origins + [origin.rstrip("/") for origin in extra if origin.rstrip("/") not in origins]


def message_channel(base_url: str) -> str:
    """The message-queue channel of one site: Redis pub/sub ignores database numbers, so two sites
    sharing a Redis server would otherwise receive each other's events."""
    return f"oss-connect:{allowed_origins(base_url, [])[0]}"


def create_socketio(app: Any, settings: Any) -> SocketIO:
    """Attach Socket.IO to the app; the connect handler refuses anonymous visitors."""
    socketio = SocketIO(
        app,
        async_mode="threading",
        cors_allowed_origins=allowed_origins(settings.site.base_url, settings.realtime.allowed_origins),
        message_queue=settings.realtime.message_queue,
        channel=message_channel(settings.site.base_url),
        manage_session=False,
        logger=False,
        engineio_logger=False,
    )

    disconnect_handlers: list[Callable[[], None]] = []
    socketio.oss_disconnect_handlers = disconnect_handlers  # type: ignore[attr-defined]

    @socketio.on("connect")
    def connect(auth: Any = None) -> bool:
        with database.connection_context():
            record = g.get(CURRENT_SESSION) if current_user.is_authenticated else None
            if record is None:
                raise ConnectionRefusedError("sign in first")
            SessionSocket.delete().where(SessionSocket.sid == request.sid).execute()
            SessionSocket.create(sid=request.sid, session=record.id, user=current_user.id)
            join_room(user_room(current_user.id))
        return True

    @socketio.on("disconnect")
    def disconnect(*args: Any) -> None:
        forget(request.sid)
        try:
            with database.connection_context():
                SessionSocket.delete().where(SessionSocket.sid == request.sid).execute()
        except Exception:
            log.exception("forgetting a closed socket failed")
        for handler in disconnect_handlers:
            handler()

    @socketio.on("tech_ping")
    @limit_events("events")
    def tech_ping(data: Any = None) -> dict[str, Any]:
        """The tech check's round trip: acknowledge at once (within the connection's rate limit)."""
        return {"pong": True}

    return socketio


def user_room(user_id: int) -> str:
    """The Socket.IO room that holds every connection of one user."""
    return f"user:{user_id}"


def notify_user(user_id: int, event: str, data: dict[str, Any]) -> None:
    """Emit `event` to every open connection of a user."""
    current_app.extensions["socketio"].emit(event, data, to=user_room(user_id))


def on_disconnect(socketio: SocketIO, handler: Callable[[], None]) -> None:
    """Also run `handler` (in the closing socket's request context) when a connection closes."""
    socketio.oss_disconnect_handlers.append(handler)  # type: ignore[attr-defined]


def drop_connections(sids: Iterable[str], delay: float = 0.0) -> None:
    """Disconnect these Socket.IO connections now, wherever they are (a message queue reaches the
    other processes); their disconnect handlers take them out of their rooms. Runs in a background
    task, so the caller's transaction and database connection are left alone."""
    sids = [sid for sid in dict.fromkeys(sids) if sid]
    if not sids:
        return
    socketio = current_app.extensions["socketio"]

    def drop() -> None:
        if delay:
            socketio.sleep(delay)
        for sid in sids:
            try:
                socketio.server.disconnect(sid, namespace="/")
            except Exception:
                log.exception("disconnecting socket %s failed", sid)

    if has_request_context():
        socketio.start_background_task(drop)
    else:
        drop()


def leave_socket_room(sid: str, room: str) -> None:
    """Take one connection out of a Socket.IO room, wherever it is (the queue reaches other processes)."""
    current_app.extensions["socketio"].server.leave_room(sid, room, namespace="/")

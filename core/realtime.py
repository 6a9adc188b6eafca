"""Real time: Flask-SocketIO in threading mode; only signed-in users connect, from allowed origins."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, SocketIO, join_room

from core.db import database
from core.realtime_limits import limit_events


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

    @socketio.on("connect")
    def connect(auth: Any = None) -> bool:
        with database.connection_context():
            if not current_user.is_authenticated:
                raise ConnectionRefusedError("sign in first")
            join_room(user_room(current_user.id))
        return True

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

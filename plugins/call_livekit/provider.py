"""The "livekit" call provider: a room per conversation on a self-hosted LiveKit server, entered with access tokens.

The room name is an HMAC of the conversation's UID keyed with the API secret: stable, unguessable and
free of anything personal. Each person gets a LiveKit access token (livekit-api's AccessToken) for that
room only; the identity is the user id, the name the one they share with partners, never an email.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from flask import url_for
from livekit import api

from core.api import (
    CALL_ROLES,
    CallConversation,
    CallEvent,
    CallParticipant,
    CallProvider,
    CallProviderError,
    CallRoom,
    plugin_settings,
)

from . import server
from .settings import LiveKitSettings

ROOM_PREFIX = "oss-"
PUBLISHING_ROLES = frozenset({"participant", "facilitator"})
EVENT_STATUS = {
    "room_started": "created",
    "room_finished": "ended",
    "participant_joined": "joined",
    "participant_left": "left",
    "participant_connection_aborted": "left",
}
"""LiveKit webhook events (docs.livekit.io, "Webhooks") and the CallEvent status each becomes; others are ignored."""
_HTTP_FOR = {"wss": "https", "ws": "http"}


def room_name_for(settings: LiveKitSettings, conversation_uid: str) -> str:
    """The conversation's room: "oss-" and 32 base32 characters (160 bits) of HMAC-SHA256 keyed by the API secret."""
    mac = hmac.new(settings.secret.encode(), f"room:{conversation_uid}".encode(), hashlib.sha256).digest()
    return ROOM_PREFIX + base64.b32encode(mac).decode().rstrip("=").lower()[:32]


def make_token(settings: LiveKitSettings, room_name: str, participant: CallParticipant, role: str) -> str:
    """A LiveKit access token for `room_name` only: publish unless an admin (hidden observer), never data."""
    if role not in CALL_ROLES:
        raise ValueError(f"unknown call role {role!r} (expected one of {', '.join(CALL_ROLES)})")
    observer = role == "admin"
    grants = api.VideoGrants(room_join=True, room=room_name, can_publish=role in PUBLISHING_ROLES,
                             can_subscribe=True, can_publish_data=False, can_update_own_metadata=False,
                             hidden=True if observer else None)
    name = participant.display_name.strip() or role.capitalize()
    return (api.AccessToken(settings.api_key, settings.secret)
            .with_identity(str(participant.user_id))
            .with_name(name)
            .with_metadata(json.dumps({"role": role}))
            .with_grants(grants)
            .with_ttl(dt.timedelta(minutes=settings.token_ttl_minutes))
            .to_jwt())


def _user_id(identity: str) -> int | None:
    """The user id a participant identity stands for (tokens use str(user_id)), or None."""
    return int(identity) if identity.isdigit() else None


class LiveKitProvider(CallProvider):
    """Calls through a self-hosted LiveKit SFU; the browser joins with LiveKit's own client, served by this site."""

    name = "livekit"
    label = "LiveKit (self-hosted)"
    capabilities = frozenset({"video", "audio_only", "mute", "camera_off", "reconnect", "facilitator", "webhook"})

    def __init__(self, settings: LiveKitSettings | None = None):
        self._settings = settings

    @property
    def settings(self) -> LiveKitSettings:
        """The settings given to the constructor, else those of the enabled plugin."""
        if self._settings is not None:
            return self._settings
        configured = plugin_settings("call_livekit")
        if configured is None:
            raise CallProviderError("the LiveKit call provider is not configured; enable the plugin call_livekit "
                                    "with url, api_key and api_secret (docs/call-livekit.md)")
        return configured

    def csp_sources(self) -> dict[str, list[str]]:
        """The LiveKit server's WebSocket origin, and its http(s) twin the client checks a failed connection on."""
        parts = urlsplit(self.settings.url)
        return {"connect-src": [f"{parts.scheme}://{parts.netloc}", f"{_HTTP_FOR[parts.scheme]}://{parts.netloc}"]}

    def client_scripts(self) -> list[str]:
        """LiveKit's browser client (vendored UMD build) and our adapter."""
        return [url_for("call_livekit.static", filename="vendor/livekit-client/livekit-client.umd.js"),
                url_for("call_livekit.static", filename="livekit.js")]

    def create_room(self, conversation: CallConversation) -> CallRoom:
        """Create (or find) the conversation's room on the LiveKit server, with its size and empty timeout."""
        settings = self.settings
        name = room_name_for(settings, conversation.uid)
        data = server.create_room(settings, name)
        return CallRoom(provider=self.name, name=name, conversation_id=conversation.id, data=data)

    def join_payload(self, room: CallRoom, participant: CallParticipant, role: str) -> dict[str, Any]:
        """The server's address, the room name and this person's access token."""
        settings = self.settings
        return {"url": settings.url, "token": make_token(settings, room.name, participant, role), "room": room.name}

    def end_room(self, room: CallRoom) -> None:
        """Delete the room on the server (everyone is disconnected); a room already gone is fine."""
        server.delete_room(self.settings, room.name)

    def handle_webhook(self, body: bytes, headers: dict[str, str]) -> list[CallEvent]:
        """Check the signed Authorization token (key, expiry, body's SHA-256) and turn the event into CallEvents."""
        settings = self.settings
        token = next((value for key, value in headers.items() if key.lower() == "authorization"), "").strip()
        if not token:
            raise ValueError("the webhook has no Authorization header, so it cannot be from LiveKit (a proxy "
                             "in between may drop the header)")
        token = token.removeprefix("Bearer ").strip()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError("the webhook body is not UTF-8 JSON, so it cannot be from LiveKit") from error
        receiver = api.WebhookReceiver(api.TokenVerifier(settings.api_key, settings.secret))
        try:
            event = receiver.receive(text, token)
        except Exception as error:  # PyJWT's errors, "hash mismatch", a body that is no WebhookEvent
            raise ValueError(f"the webhook is not genuine or not readable ({error}); check that livekit.yaml's "
                             "`webhook: api_key:` is plugins.call_livekit.api_key") from error
        status = EVENT_STATUS.get(event.event)
        if status is None or not event.room.name:
            return []
        detail = {"event": event.event, "event_id": event.id, "created_at": event.created_at}
        if event.room.sid:
            detail["room_sid"] = event.room.sid
        user_id = None
        if event.event.startswith("participant_"):
            user_id = _user_id(event.participant.identity)
            detail["participant_sid"] = event.participant.sid
        return [CallEvent(room_name=event.room.name, status=status, user_id=user_id, detail=detail)]

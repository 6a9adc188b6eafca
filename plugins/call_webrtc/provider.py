"""The "webrtc" call provider: the browsers connect to each other directly, signalling over our Socket.IO.

No third party is involved: a room is a name, the browsers exchange offers, answers and ICE
candidates through `webrtc_signal` (signalling.py), and media flows peer to peer, or through the
site's own TURN server when one is configured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from typing import Any, ClassVar

from flask import current_app, url_for

from core.api import CallConversation, CallParticipant, CallProvider, CallRoom, plugin_settings
from plugins.call_webrtc.settings import WebrtcSettings
from plugins.call_webrtc.turn import turn_credentials

PLUGIN = "call_webrtc"
END_EVENT = "webrtc_end"
TURN_GRACE_SECONDS = 30 * 60  # TURN credentials outlast the booked slot by this much
TURN_MAX_SECONDS = 24 * 3600


def settings() -> WebrtcSettings:
    """The plugin's settings, or the defaults when the plugin is not enabled in the config."""
    configured = plugin_settings(PLUGIN)
    return configured if configured is not None else WebrtcSettings()


def webrtc_room(conversation_id: int) -> str:
    """The Socket.IO room that holds the call's browsers (joined with `webrtc_join`)."""
    return f"webrtc:{conversation_id}"


def ice_servers(config: WebrtcSettings, user_id: int, ends_at: float | None = None,
                now: float | None = None) -> list[dict[str, Any]]:
    """The static ICE servers plus, with `turn:`, fresh TURN credentials for `user_id`.

    The credentials last `ttl_minutes`, and at least until half an hour after `ends_at` (the end of
    the booked slot, Unix seconds) so that a long conversation keeps its relay; never over a day.
    """
    servers = [server.browser() for server in config.ice_servers]
    if config.turn is not None:
        clock = time.time() if now is None else now
        ttl = config.turn.ttl_minutes * 60
        if ends_at is not None:
            ttl = max(ttl, min(TURN_MAX_SECONDS, int(ends_at - clock) + TURN_GRACE_SECONDS))
        credentials = turn_credentials(config.turn.secret.get_secret_value(), user_id, ttl, now=clock)
        servers.append({"urls": list(config.turn.urls), "username": credentials.username,
                        "credential": credentials.credential})
    return servers


class WebrtcProvider(CallProvider):
    """Peer-to-peer calls in a full mesh (two participants, a facilitator, an admin observing)."""

    name = "webrtc"
    label = "WebRTC, browser to browser (no third party)"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"video", "audio_only", "mute", "camera_off", "reconnect", "facilitator"})

    def client_scripts(self) -> list[str]:
        """The browser adapter, served by this site."""
        return [url_for(f"{PLUGIN}.static", filename="webrtc.js")]

    def create_room(self, conversation: CallConversation) -> CallRoom:
        """The conversation's room name (the same every time: keyed by the site's secret key and the
        conversation's random calendar UID, so nobody can guess it); nothing to create anywhere else."""
        ends_at = conversation.ends_at.timestamp() if isinstance(conversation.ends_at, dt.datetime) else None
        key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
        digest = hmac.new(key, f"webrtc-room:{conversation.uid}".encode(), hashlib.sha256).hexdigest()[:24]
        return CallRoom(provider=self.name, name=f"conversation-{conversation.id}-{digest}",
                        conversation_id=conversation.id, data={"ends_at": ends_at, "ended": False})

    def join_payload(self, room: CallRoom, participant: CallParticipant, role: str) -> dict[str, Any]:
        """ICE servers (with this user's own TURN credentials), the relay policy and the room."""
        config = settings()
        return {"iceServers": ice_servers(config, participant.user_id, room.data.get("ends_at")),
                "iceTransportPolicy": config.ice_transport_policy,
                "room": room.name, "conversationId": room.conversation_id, "role": role,
                "me": {"id": participant.user_id, "name": participant.display_name}}

    def end_room(self, room: CallRoom) -> None:
        """Tell every browser in the call to hang up (once: an ended room stays ended)."""
        if room.data.get("ended"):
            return
        current_app.extensions["socketio"].emit(
            END_EVENT, {"conversation_id": room.conversation_id, "room": room.name},
            to=webrtc_room(room.conversation_id))
        room.data["ended"] = True

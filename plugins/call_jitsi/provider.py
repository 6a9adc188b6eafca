"""The "jitsi" call provider: a room name per conversation and a signed token per join (self-hosted Jitsi Meet).

Jitsi creates a room when the first person joins and closes it when the last one leaves, so there is
nothing to create or delete on the server: `create_room` only chooses an unguessable, stable name,
and the token (Jitsi's documented token authentication, lib-jitsi-meet doc/tokens.md) decides who
may enter which room and until when.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
from flask import url_for

from core.api import (
    CALL_ROLES,
    CallConversation,
    CallParticipant,
    CallProvider,
    CallProviderError,
    CallRoom,
    plugin_settings,
)

from .settings import JitsiSettings

MODERATOR_ROLES = frozenset({"facilitator", "admin"})
CLOCK_SKEW_SECONDS = 30
NO_SERVER_FEATURES = {"livestreaming": "false", "recording": "false", "transcription": "false",
                      "outbound-call": "false"}
"""Jitsi's own recording, streaming, transcription and dial-out stay off: oss-connect records with consent."""


def _digest(secret: str, message: str, length: int) -> str:
    """HMAC-SHA256 of `message`, as `length` lowercase base32 characters (URL-safe, no padding)."""
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().rstrip("=").lower()[:length]


def room_name_for(settings: JitsiSettings, conversation_uid: str) -> str:
    """The conversation's room: the prefix and 32 base32 characters (160 bits) keyed by the app secret."""
    return settings.room_prefix + _digest(settings.app_secret.get_secret_value(), f"room:{conversation_uid}", 32)


def participant_id(settings: JitsiSettings, room_name: str, user_id: int) -> str:
    """A pseudonym for the user in this room only, so the Jitsi server cannot link conversations."""
    return "p-" + _digest(settings.app_secret.get_secret_value(), f"user:{room_name}:{user_id}", 16)


def make_token(settings: JitsiSettings, room_name: str, participant: CallParticipant, role: str,
               now: float | None = None) -> str:
    """A JWT that lets `participant` into `room_name` only, as moderator when facilitator or admin."""
    issued = int(time.time() if now is None else now)
    name = participant.display_name.strip() or role.capitalize()
    claims = {
        "aud": settings.audience,
        "iss": settings.app_id,
        "sub": settings.host,
        "room": room_name,
        "iat": issued,
        "nbf": issued - CLOCK_SKEW_SECONDS,
        "exp": issued + settings.token_ttl_minutes * 60,
        "context": {
            # every user field is a string: prosody's mod_presence_identity copies them into XML text
            "user": {"id": participant_id(settings, room_name, participant.user_id), "name": name,
                     "moderator": "true" if role in MODERATOR_ROLES else "false"},
            "features": dict(NO_SERVER_FEATURES),
        },
    }
    return jwt.encode(claims, settings.app_secret.get_secret_value(), algorithm=settings.algorithm,
                      headers={"typ": "JWT"})


def current_settings() -> JitsiSettings:
    """The enabled plugin's settings; the plugin cannot run without its domain and secret."""
    settings = plugin_settings("call_jitsi")
    if settings is None:
        raise CallProviderError("the Jitsi call provider is not configured; enable `plugins: call_jitsi:` "
                                "with domain, app_id and app_secret (docs/call-jitsi.md)")
    return settings


class JitsiProvider(CallProvider):
    """Self-hosted Jitsi Meet in an iframe (IFrame API), entered with a short-lived signed token."""

    name = "jitsi"
    label = "Jitsi Meet (self-hosted, token authentication)"
    capabilities = frozenset({"video", "audio_only", "mute", "camera_off", "reconnect", "facilitator"})

    def __init__(self, settings: JitsiSettings | None = None):
        self._settings = settings

    @property
    def settings(self) -> JitsiSettings:
        """The settings given at construction (tests), else the enabled plugin's."""
        return self._settings if self._settings is not None else current_settings()

    def csp_sources(self) -> dict[str, list[str]]:
        """The Jitsi page in the iframe; its script too only when it is loaded from the server."""
        settings = self.settings
        sources = {"frame-src": [settings.base_url]}
        if settings.load_iframe_api_from_server:
            sources["script-src"] = [settings.base_url]
        return sources

    def client_scripts(self) -> list[str]:
        """The IFrame API (unless the server's own copy is used) and the adapter."""
        scripts = [] if self.settings.load_iframe_api_from_server else [
            url_for("call_jitsi.static", filename="external_api.js")]
        return [*scripts, url_for("call_jitsi.static", filename="jitsi.js")]

    def create_room(self, conversation: CallConversation) -> CallRoom:
        """Choose the room name; Jitsi creates the room itself when the first person joins."""
        settings = self.settings
        return CallRoom(provider=self.name, name=room_name_for(settings, conversation.uid),
                        conversation_id=conversation.id, data={"domain": settings.domain})

    def join_payload(self, room: CallRoom, participant: CallParticipant, role: str) -> dict[str, Any]:
        """Domain, room and a token for this participant; no email, no avatar."""
        if role not in CALL_ROLES:
            raise CallProviderError(f"unknown call role {role!r} (expected one of {', '.join(CALL_ROLES)})")
        settings = self.settings
        payload: dict[str, Any] = {"domain": settings.domain, "room": room.name,
                                   "jwt": make_token(settings, room.name, participant, role)}
        if settings.load_iframe_api_from_server:
            payload["script_url"] = f"{settings.base_url}/external_api.js"
        return payload

    def end_room(self, room: CallRoom) -> None:
        """Nothing to do: Jitsi closes an empty room by itself and the tokens expire (idempotent)."""
        return None

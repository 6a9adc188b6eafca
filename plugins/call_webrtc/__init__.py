"""call_webrtc: the default call provider, "webrtc": audio and video browser to browser, no third party.

Signalling runs over the site's own Socket.IO (`webrtc_signal`); ICE servers come from the config
(none by default: direct connections), with short-lived TURN credentials made from coturn's
shared secret for internet deployments. Every option and a coturn configuration: docs/call-webrtc.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint

from core.api import CONVERSATION_VIEWERS, STATIC, hookimpl
from plugins.call_webrtc.provider import WebrtcProvider
from plugins.call_webrtc.settings import WebrtcSettings
from plugins.call_webrtc.signalling import register_handlers


@hookimpl
def register_config_schema() -> type[WebrtcSettings]:
    """call_webrtc's settings."""
    return WebrtcSettings


@hookimpl
def register_call_providers() -> list[Any]:
    """The "webrtc" provider."""
    return [WebrtcProvider()]


@hookimpl
def register_blueprints(app: Any) -> list[Blueprint]:
    """Serves static/webrtc.js at /plugins/call_webrtc/static/."""
    return [Blueprint("call_webrtc", __name__, static_folder=str(Path(__file__).parent / "static"),
                      static_url_path="/plugins/call_webrtc/static")]


@hookimpl
def register_socketio_handlers(socketio: Any) -> None:
    """The signalling events `webrtc_signal` and `webrtc_join`."""
    register_handlers(socketio)


@hookimpl
def register_access_policies() -> dict[str, Any]:
    """webrtc.js for anyone; the signalling events for those in the conversation's room (checked per event)."""
    return {"GET call_webrtc.static": STATIC,
            "webrtc_join": CONVERSATION_VIEWERS, "webrtc_signal": CONVERSATION_VIEWERS}

"""call_livekit: calls through a self-hosted LiveKit server (rooms and access tokens with livekit-api).

Select it with `room: {call_provider: livekit}`; its settings and the LiveKit side: docs/call-livekit.md.
The browser joins with LiveKit's own client (livekit-client's UMD build, vendored under static/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint

from core.api import STATIC as STATIC_FILES
from core.api import hookimpl

from .provider import LiveKitProvider
from .settings import LiveKitSettings

STATIC = Path(__file__).resolve().parent / "static"


@hookimpl
def register_config_schema() -> type[LiveKitSettings]:
    """call_livekit's settings."""
    return LiveKitSettings


@hookimpl
def register_call_providers() -> list[Any]:
    """The "livekit" provider."""
    return [LiveKitProvider()]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    """Serve the vendored LiveKit client and the adapter under /plugins/call_livekit/static/."""
    return [Blueprint("call_livekit", __name__, static_folder=str(STATIC),
                      static_url_path="/plugins/call_livekit/static")]


@hookimpl
def register_access_policies() -> dict[str, Any]:
    """The vendored client and the adapter are files anyone may fetch."""
    return {"GET call_livekit.static": STATIC_FILES}

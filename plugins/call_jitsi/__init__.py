"""call_jitsi: calls on a self-hosted Jitsi Meet server, embedded with its IFrame API and entered with JWTs.

Select it with `room: {call_provider: jitsi}`; its settings and the Jitsi side: docs/call-jitsi.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Blueprint

from core.api import STATIC as STATIC_FILES
from core.api import CallParticipant, CallProviderError, cli_app, hookimpl, plugin_settings

from .provider import JitsiProvider, make_token
from .roomsize import room_size
from .settings import JitsiSettings

STATIC = Path(__file__).resolve().parent / "static"
PROBE_ROOM = "oss-connect-check"


@hookimpl
def register_config_schema() -> type[JitsiSettings]:
    """call_jitsi's settings."""
    return JitsiSettings


@hookimpl
def register_call_providers() -> list[Any]:
    """The "jitsi" provider."""
    return [JitsiProvider()]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    """Serve the vendored IFrame API and the adapter under /plugins/call_jitsi/static/."""
    return [Blueprint("call_jitsi", __name__, static_folder=str(STATIC),
                      static_url_path="/plugins/call_jitsi/static")]


@hookimpl
def register_access_policies() -> dict[str, Any]:
    """The vendored scripts are files anyone may fetch."""
    return {"GET call_jitsi.static": STATIC_FILES}


@hookimpl
def register_cli_commands(cli: Any) -> None:
    """Add `oss-connect jitsi-check`."""

    @cli.command("jitsi-check")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help="The instance config.")
    @click.option("--room", default=PROBE_ROOM, show_default=True, help="The room to ask mod_muc_size about.")
    @click.pass_context
    def jitsi_check(ctx: click.Context, config_path: str | None, room: str) -> None:
        """Show the Jitsi settings in use and ask the server's /room-size endpoint about a room."""
        app = cli_app(ctx, config_path)
        with app.app_context():
            settings = plugin_settings("call_jitsi")
        click.echo(f"Jitsi Meet at {settings.base_url}: tokens {settings.algorithm}, iss {settings.app_id!r}, "
                   f"aud {settings.audience!r}, sub {settings.host!r}, valid {settings.token_ttl_minutes} minutes")
        if not settings.room_size_url:
            click.echo("room_size_url is not set: nothing to ask the server (docs/call-jitsi.md)")
            return
        token = make_token(settings, room, CallParticipant(0, "oss-connect check", "admin"), "admin")
        try:
            size = room_size(settings, room, token)
        except CallProviderError as error:
            click.echo(f"jitsi-check failed: {error}", err=True)
            ctx.exit(1)
        state = "does not exist (nobody is in it)" if size is None else f"has {size} participant(s)"
        click.echo(f"{settings.room_size_url}/room-size answers: room {room!r} {state}")

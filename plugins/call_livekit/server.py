"""LiveKit's RoomService (Twirp over HTTP) through livekit-api, as plain blocking calls with errors for people.

livekit-api is asyncio-based; each call here runs its own short event loop (in a helper thread when the
calling thread already runs one), so the rest of oss-connect stays synchronous.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from livekit import api

from core.api import CallProviderError

from .settings import LiveKitSettings

T = TypeVar("T")
KEY_HINT = ("check that plugins.call_livekit.api_key and api_secret are a pair listed under `keys:` in "
            "livekit.yaml (docs/call-livekit.md)")


def _run(settings: LiveKitSettings, call: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T:
    """Run `call(client)` with a fresh LiveKitAPI client and session; close both whatever happens."""

    async def main() -> T:
        client = api.LiveKitAPI(settings.api_url, settings.api_key, settings.secret, failover=False,
                                timeout=aiohttp.ClientTimeout(total=settings.request_timeout_seconds))
        try:  # livekit-api passes timeout=None per request, which turns aiohttp's session timeout off
            return await asyncio.wait_for(call(client), settings.request_timeout_seconds)
        finally:
            await client.aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # never nest event loops
        return pool.submit(asyncio.run, main()).result()


def _failure(settings: LiveKitSettings, action: str, error: BaseException) -> CallProviderError:
    """The error a person reads when the LiveKit server did not do `action`, with the likely fix."""
    where = f"the LiveKit server at {settings.api_url}"
    if isinstance(error, api.ServerError):
        detail = f"{error.status} {error.code}" + (f": {error.message}" if error.message else "")
        if error.status in (401, 403) or error.code in ("unauthenticated", "permission_denied"):
            return CallProviderError(f"{where} refused our API key when asked to {action} ({detail}); {KEY_HINT}")
        if error.code in ("unknown", "bad_route") and error.status in (404, 405):
            return CallProviderError(f"{where} does not answer like a LiveKit server when asked to {action} "
                                     f"({detail}); check plugins.call_livekit.api_url (or url): it must point "
                                     "at livekit-server itself or a proxy that passes /twirp/ to it")
        return CallProviderError(f"{where} could not {action} ({detail}); see the LiveKit server's log")
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return CallProviderError(f"{where} did not answer within {settings.request_timeout_seconds:g} seconds "
                                 f"when asked to {action}; check that livekit-server is running and reachable "
                                 "from this site, or raise plugins.call_livekit.request_timeout_seconds")
    reason = str(error) or type(error).__name__
    return CallProviderError(f"{where} could not be reached to {action} ({reason}); check that livekit-server is "
                             "running and that plugins.call_livekit.api_url (or url) points at it")


def create_room(settings: LiveKitSettings, name: str) -> dict[str, Any]:
    """Create the room `name` (LiveKit returns the existing room when it already exists); its sid and limits."""

    async def call(client: api.LiveKitAPI) -> Any:
        return await client.room.create_room(api.CreateRoomRequest(
            name=name, empty_timeout=settings.room_empty_timeout_seconds,
            departure_timeout=settings.room_empty_timeout_seconds,
            max_participants=settings.max_participants))

    try:
        room = _run(settings, call)
    except (TimeoutError, api.ServerError, aiohttp.ClientError, OSError) as error:
        raise _failure(settings, f"create the room {name}", error) from error
    return {"sid": room.sid, "max_participants": room.max_participants, "empty_timeout": room.empty_timeout}


def delete_room(settings: LiveKitSettings, name: str) -> bool:
    """Close the room `name` and disconnect everyone; False when the server no longer had it."""

    async def call(client: api.LiveKitAPI) -> Any:
        return await client.room.delete_room(api.DeleteRoomRequest(room=name))

    try:
        _run(settings, call)
    except api.ServerError as error:
        if error.code == "not_found":
            return False
        raise _failure(settings, f"close the room {name}", error) from error
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        raise _failure(settings, f"close the room {name}", error) from error
    return True


def list_rooms(settings: LiveKitSettings, names: list[str] | None = None) -> list[Any]:
    """The rooms the server has open now (only those in `names` when given), as livekit Room messages."""

    async def call(client: api.LiveKitAPI) -> Any:
        return await client.room.list_rooms(api.ListRoomsRequest(names=names or []))

    try:
        return list(_run(settings, call).rooms)
    except (TimeoutError, api.ServerError, aiohttp.ClientError, OSError) as error:
        raise _failure(settings, "list its rooms", error) from error

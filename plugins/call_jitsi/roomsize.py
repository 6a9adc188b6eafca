"""A client for prosody's mod_muc_size: `GET /room-size?room=NAME&domain=DOMAIN[&token=JWT]`.

Documented answers: 200 `{"participants": N}`, 404 when the room does not exist (nobody is in it),
403 when token verification is on and the token is refused, 400 without a query.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlencode

from core.api import CallProviderError

from .settings import JitsiSettings


def room_size(settings: JitsiSettings, room_name: str, token: str | None = None, timeout: float = 5.0) -> int | None:
    """How many people are in the room now (the focus not counted), or None when the room does not exist."""
    if not settings.room_size_url:
        raise CallProviderError("room_size_url is not set; set it to where prosody's mod_muc_size answers, "
                                "e.g. http://127.0.0.1:5280 (docs/call-jitsi.md)")
    query = {"room": room_name, "domain": settings.host}
    if token:
        query["token"] = token
    url = f"{settings.room_size_url}/room-size?{urlencode(query)}"
    shown = f"{settings.room_size_url}/room-size"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(10_000)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        if error.code == 403:
            raise CallProviderError(f"{shown} refused the token (403); check that app_id and app_secret match "
                                    "prosody's and that the server's clock is right") from None
        raise CallProviderError(f"{shown} answered HTTP {error.code}; check that mod_muc_size is enabled "
                                "on the conference component") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CallProviderError(f"cannot reach {shown}: {reason}; check room_size_url and that prosody's "
                                "HTTP port is reachable from this server") from None
    try:
        participants = json.loads(body)["participants"]
    except (ValueError, KeyError, TypeError):
        raise CallProviderError(f"{shown} did not answer {{\"participants\": N}}; is room_size_url pointing "
                                "at prosody's mod_muc_size?") from None
    if not isinstance(participants, int) or participants < 0:
        raise CallProviderError(f"{shown} answered an invalid participant count: {participants!r}")
    return participants

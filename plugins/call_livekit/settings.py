"""The settings under `plugins: call_livekit:`: the LiveKit server's addresses and the API key pair we share."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, field_validator, model_validator

from core.api import Field, Section

MIN_SECRET = 32
_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SECRET_HINT = ("generate a key pair with `livekit-server generate-keys` (or a secret with "
                "`openssl rand -base64 48`), put it under `keys:` in livekit.yaml and here as ${LIVEKIT_API_SECRET}")
_API_SCHEME = {"wss": "https", "ws": "http"}


def _split(value: str, schemes: tuple[str, ...], example: str, key: str) -> str:
    """`value` as a base URL with one of `schemes` and a host, no query or fragment, no trailing slash."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in schemes:
        scheme = parts.scheme.lower() or "no scheme"
        wanted = " or ".join(f"{name}://" for name in schemes)
        suggestion = urlunsplit((schemes[0], parts.netloc or parts.path.split("/")[0] or example.split("://")[1],
                                 parts.path if parts.netloc else "", "", "")).rstrip("/")
        raise ValueError(f"the address must start with {wanted} (got {scheme}); write `{key}: {suggestion}`")
    if not parts.hostname:
        raise ValueError(f"must be an address with a host name such as {example}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"must be a plain base address such as {example} (no query, fragment or password)")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", "")).rstrip("/")


class LiveKitSettings(Section):
    """Settings under `plugins: call_livekit:` (docs/call-livekit.md)."""

    url: str = Field(..., description="The LiveKit server's WebSocket address that browsers connect to, like "
                                      "wss://livekit.example.org (ws:// only for a server on this machine).")
    api_url: str | None = Field(None, description="Where this site calls LiveKit's server API, like "
                                                  "http://127.0.0.1:7880; by default url with wss:// made "
                                                  "https:// (ws:// made http://).")
    api_key: str = Field(..., min_length=1, max_length=200,
                         description="The API key from the `keys:` of livekit.yaml (the tokens' iss).")
    api_secret: SecretStr = Field(..., description="The secret of that API key, as ${LIVEKIT_API_SECRET}. "
                                                   "It signs every token.")
    token_ttl_minutes: int = Field(240, ge=5, le=1440, description="How long a join token lets its holder "
                                                                   "join or rejoin the call, in minutes.")
    room_empty_timeout_seconds: int = Field(600, ge=10, le=86400,
                                            description="LiveKit closes a room after it has been empty this "
                                                        "long (and the room is made again on the next join).")
    max_participants: int = Field(4, ge=2, le=50, description="Most people in one room at once: the two "
                                                              "participants, a facilitator and an observing admin.")
    request_timeout_seconds: float = Field(10, ge=1, le=120,
                                           description="How long a call to LiveKit's server API may take.")

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        """A ws:// or wss:// base address."""
        return _split(value, ("wss", "ws"), "wss://livekit.example.org", "url")

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """An http(s):// base address, or None for the default."""
        if value is None or not value.strip():
            return None
        return _split(value, ("https", "http"), "http://127.0.0.1:7880", "api_url")

    @field_validator("api_key")
    @classmethod
    def _plain_key(cls, value: str) -> str:
        """Letters, digits, dots, dashes and underscores: what livekit-server generate-keys writes."""
        if not _KEY.match(value):
            raise ValueError("must be the API key exactly as in livekit.yaml (letters, digits, '.', '-', '_', "
                             "no spaces)")
        return value

    @field_validator("api_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        """LiveKit refuses secrets shorter than 32 characters; a short HMAC key can be guessed from one token."""
        if len(value.get_secret_value()) < MIN_SECRET:
            raise ValueError(f"the API secret is too short (at least {MIN_SECRET} characters); {_SECRET_HINT}")
        return value

    @model_validator(mode="after")
    def _default_api_url(self) -> LiveKitSettings:
        """Derive api_url from url when it is not given."""
        if self.api_url is None and self.url:
            scheme, rest = self.url.split("://", 1)
            self.api_url = f"{_API_SCHEME[scheme]}://{rest}"
        return self

    @property
    def secret(self) -> str:
        """The API secret in clear, for signing."""
        return self.api_secret.get_secret_value()

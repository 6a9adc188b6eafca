"""The settings under `plugins: call_jitsi:`: the Jitsi server and the token secret it shares with us."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationInfo, field_validator

from core.api import Field, Section

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_MIN_SECRET = {"HS256": 32, "HS384": 48, "HS512": 64}
_SECRET_HINT = ("generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(64))', "
                "put it in prosody's app_secret and here as ${JITSI_APP_SECRET}")


class JitsiSettings(Section):
    """Settings under `plugins: call_jitsi:` (docs/call-jitsi.md)."""

    domain: str = Field(..., description="The host name of your Jitsi Meet server, like meet.example.org "
                                         "(a :port may follow). The site embeds https://DOMAIN.")
    app_id: str = Field(..., min_length=1, max_length=200,
                        description="The app_id of prosody's token authentication. It is the tokens' iss.")
    algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        "HS256", description="Token signature; HS256 unless prosody sets another signature_algorithm.")
    app_secret: SecretStr = Field(..., description="The app_secret of prosody's token authentication, "
                                                   "as ${JITSI_APP_SECRET}. It signs the tokens.")
    audience: str = Field("jitsi", min_length=1, max_length=200,
                          description="The tokens' aud; prosody accepts it via asap_accepted_audiences.")
    token_ttl_minutes: int = Field(180, ge=5, le=1440, description="How long a token lets its holder join "
                                                                   "or rejoin, in minutes.")
    room_prefix: str = Field("", max_length=24, pattern=r"^[a-z0-9-]*$",
                             description="Put before every room name (lowercase letters, digits, hyphens).")
    load_iframe_api_from_server: bool = Field(
        False, description="Load external_api.js from your Jitsi server instead of the copy this plugin "
                           "ships (then the room page's script-src names your server).")
    room_size_url: str | None = Field(
        None, description="Base URL where prosody's mod_muc_size answers /room-size, e.g. "
                          "http://127.0.0.1:5280; used by `oss-connect jitsi-check` only.")

    @field_validator("domain", mode="before")
    @classmethod
    def _plain_host(cls, value: object) -> object:
        """A host name (and port), not a URL: the https base URL is derived from it."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if "://" in text or "/" in text or "?" in text or "#" in text:
            parts = urlsplit(text if "://" in text else f"https://{text}")
            suggestion = parts.netloc.lower() or "meet.example.org"
            raise ValueError(f"a host name is expected, not a URL ({text!r} has a scheme or path); "
                             f"write `domain: {suggestion}` (the site derives https://{suggestion} from it)")
        host, _, port = text.lower().partition(":")
        if not _HOST.match(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise ValueError("must be a host name like meet.example.org, optionally with :port")
        return text.lower()

    @field_validator("app_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        """An HMAC key shorter than its hash (RFC 7518 3.2) can be guessed offline from one token."""
        algorithm = info.data.get("algorithm", "HS256")
        needed = _MIN_SECRET[algorithm]
        if len(value.get_secret_value().encode()) < needed:
            which = "" if algorithm == "HS256" else f" for {algorithm}"
            raise ValueError(f"the app secret is too short{which} (at least {needed} characters); {_SECRET_HINT}")
        return value

    @field_validator("room_size_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """An http(s) base URL without query."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("must be an http(s) base URL such as http://127.0.0.1:5280")
        return value.rstrip("/")

    @property
    def host(self) -> str:
        """The domain without its port: the tokens' sub and the XMPP domain."""
        return self.domain.partition(":")[0]

    @property
    def base_url(self) -> str:
        """https://DOMAIN, where the Jitsi Meet web app (and its iframe) lives."""
        return f"https://{self.domain}"

"""call_webrtc's settings: ICE servers from YAML, optional TURN with short-lived credentials, the relay policy."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr, field_validator, model_validator

from core.api import Field, Section

ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
TURN_SCHEMES = ("turn:", "turns:")


def _url_list(value: Any) -> Any:
    """Check every URL of a `urls` value (one string or a list of them) names a STUN or TURN server."""
    urls = [value] if isinstance(value, str) else value
    if isinstance(urls, list):
        for url in urls:
            if isinstance(url, str) and not url.strip().lower().startswith(ICE_SCHEMES):
                raise ValueError(f"not a STUN or TURN URL: {url!r}; write it as stun:HOST:PORT, stuns:HOST:PORT, "
                                 "turn:HOST:PORT?transport=udp or turns:HOST:PORT (e.g. stun:stun.example.org:3478)")
    return value


def _all_urls(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class IceServer(Section):
    """One entry of `ice_servers`: what the browser's RTCPeerConnection gets as is."""

    urls: str | list[str] = Field(..., description="A stun:, stuns:, turn: or turns: URL, or a list of them.")
    username: str | None = Field(None, max_length=200, description="TURN user name (fixed; prefer `turn:`).")
    credential: str | None = Field(None, max_length=200, description="TURN password (fixed; prefer `turn:`).")

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: str | list[str]) -> str | list[str]:
        if not _all_urls(value):
            raise ValueError("no URL given; write at least one, e.g. urls: stun:stun.example.org:3478")
        return _url_list(value)

    @model_validator(mode="after")
    def _turn_needs_credentials(self) -> IceServer:
        if any(url.lower().startswith(TURN_SCHEMES) for url in _all_urls(self.urls)) and \
                (self.username is None or self.credential is None):
            raise ValueError("a turn: or turns: URL needs a username and a credential (browsers refuse it without); "
                             "add them, or better use the `turn:` section for short-lived credentials")
        return self

    def browser(self) -> dict[str, Any]:
        """The entry as the browser's RTCIceServer dictionary."""
        entry: dict[str, Any] = {"urls": self.urls}
        if self.username is not None:
            entry["username"] = self.username
        if self.credential is not None:
            entry["credential"] = self.credential
        return entry


class TurnSettings(Section):
    """A coturn server with `use-auth-secret`: each browser gets credentials valid for `ttl_minutes`."""

    urls: list[str] = Field(..., min_length=1, description="The TURN server's URLs, e.g. "
                                                           "turn:turn.example.org:3478?transport=udp and "
                                                           "turns:turn.example.org:5349?transport=tcp.")
    secret: SecretStr = Field(..., description="coturn's static-auth-secret; write ${TURN_SECRET} and set it in "
                                               "the environment.")
    ttl_minutes: int = Field(60, ge=5, le=1440, description="How long a browser's TURN credentials stay valid.")

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        if not any(url.strip().lower().startswith(TURN_SCHEMES) for url in _url_list(value)):
            raise ValueError("no turn: or turns: URL; write e.g. turn:turn.example.org:3478?transport=udp")
        return value

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("the secret is too short (at least 16 characters); generate one with "
                             "`openssl rand -hex 32` and put the same value in coturn's static-auth-secret")
        return value


class WebrtcSettings(Section):
    """Settings under `plugins: call_webrtc:`."""

    ice_servers: list[IceServer] = Field(default_factory=list, max_length=10,
                                         description="STUN/TURN servers every browser uses as given; none: "
                                                     "direct connections only (a local network).")
    turn: TurnSettings | None = Field(None, description="A TURN server whose short-lived credentials the site "
                                                        "makes for each browser from a shared secret.")
    ice_transport_policy: Literal["all", "relay"] = Field("all", description="relay: media only through TURN "
                                                                             "(hides the participants' addresses).")

    @model_validator(mode="after")
    def _relay_needs_turn(self) -> WebrtcSettings:
        has_turn = self.turn is not None or any(
            url.lower().startswith(TURN_SCHEMES) for server in self.ice_servers for url in _all_urls(server.urls))
        if self.ice_transport_policy == "relay" and not has_turn:
            raise ValueError("ice_transport_policy relay needs a TURN server, or no call can connect; "
                             "add a `turn:` section, or write ice_transport_policy: all")
        return self

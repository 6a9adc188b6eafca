"""Short-lived TURN credentials, coturn's "TURN REST API" scheme (`use-auth-secret` + `static-auth-secret`).

The user name is `EXPIRY:USER` (EXPIRY in Unix seconds) and the password is
base64(HMAC-SHA1(secret, user name)); coturn recomputes the HMAC with the same secret and refuses a
user name whose EXPIRY has passed. No call to the TURN server is needed, and a leaked credential
stops working by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnCredentials:
    """A TURN user name and password, and when they stop working (Unix seconds)."""

    username: str
    credential: str
    expires_at: int


def turn_password(secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)): the password coturn expects for `username`."""
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_credentials(secret: str, user_id: int | str, ttl_seconds: int, now: float | None = None) -> TurnCredentials:
    """Credentials for `user_id` that coturn accepts until `ttl_seconds` from `now` (default: the clock)."""
    expires_at = int(time.time() if now is None else now) + int(ttl_seconds)
    username = f"{expires_at}:{user_id}"
    return TurnCredentials(username, turn_password(secret, username), expires_at)


def credentials_valid(secret: str, username: str, credential: str, now: float | None = None) -> bool:
    """What coturn checks: the password matches the user name and the user name's expiry is in the future."""
    expiry, _, _user = username.partition(":")
    if not expiry.isdigit():
        return False
    if int(expiry) <= int(time.time() if now is None else now):
        return False
    return hmac.compare_digest(turn_password(secret, username), credential)

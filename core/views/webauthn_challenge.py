"""The WebAuthn challenge between the options a browser asked for and its answer, kept in Flask's
session, single-use and short-lived."""

from __future__ import annotations

import time

from flask import session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

CHALLENGE_KEY = "webauthn_challenge"
LIFETIME_SECONDS = 300


def remember(challenge: bytes, purpose: str, user_id: int | None) -> None:
    """Keep the challenge of the options just sent, for `purpose` (register or sign_in)."""
    session[CHALLENGE_KEY] = {"challenge": bytes_to_base64url(challenge), "purpose": purpose, "user": user_id,
                              "at": int(time.time())}


def take(purpose: str, user_id: int | None) -> bytes | None:
    """The kept challenge, spent now; None when there is none, it expired, or it was for something else."""
    state = session.pop(CHALLENGE_KEY, None)
    if (not isinstance(state, dict) or state.get("purpose") != purpose or state.get("user") != user_id
            or not isinstance(state.get("at"), int) or time.time() - state["at"] > LIFETIME_SECONDS):
        return None
    return base64url_to_bytes(state["challenge"])

"""The half-signed-in state between a correct password (or emailed link) and the second factor.

Nothing here signs anyone in but `finish_sign_in`; until then the person is anonymous to every page.
The state lives in Flask's session for `accounts.mfa.pending_minutes` (`enrol_minutes` while a
required factor is being set up) and names the account by id and
session version, so a password reset or a sign-out everywhere in the meantime voids it.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, redirect, session, url_for
from werkzeug.wrappers import Response

from core import accounts
from core.mfa import factors
from core.models import User

PENDING_KEY = "mfa_pending"
SECOND_STEP, ENROL = "second_step", "enrol"


def begin_sign_in(user: User, next_path: str, remember: bool = False) -> Response:
    """After the first factor: sign in now, or ask for the second factor, or (for a role that needs one
    and has none) send the person to set one up first. Returns the redirect to follow."""
    if factors.has_second_factor(user):
        _remember_pending(user, SECOND_STEP, next_path, remember)
        return redirect(url_for("second_factor.second_step"))
    if factors.is_required(user):
        _remember_pending(user, ENROL, next_path, remember)
        return redirect(url_for("security.enrol"))
    accounts.start_session(user, remember=remember)
    return redirect(next_path)


def pending_user(stage: str) -> User | None:
    """The account waiting at `stage` (SECOND_STEP or ENROL), if the state is fresh and still valid."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict) or state.get("stage") != stage:
        return None
    mfa = current_app.extensions["oss_connect"].settings.accounts.mfa
    lifetime = (mfa.enrol_minutes if stage == ENROL else mfa.pending_minutes) * 60
    if not isinstance(state.get("at"), int | float) or time.time() - state["at"] > lifetime:
        session.pop(PENDING_KEY, None)
        return None
    user = User.get_or_none(User.id == state.get("user")) if isinstance(state.get("user"), int) else None
    if user is None or not user.is_active or user.session_version != state.get("version"):
        session.pop(PENDING_KEY, None)
        return None
    return user


def finish_sign_in(user: User) -> str:
    """Sign the waiting person in (a fresh session); the path they were going to."""
    state = session.get(PENDING_KEY) or {}
    next_path = state.get("next") if isinstance(state.get("next"), str) else url_for("auth.account")
    session.pop(PENDING_KEY, None)
    accounts.start_session(user, remember=bool(state.get("remember")))
    return next_path


def safe_next(target: str | None) -> str:
    """Only same-site paths may be redirect targets after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("auth.account")


def no_store(body: str | Response, status: int = 200) -> Response:
    """A page of the sign-in steps or the security settings: never kept in any cache."""
    response = body if isinstance(body, Response) else Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _remember_pending(user: User, stage: str, next_path: str, remember: bool) -> None:
    state: dict[str, Any] = {"user": user.id, "version": user.session_version, "stage": stage, "at": int(time.time()),
                             "next": next_path, "remember": bool(remember)}
    session.clear()  # nothing of an earlier visit carries over
    session[PENDING_KEY] = state

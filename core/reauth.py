"""Recent authentication: sensitive account changes need a sign-in or a "Confirm it's you" within
`accounts.sessions.reauth_minutes`.

The moment is kept on the server-side session row (UserSession.authenticated_at): set when the session
starts (a fresh sign-in counts as recent) and by the confirm page; a remembered device that resumes its
session does not refresh it. Views that change a second factor or sign out devices are wrapped in
`recent_authentication_required`, which sends the person to /account/confirm and back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from core import audit, sessions, throttle
from core.db import database, utcnow
from core.mfa import factors, totp
from core.models import User, UserSession
from core.security import verify_password

PASSWORD = "password"
ASK = "Confirm it's you first: for this change we need your password (or a code) again."


def window() -> dt.timedelta:
    """How long a sign-in or confirmation counts as recent (accounts.sessions.reauth_minutes)."""
    return dt.timedelta(minutes=current_app.extensions["oss_connect"].settings.accounts.sessions.reauth_minutes)


def recently_authenticated(max_age: dt.timedelta | None = None) -> bool:
    """True when this request's session proved who uses it (sign-in or confirmation) within `max_age`
    (default: the configured window)."""
    record = sessions.current()
    if record is None or record.authenticated_at is None:
        return False
    return utcnow() - record.authenticated_at <= (max_age or window())


def mark_authenticated(factor: str) -> None:
    """The person just proved who they are on this session (the confirm page) with `factor` (password,
    totp or passkey); written to the audit record as REAUTHENTICATED."""
    record = sessions.current()
    if record is None:
        return
    now = utcnow()
    with database.atomic():
        UserSession.update(authenticated_at=now).where(UserSession.id == record.id).execute()
        audit.record_event(audit.REAUTHENTICATED, actor_id=record.user_id, subject_id=record.user_id,
                           details={"session_id": record.id, "factor": factor})
    record.authenticated_at = now


@dataclass(frozen=True)
class Proof:
    """What checking a typed password (or code) found: ok, or the message to show and the HTTP status."""

    ok: bool
    message: str = ""
    status: int = 200
    factor: str = PASSWORD


WRONG_PASSWORD = "That is not your current password. Check it, or use “I forgot my password” after signing out."
WRONG_SECRET = "That is neither your password nor a current code from your authenticator app."


def check_password(user: User, password: str) -> Proof:
    """Check the signed-in person's password, throttled and locked exactly like sign-in (core.throttle):
    during a wait the password is not even checked."""
    attempt = throttle.start_sign_in(user.email)
    matched = attempt.refusal is None and verify_password(user.password_hash, password)
    throttle.record_outcome(attempt, user if matched else None)
    if attempt.refusal is not None:
        return Proof(False, attempt.refusal.message, 429)
    return Proof(True) if matched else Proof(False, WRONG_PASSWORD, 400)


def check_password_or_code(user: User, secret: str) -> Proof:
    """The confirm page: a current authenticator code (when the person has the app; counted and locked like
    the second step of signing in) or the password (throttled like sign-in)."""
    if factors.status(user).totp and totp.looks_like_code(secret):
        if factors.lock_remaining(user) is not None:
            return Proof(False, "Too many wrong codes: wait a few minutes, or use your password.", 429)
        if factors.verify_current_code(user, secret):
            return Proof(True, factor=factors.TOTP)
        factors.record_failure(user, factors.TOTP)
        return Proof(False, WRONG_SECRET + " Each code works once: enter the one your app shows now.", 400)
    proof = check_password(user, secret)
    if not proof.ok and proof.status == 400 and factors.status(user).totp:
        return Proof(False, WRONG_SECRET, 400)
    return proof


def recent_authentication_required(return_endpoint: str, anchor: str = "") -> Callable[[Any], Any]:
    """Decorate a view that a signed-in person may use only after a recent authentication.

    Without one, a GET goes to the confirm page and comes back to the same address; a POST (which
    cannot be replayed) comes back to `return_endpoint` (plus `anchor`) to press the button again;
    a JSON request gets 401 with the confirm page's address. Visitors who are not signed in pass
    through untouched: the half-signed-in enrolment (core.views.sign_in_flow) has just proved the
    password, and other views refuse them with login_required.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or recently_authenticated():
                return view(*args, **kwargs)
            return ask_again(url_for(return_endpoint) + anchor)

        return guarded

    return decorate


def ask_again(return_to: str) -> Response | tuple[Response, int]:
    """Send the person to "Confirm it's you": back to this address after a GET, else to `return_to`; a JSON
    request gets 401 with the confirm page's address instead."""
    back = request.full_path.rstrip("?") if request.method == "GET" else return_to
    confirm = url_for("reauth.confirm", next=back)
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(error=ASK, redirect=confirm), 401
    flash(ASK, "warning")
    return redirect(confirm)

"""The web side of server-side sessions: Flask-Login's user loader, the remember-me cookie, starting and
ending the session of the current browser.

Flask-Login's own remember cookie is never issued (login_user is called without remember); ours holds
`selector:validator` under the name and flags of REMEMBER_COOKIE_* in the app config.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask_login import LoginManager, login_user, logout_user

from core import audit, sessions
from core.db import database
from core.models import User, UserSession
from core.realtime import CURRENT_SESSION

NO_TOUCH_ENDPOINTS = frozenset({"sessions.status"})
"""Endpoints a page calls by itself (the idle warning's check): they do not count as activity."""

_COOKIE_TO_SET = "oss_remember_cookie"  # g attribute: a value to set, or "" to delete


def install(app: Flask, login_manager: LoginManager) -> None:
    """Resolve every request's user through its server-side session, and keep the remember cookie."""
    login_manager.user_loader(load_user)
    app.before_request(load_session)
    app.after_request(write_remember_cookie)


def load_session() -> None:
    """Before a request: find the session (touching it unless the endpoint is a status check), or
    resume a remembered device with a new key; a dead key is dropped from the cookie."""
    if request.endpoint is None or request.endpoint.endswith("static"):
        return
    remember = request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"])
    if sessions.SESSION_KEY not in session and not remember:
        return
    record = sessions.resolve(session.get(sessions.SESSION_KEY), touch=request.endpoint not in NO_TOUCH_ENDPOINTS)
    if record is None and remember:
        record = _resume(remember)
    if record is None and sessions.SESSION_KEY in session:
        session.pop(sessions.SESSION_KEY, None)
        session.pop("_user_id", None)
    g.setdefault(CURRENT_SESSION, record)


def _resume(cookie: str) -> UserSession | None:
    resumed = sessions.resume(cookie)
    if resumed is None:
        g.setdefault(_COOKIE_TO_SET, "")
        return None
    record, key, new_cookie = resumed
    if key is not None:
        session.clear()
        session[sessions.SESSION_KEY] = key
        session["_user_id"] = record.user.get_id()
        session["_fresh"] = False
        session.permanent = False
        g.setdefault(_COOKIE_TO_SET, new_cookie)
    else:  # the grace for a second tab: this request only
        session["_user_id"] = record.user.get_id()
    return record


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the user of the request's live session (HTTP or Socket.IO), else None."""
    if CURRENT_SESSION not in g:
        g.setdefault(CURRENT_SESSION, sessions.resolve(session.get(sessions.SESSION_KEY)))  # Socket.IO events
    record = g.get(CURRENT_SESSION)
    user = User.from_session_id(user_id)
    if record is None or user is None or record.user_id != user.id:
        return None
    return user


def write_remember_cookie(response: Response) -> Response:
    """After a request: set or delete the remember cookie when this request changed it."""
    value = g.get(_COOKIE_TO_SET)
    if value is None:
        return response
    config = current_app.config
    name = config["REMEMBER_COOKIE_NAME"]
    flags: dict[str, Any] = {"path": "/", "secure": config["REMEMBER_COOKIE_SECURE"],
                             "httponly": True, "samesite": config["REMEMBER_COOKIE_SAMESITE"]}
    if value:
        response.set_cookie(name, value, max_age=current_app.extensions["oss_connect"].settings.accounts.remember_days
                            * 86400, **flags)
    else:
        response.delete_cookie(name, **flags)
    return response


def start(user: User, remember: bool = False) -> UserSession:
    """Sign `user` in on this browser with a new server-side session (the previous one, if any, ends)."""
    previous = sessions.resolve(session.get(sessions.SESSION_KEY), touch=False) if has_request_context() else None
    with database.atomic():
        if previous is not None:
            sessions.end(previous, reason=None)
        started = sessions.create(user, remember=remember)
        audit.record_event(audit.SIGN_IN, actor_id=user.id, subject_id=user.id,
                           details={"session_id": started.record.id, "remembered": started.remember_cookie is not None})
    session.clear()
    login_user(user, remember=False)
    session[sessions.SESSION_KEY] = started.key
    session.permanent = False
    g.pop(CURRENT_SESSION, None)
    g.setdefault(CURRENT_SESSION, started.record)
    g.pop(_COOKIE_TO_SET, None)
    g.setdefault(_COOKIE_TO_SET, started.remember_cookie or ("" if _has_remember_cookie() else None))
    return started.record


def _has_remember_cookie() -> bool:
    return current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies


def end() -> None:
    """Sign this browser out: its session row ends (sockets included), both cookies are dropped."""
    record = g.get(CURRENT_SESSION) or sessions.resolve(session.get(sessions.SESSION_KEY), touch=False)
    if record is not None:
        with database.atomic():
            sessions.end(record, reason=sessions.SIGNED_OUT)
            audit.record_event(audit.SIGN_OUT, actor_id=record.user_id, subject_id=record.user_id,
                               details={"session_id": record.id})
    session.clear()
    logout_user()
    g.pop(CURRENT_SESSION, None)
    g.pop(_COOKIE_TO_SET, None)
    if _has_remember_cookie():
        g.setdefault(_COOKIE_TO_SET, "")

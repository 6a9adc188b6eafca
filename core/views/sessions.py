"""Sessions: the idle warning's status check and "stay signed in", and signing out other devices."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import accounts, reauth, sessions
from core.db import utcnow
from core.views.forms import TextForm

blueprint = Blueprint("sessions", __name__)


def _status() -> dict[str, Any]:
    """What the idle warning needs: seconds until the session ends, and whether activity moves that."""
    record = sessions.current()
    if record is None or not current_user.is_authenticated:
        return {"signed_in": False}
    now = utcnow()
    idle, _ = sessions.limits(record.user)
    in_room = sessions.in_room(record)
    remembered = bool(record.remember_selector)
    ends_at = min(record.idle_expires_at, record.absolute_expires_at)
    return {"signed_in": True,
            "seconds_left": max(0, int((ends_at - now).total_seconds())),
            "extendable": sessions.extendable(record),
            "warn": not (in_room or remembered),
            "warning_seconds": min(sessions.warning_seconds(), int(idle.total_seconds()) // 2)}


@blueprint.route("/session/status")
def status() -> Response:
    """The session's deadline, for the page's idle warning (this request does not count as activity)."""
    response = jsonify(_status())
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/session/extend", methods=["POST"])
def extend() -> Response | tuple[Response, int]:
    """"Stay signed in": count as activity now (CSRF-protected), and answer the new deadline."""
    record = sessions.current()
    if record is None or not current_user.is_authenticated:
        return jsonify({"signed_in": False, "error": "You are signed out. Sign in again to continue."}), 401
    sessions.keep_alive(record)
    return jsonify(_status())


@blueprint.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_one(session_id: int) -> Response:
    """Sign out one of my sessions (this device too, when it is the one chosen)."""
    if not TextForm().validate():
        flash("The form expired; try again.", "error")
        return redirect(url_for("auth.account") + "#sessions")
    mine = sessions.current()
    if mine is not None and mine.id == session_id:
        accounts.end_session()
        flash("You are signed out.", "success")
        return redirect(url_for("auth.login"))
    if not reauth.recently_authenticated():  # signing out another device: confirm it's you first
        return reauth.ask_again(url_for("auth.account") + "#sessions")
    if sessions.end_one(current_user.id, session_id, actor_id=current_user.id):
        flash("That device is signed out.", "success")
    else:
        flash("That session had already ended.", "success")
    return redirect(url_for("auth.account") + "#sessions")


@blueprint.route("/account/sessions/end-others", methods=["POST"])
@login_required
@reauth.recent_authentication_required("auth.account", "#sessions")
def end_others() -> Response:
    """Sign out every other device."""
    if not TextForm().validate():
        flash("The form expired; try again.", "error")
        return redirect(url_for("auth.account") + "#sessions")
    ended = sessions.end_others(current_user.id, sessions.REVOKED_BY_USER, actor_id=current_user.id)
    flash(f"Signed out everywhere else ({ended} {'session' if ended == 1 else 'sessions'}).", "success")
    return redirect(url_for("auth.account") + "#sessions")

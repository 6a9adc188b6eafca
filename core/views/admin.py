"""The admin area: an overview, the email outbox, resetting a person's second factor, and signing a
person (or everyone) out."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import outbox, sessions
from core.mfa import factors
from core.models import NewsletterSubscriber, User
from core.views.forms import ConfirmForm, EndEveryoneForm, EndPersonSessionsForm, PersonLookupForm

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed-in admins only; others get 403 (anonymous visitors are sent to sign in)."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.has_role("admin"):
            abort(403)
        return view(*args, **kwargs)

    return guarded


def _outbox_folder() -> Path:
    return Path(current_app.config["OSS_CONNECT_OUTBOX"])


@blueprint.route("/")
@admin_required
def index() -> str:
    """Counts that tell an admin how the instance is doing."""
    platform = current_app.extensions["oss_connect"]
    roles = {role: User.select().where(User.role == role).count() for role in ("participant", "facilitator", "admin")}
    subscribers = NewsletterSubscriber.select().where(
        NewsletterSubscriber.confirmed_at.is_null(False) & NewsletterSubscriber.unsubscribed_at.is_null()).count()
    return render_template("admin/index.html", roles=roles, subscribers=subscribers,
                           pending_jobs=platform.jobs.pending_count(), plugins=platform.config.plugins,
                           outbox_enabled=platform.settings.mail.backend == "outbox")


@blueprint.route("/outbox")
@admin_required
def outbox_list() -> str:
    """Every message written to the outbox, newest first."""
    return render_template("admin/outbox.html", messages=outbox.list_messages(_outbox_folder()))


@blueprint.route("/outbox/<message_id>")
@admin_required
def outbox_message(message_id: str) -> str:
    """One message: headers, the text part, and the HTML part in a sandboxed frame."""
    message = outbox.get_message(_outbox_folder(), message_id)
    if message is None:
        abort(404)
    return render_template("admin/outbox_message.html", message=message)


@blueprint.route("/outbox/<message_id>/html")
@admin_required
def outbox_message_html(message_id: str) -> Response:
    """The HTML part alone, sandboxed: no script, no network, framed only by the admin page."""
    message = outbox.get_message(_outbox_folder(), message_id)
    if message is None or message.html is None:
        abort(404)
    response = make_response(message.html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@blueprint.route("/second-factor")
@admin_required
def second_factor() -> tuple[str, int]:
    """Look a person up by email address and see their second factors, with a button to reset them."""
    form = PersonLookupForm(request.args, meta={"csrf": False})
    person = status = None
    person_sessions = 0
    if request.args and form.validate():
        person = User.by_email(form.email.data)
        if person is None:
            form.email.errors = ["No account has this address. Check it for typing mistakes."]
        else:
            status = factors.status(person)
            person_sessions = len(sessions.active_for(person.id))
    return render_template("admin/second_factor.html", form=form, person=person, status=status,
                           person_sessions=person_sessions, confirm=ConfirmForm(),
                           end_everyone=EndEveryoneForm()), 400 if form.errors else 200


@blueprint.route("/people/<int:user_id>/reset-second-factor", methods=["POST"])
@admin_required
def reset_second_factor(user_id: int) -> Response:
    """Remove every second factor of a person, email them and write it to the audit record."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    person = User.get_or_none(User.id == user_id)
    if person is None:
        abort(404)
    if factors.reset_second_factor(person, actor_id=current_user.id):
        flash("Their second factor is reset and they have been emailed. At their next sign-in they set up a new one"
              + (" (their role needs one)." if factors.is_required(person) else " if they want to."), "success")
    else:
        flash("This person had no second factor: nothing was changed.", "success")
    return redirect(url_for("admin.second_factor", email=person.email))


@blueprint.route("/sessions/end-person", methods=["POST"])
@admin_required
def end_sessions() -> Response:
    """Sign the person whose id the form names out on every device (their sockets closed at once); audited
    with the admin as actor. (The id is in the form, not the address: the button sits on the look-up page.)"""
    form = EndPersonSessionsForm()
    if not form.validate_on_submit():
        flash(" ".join(form.user_id.errors) or "The form expired. Try again.", "error")
        return redirect(url_for("admin.second_factor"))
    person = User.get_or_none(User.id == form.user_id.data)
    if person is None:
        flash("No account has this id any more: look the person up again by email address.", "error")
        return redirect(url_for("admin.second_factor"))
    ended = sessions.end_others(person.id, sessions.ENDED_BY_ADMIN, actor_id=current_user.id)
    flash(f"{person.email} is signed out everywhere ({_count(ended)} ended)."
          + (" Your own session here stays." if person.id == current_user.id else ""), "success")
    return redirect(url_for("admin.second_factor", email=person.email))


@blueprint.route("/sessions/end-all", methods=["POST"])
@admin_required
def end_all_sessions() -> Response:
    """Sign everyone out (every account, every device), except this admin's session; the box must be ticked."""
    form = EndEveryoneForm()
    if not form.validate_on_submit():
        flash(" ".join(form.confirm.errors) or "The form expired. Try again.", "error")
        return redirect(url_for("admin.second_factor"))
    mine = sessions.current()
    ended = sessions.end_everyone(sessions.ENDED_BY_ADMIN, actor_id=current_user.id,
                                  keep=mine.id if mine is not None else None)
    flash(f"Everyone is signed out ({_count(ended)} ended); your own session here stays.", "success")
    return redirect(url_for("admin.second_factor"))


def _count(ended: int) -> str:
    return f"{ended} session{'s' if ended != 1 else ''}"

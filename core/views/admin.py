"""The admin area: an overview and the email outbox."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, make_response, render_template
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import outbox
from core.models import NewsletterSubscriber, User

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

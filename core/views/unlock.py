"""The emailed unlock link of an account locked after failed sign-ins: GET shows a button, POST unlocks."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from werkzeug.wrappers import Response

from core import accounts, throttle
from core.views.forms import ConfirmForm

blueprint = Blueprint("unlock", __name__)


@blueprint.route("/unlock/<token>", methods=["GET", "POST"], endpoint="confirm")
def confirm(token: str) -> str | Response | tuple[str, int]:
    """GET shows a button (mail scanners only GET); POST spends the single-use link and lifts the lock."""
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        if throttle.unlock(token) is None:
            return render_template("auth/link_invalid.html", kind="unlock"), 400
        return render_template("auth/unlocked.html", login_url=url_for("auth.login"),
                               reset_url=url_for("auth.reset_request"))
    if accounts.peek_token(token, throttle.UNLOCK) is None:
        return render_template("auth/link_invalid.html", kind="unlock"), 400
    return render_template("auth/confirm_link.html", form=form, kind="unlock",
                           heading="Unlock your account", button="Unlock my account")

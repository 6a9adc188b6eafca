"""Change the password (/account/password): the current one and the new one; every other device is
signed out and this one gets a fresh session."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import accounts, reauth, sessions
from core.views.forms import ChangePasswordForm
from core.views.sign_in_flow import no_store

blueprint = Blueprint("password", __name__)


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
def change() -> Response:
    """The form; a right current password and an acceptable new one change it."""
    user = current_user._get_current_object()
    if not user.password_hash:
        return no_store(render_template("auth/change_password.html", form=None))
    form = ChangePasswordForm()
    form.user_inputs = (user.email, user.display_name)
    error = None
    status = 200
    if form.validate_on_submit():
        proof = reauth.check_password(user, form.current.data)
        if proof.ok:
            record = sessions.current()
            ended = accounts.change_password(user, form.password.data)
            accounts.start_session(user, remember=bool(record is not None and record.remember_selector))
            others = f"{ended} other device{'s' if ended != 1 else ''}" if ended else "no other device"
            flash(f"Your password is changed. Signed out everywhere else ({others} was signed in).", "success")
            return redirect(url_for("auth.account"))
        form.current.errors = [proof.message]
        status = proof.status
    elif request.method == "POST":
        if not form.errors or "csrf_token" in form.errors:
            error = "The form expired. Enter the passwords again."
        status = 400
    return no_store(render_template("auth/change_password.html", form=form, error=error), status)

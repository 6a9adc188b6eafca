"""\"Confirm it's you\" (/account/confirm): the password, or a current authenticator code, again before a
sensitive change (core.reauth); then back to where the person was going."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import reauth
from core.mfa import factors
from core.views.forms import ProveItIsYouForm
from core.views.sign_in_flow import no_store, safe_next

blueprint = Blueprint("reauth", __name__)


@blueprint.route("/account/confirm", methods=["GET", "POST"])
@login_required
def confirm() -> Response:
    """Ask for the password (or a code from the authenticator app, when the person has one) and return to
    `next` (a path of this site) once it is right."""
    next_path = safe_next(request.args.get("next"))
    has_app = factors.status(current_user).totp
    form = ProveItIsYouForm()
    if not has_app:
        form.secret.label.text = "Your password"
    error = None
    status = 200
    if form.validate_on_submit():
        proof = reauth.check_password_or_code(current_user, form.secret.data)
        if proof.ok:
            reauth.mark_authenticated()
            return redirect(next_path)
        form.secret.errors = [proof.message]
        status = proof.status
    elif request.method == "POST":
        if not form.errors or "csrf_token" in form.errors:
            error = "The form expired. Enter your password again."
        status = 400
    return no_store(render_template("auth/confirm_it_is_you.html", form=form, error=error, has_app=has_app,
                                    next_path=next_path, has_password=bool(current_user.password_hash)), status)

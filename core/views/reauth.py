"""\"Confirm it's you\" (/account/confirm): the password, a current authenticator code or one of the
person's passkeys, again before a sensitive change (core.reauth); then back to where the person was going."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import reauth
from core.mfa import factors
from core.mfa.passkeys import PasskeyError
from core.views import webauthn_challenge
from core.views.forms import ProveItIsYouForm
from core.views.sign_in_flow import no_store, safe_next

blueprint = Blueprint("reauth", __name__)

CONFIRM = "confirm"


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
            reauth.mark_authenticated(proof.factor)
            return redirect(next_path)
        form.secret.errors = [proof.message]
        status = proof.status
    elif request.method == "POST":
        if not form.errors or "csrf_token" in form.errors:
            error = "The form expired. Enter your password again."
        status = 400
    return no_store(render_template("auth/confirm_it_is_you.html", form=form, error=error, has_app=has_app,
                                    has_passkey=bool(factors.status(current_user).passkeys), next_path=next_path,
                                    has_password=bool(current_user.password_hash)), status)


@blueprint.route("/account/confirm/passkey/options", methods=["POST"])
@login_required
def passkey_options() -> Response:
    """WebAuthn options to confirm with one of the person's own passkeys (JSON)."""
    options, challenge = factors.passkey_authentication_options(current_user)
    webauthn_challenge.remember(challenge, CONFIRM, current_user.id)
    return no_store(jsonify(options))


@blueprint.route("/account/confirm/passkey", methods=["POST"])
@login_required
def passkey_confirm() -> Response | tuple[Response, int]:
    """Check the browser's passkey answer (it must be one of this person's; wrong answers count like wrong
    codes); JSON {redirect} to `next`, or {error}."""
    payload = request.get_json(silent=True)
    payload = payload if isinstance(payload, dict) else {}
    challenge = webauthn_challenge.take(CONFIRM, current_user.id)
    if challenge is None:
        return jsonify(error="The passkey request expired. Try again."), 400
    if factors.lock_remaining(current_user) is not None:
        return jsonify(error="Too many wrong codes: wait a few minutes, or use your password."), 429
    try:
        factors.authenticate_passkey(payload.get("credential"), challenge, current_user)
    except PasskeyError:
        factors.record_failure(current_user, factors.PASSKEY)
        return jsonify(error="That passkey was not accepted. Use a passkey you registered here, or your "
                             "password."), 400
    reauth.mark_authenticated(factors.PASSKEY)
    next_path = payload.get("next") if isinstance(payload.get("next"), str) else None
    return no_store(jsonify(redirect=safe_next(next_path)))

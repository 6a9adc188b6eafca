"""The second step of signing in: an authenticator code, a recovery code or a passkey; and signing in
with a passkey alone (no password)."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from core import accounts
from core.mfa import factors
from core.mfa.passkeys import PasskeyError
from core.views import webauthn_challenge
from core.views.forms import SecondFactorForm
from core.views.sign_in_flow import SECOND_STEP, finish_sign_in, no_store, pending_user, safe_next

blueprint = Blueprint("second_factor", __name__)

SIGN_IN = "sign_in"
EXPIRED = "Your sign-in took too long or was interrupted. Enter your email address and password again."


@blueprint.route("/login/second-factor", methods=["GET", "POST"])
def second_step() -> Response:
    """Ask for a code from the authenticator app or a recovery code (or offer the person's passkey)."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    user = pending_user(SECOND_STEP)
    if user is None:
        flash(EXPIRED, "error")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    status = factors.status(user)
    error = None
    if form.validate_on_submit():
        result = factors.check_code(user, form.code.data)
        if result in (factors.CodeResult.ACCEPTED, factors.CodeResult.RECOVERY_ACCEPTED):
            next_path = finish_sign_in(user)
            if result is factors.CodeResult.RECOVERY_ACCEPTED:
                left = factors.status(user).recovery_left
                flash(f"You used a recovery code; {left} left. Each works once: set up your app or passkey "
                      "again, or make new codes, on your account's security page.", "warning")
            return redirect(next_path)
        error = _wrong_code_message(user, result)
        form.code.errors = [error]
    elif request.method == "POST" and (not form.errors or "csrf_token" in form.errors):
        error = "The page expired. Enter the code again."
    html = render_template("auth/second_factor.html", form=form, error=error, has_totp=status.totp,
                           has_passkey=bool(status.passkeys))
    return no_store(html, 400 if (form.errors or error) else 200)


def _wrong_code_message(user: Any, result: factors.CodeResult) -> str:
    remaining = factors.lock_remaining(user)
    if result is factors.CodeResult.LOCKED and remaining is not None:
        minutes = max(1, math.ceil(remaining.total_seconds() / 60))
        return (f"Too many wrong codes: the second step is locked for {minutes} more minute"
                f"{'s' if minutes != 1 else ''}. Wait, then try again, or ask an admin to reset your second factor.")
    return ("That code is not right, or it was already used. Enter the code your app shows now (each code works "
            "once), or one of your recovery codes.")


@blueprint.route("/login/passkey/options", methods=["POST"])
def passkey_options() -> Response:
    """WebAuthn options to sign in: the waiting person's passkeys, or any passkey (no password)."""
    user = pending_user(SECOND_STEP)
    options, challenge = factors.passkey_authentication_options(user)
    webauthn_challenge.remember(challenge, SIGN_IN, user.id if user else None)
    return no_store(jsonify(options))


@blueprint.route("/login/passkey", methods=["POST"])
def passkey_sign_in() -> Response | tuple[Response, int]:
    """Check the browser's passkey answer and sign in; JSON {redirect} or {error}."""
    if current_user.is_authenticated:
        return jsonify(redirect=url_for("auth.account"))
    payload = request.get_json(silent=True)
    credential = payload.get("credential") if isinstance(payload, dict) else None
    user = pending_user(SECOND_STEP)
    challenge = webauthn_challenge.take(SIGN_IN, user.id if user else None)
    if challenge is None:
        return jsonify(error="The passkey request expired. Try again."), 400
    if user is not None and factors.lock_remaining(user) is not None:
        return jsonify(error=_wrong_code_message(user, factors.CodeResult.LOCKED)), 429
    try:
        signed_in = factors.authenticate_passkey(credential, challenge, user)
    except PasskeyError:
        if user is not None:
            factors.record_failure(user, factors.PASSKEY)
        return jsonify(error="That passkey was not accepted. Use a passkey you registered here, or sign in "
                             "with your password."), 400
    if user is not None:
        next_path = finish_sign_in(signed_in)
    else:
        if not signed_in.is_verified:
            return jsonify(error="Confirm your email address first: use the link we sent you."), 400
        accounts.start_session(signed_in)
        next_path = safe_next(payload.get("next") if isinstance(payload, dict) else None)
    return no_store(jsonify(redirect=next_path))

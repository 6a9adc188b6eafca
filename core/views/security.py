"""The account's security page: the authenticator app, recovery codes and passkeys; and setting up a
second factor before signing in, for the roles that need one (accounts.mfa.required_roles)."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import sessions
from core.mfa import factors
from core.mfa.passkeys import PasskeyError
from core.models import User
from core.reauth import recent_authentication_required
from core.security import verify_password
from core.views import webauthn_challenge
from core.views.forms import ConfirmForm, PasskeyNameForm, ProveItIsYouForm, TotpConfirmForm
from core.views.sign_in_flow import ENROL, finish_sign_in, no_store, pending_user

blueprint = Blueprint("security", __name__, url_prefix="/account/security")

REGISTER = "register"
NEW_CODES_KEY = "mfa_new_codes"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _acting_user() -> tuple[User | None, bool]:
    """The signed-in person, or the one setting up a second factor before signing in (and whether so)."""
    if current_user.is_authenticated:
        return current_user._get_current_object(), False
    user = pending_user(ENROL)
    return user, user is not None


TOTP_SETUP = "totp_setup"
"""Flask's session key of an authenticator setup in progress: the account id and the sealed secret."""


def _last_required_factor(user: User) -> bool:
    """True when the role needs a second factor and only one is left."""
    status = factors.status(user)
    return factors.is_required(user) and int(status.totp) + len(status.passkeys) <= 1


@blueprint.route("")
@login_required
def overview() -> Response:
    """What is set up, and the forms to change it."""
    status = factors.status(current_user)
    other_devices = len(sessions.active_for(current_user.id)) - 1
    return no_store(render_template(
        "security/overview.html", status=status, required=factors.is_required(current_user),
        prove=ProveItIsYouForm(), other_devices=max(other_devices, 0)))


@blueprint.route("/enrol")
def enrol() -> Response:
    """Before signing in: a role that needs a second factor sets one up (app or passkey)."""
    user, pending = _acting_user()
    if user is None:
        flash("Your sign-in took too long or was interrupted. Enter your email address and password again.",
              "error")
        return redirect(url_for("auth.login"))
    if not pending:
        return redirect(url_for("security.overview"))
    return redirect(url_for("security.totp_setup"))


@blueprint.route("/totp", methods=["GET", "POST"])
@recent_authentication_required("security.overview")
def totp_setup() -> Response:
    """Set up an authenticator app: scan the QR code (or type the key), then confirm with a code."""
    user, pending = _acting_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    if factors.status(user).totp:
        flash("Your authenticator app is already set up. To use another one, turn it off first.", "success")
        return redirect(url_for("security.overview"))
    form = TotpConfirmForm()
    kept = session.get(TOTP_SETUP)
    secret, sealed = factors.totp_setup(kept["secret"] if isinstance(kept, dict) and kept.get("user") == user.id
                                        else None)
    session[TOTP_SETUP] = {"user": user.id, "secret": sealed}
    if form.validate_on_submit():
        codes = factors.confirm_totp(user, sealed, form.code.data)
        if codes is not None:
            session.pop(TOTP_SETUP, None)
            next_path = finish_sign_in(user) if pending else url_for("security.overview")
            if not codes:
                flash("Your authenticator app is set up.", "success")
                return redirect(next_path)
            return no_store(render_template("security/recovery_codes.html", codes=codes, next_path=next_path,
                                             first=True))
        form.code.errors = ["That code does not match. Check the time on your phone is right, then enter the code "
                            "your app shows now."]
    elif request.method == "POST" and not form.errors:
        abort(400)
    uri, svg = factors.totp_qr(user, secret)
    return no_store(render_template("security/totp_setup.html", form=form, secret=secret, uri=uri, qr=svg,
                                     pending=pending, required=factors.is_required(user)),
                     400 if form.errors else 200)


@blueprint.route("/totp/remove", methods=["POST"])
@login_required
@recent_authentication_required("security.overview")
def totp_remove() -> Response:
    """Turn the authenticator app off, with the password or a current code (refused when it is the last
    factor of a role that needs one)."""
    form = ProveItIsYouForm()
    if not form.validate_on_submit():
        flash("Enter your password or a current code to turn the authenticator app off.", "error")
        return redirect(url_for("security.overview"))
    if not factors.status(current_user).totp:
        return redirect(url_for("security.overview"))
    if _last_required_factor(current_user):
        flash("Your role needs a second factor: add a passkey before you turn the authenticator app off.", "error")
        return redirect(url_for("security.overview"))
    if factors.lock_remaining(current_user) is not None:
        flash("Too many wrong codes: wait a few minutes, then try again.", "error")
        return redirect(url_for("security.overview"))
    if not (factors.verify_current_code(current_user, form.secret.data)
            or verify_password(current_user.password_hash, form.secret.data)):
        factors.record_failure(current_user, factors.TOTP)
        flash("That is neither your password nor a current code. The authenticator app is still on.", "error")
        return redirect(url_for("security.overview"))
    factors.remove_totp(current_user)
    flash("The authenticator app is turned off.", "success")
    return redirect(url_for("security.overview"))


@blueprint.route("/recovery-codes", methods=["POST"])
@login_required
@recent_authentication_required("security.overview")
def recovery_codes() -> Response:
    """Make ten new recovery codes (the old ones stop working) and show them once."""
    form = ConfirmForm()
    if not form.validate_on_submit() or not factors.status(current_user).any:
        flash("Set up an authenticator app or a passkey first; recovery codes come with it.", "error")
        return redirect(url_for("security.overview"))
    codes = factors.regenerate_recovery_codes(current_user)
    return no_store(render_template("security/recovery_codes.html", codes=codes,
                                     next_path=url_for("security.overview"), first=False))


@blueprint.route("/recovery-codes/new")
@login_required
def new_recovery_codes() -> Response:
    """The recovery codes that came with a new passkey, shown once."""
    state = session.pop(NEW_CODES_KEY, None)
    if not isinstance(state, dict) or not state.get("codes"):
        return redirect(url_for("security.overview"))
    return no_store(render_template("security/recovery_codes.html", codes=state["codes"],
                                     next_path=state.get("next") or url_for("security.overview"), first=True))


@blueprint.route("/passkeys/options", methods=["POST"])
@recent_authentication_required("security.overview")
def passkey_options() -> Response | tuple[Response, int]:
    """WebAuthn options to register a new passkey (JSON)."""
    user, _ = _acting_user()
    if user is None:
        return jsonify(error="Sign in again to add a passkey."), 401
    options, challenge = factors.passkey_registration_options(user)
    webauthn_challenge.remember(challenge, REGISTER, user.id)
    return jsonify(options)


@blueprint.route("/passkeys", methods=["POST"])
@recent_authentication_required("security.overview")
def passkey_add() -> Response | tuple[Response, int]:
    """Check and store the browser's new passkey; JSON {redirect} or {error}."""
    user, pending = _acting_user()
    if user is None:
        return jsonify(error="Sign in again to add a passkey."), 401
    payload = request.get_json(silent=True)
    payload = payload if isinstance(payload, dict) else {}
    name = payload.get("name") if isinstance(payload.get("name"), str) else ""
    name = _CONTROL.sub("", name).strip()
    if len(name) > 60:
        return jsonify(error="Give the passkey a name of at most 60 characters."), 400
    challenge = webauthn_challenge.take(REGISTER, user.id)
    if challenge is None:
        return jsonify(error="The request expired. Try again."), 400
    try:
        codes = factors.add_passkey(user, payload.get("credential"), challenge, name or "Passkey")
    except PasskeyError:
        return jsonify(error="The passkey could not be registered. Try again, or use another device."), 400
    next_path = finish_sign_in(user) if pending else url_for("security.overview")
    if codes:
        session[NEW_CODES_KEY] = {"codes": codes, "next": next_path}
        return jsonify(redirect=url_for("security.new_recovery_codes"))
    flash("Your passkey is added.", "success")
    return jsonify(redirect=next_path)


@blueprint.route("/passkeys/<int:passkey_id>/rename", methods=["POST"])
@login_required
@recent_authentication_required("security.overview")
def passkey_rename(passkey_id: int) -> Response:
    """Rename one of my passkeys."""
    if not any(key.id == passkey_id for key in factors.status(current_user).passkeys):
        abort(404)  # someone else's passkey answers as one that does not exist, whatever the form holds
    form = PasskeyNameForm()
    if not form.validate_on_submit():
        flash(" ".join(form.name.errors) or "The form expired. Try again.", "error")
    elif factors.rename_passkey(current_user, passkey_id, _CONTROL.sub("", form.name.data)):
        flash("The passkey is renamed.", "success")
    return redirect(url_for("security.overview"))


@blueprint.route("/passkeys/<int:passkey_id>/remove", methods=["POST"])
@login_required
@recent_authentication_required("security.overview")
def passkey_remove(passkey_id: int) -> Response:
    """Remove one of my passkeys (refused when it is the last factor of a role that needs one)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if not any(key.id == passkey_id for key in factors.status(current_user).passkeys):
        abort(404)
    if _last_required_factor(current_user):
        flash("Your role needs a second factor: set up another one before you remove this passkey.", "error")
    elif factors.remove_passkey(current_user, passkey_id):
        flash("The passkey is removed.", "success")
    return redirect(url_for("security.overview"))

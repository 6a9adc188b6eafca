"""Accounts: sign up, verify, sign in and out, password reset, magic links, account page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import accounts, sessions, throttle
from core.timezones import sorted_time_zone_names
from core.views.forms import ConfirmForm, EmailOnlyForm, LoginForm, NewPasswordForm, SignupForm, TimeZoneForm
from core.views.sign_in_flow import begin_sign_in, safe_next

blueprint = Blueprint("auth", __name__)


@blueprint.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response:
    """Create an account; the verification link arrives by email."""
    if not current_app.extensions["oss_connect"].settings.accounts.allow_signup:
        return render_template("auth/signup_closed.html"), 403
    form = SignupForm()
    if form.validate_on_submit():
        accounts.sign_up(form.email.data, form.password.data)
        return render_template("auth/check_email.html", email=form.email.data, reason="signup")
    return render_template("auth/signup.html", form=form), 400 if form.errors else 200


@blueprint.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> str | Response:
    """GET shows a button; POST spends the token (mail scanners only GET)."""
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        user = accounts.verify_email(token)
        if user is None:
            return render_template("auth/link_invalid.html", kind="verification"), 400
        flash("Your email address is confirmed. Welcome! Next, tell us a little about yourself.", "success")
        return begin_sign_in(user, url_for("questionnaire.overview"))
    if accounts.peek_token(token, accounts.VERIFY) is None:
        return render_template("auth/link_invalid.html", kind="verification"), 400
    return render_template("auth/confirm_link.html", form=form, kind="verification",
                           heading="Confirm your email address", button="Confirm my address")


@blueprint.route("/verify/resend", methods=["GET", "POST"])
def resend_verification() -> str | Response:
    """Send a new verification link (same answer whether or not the address has an account)."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_link(accounts.VERIFY, form.email.data)
        return render_template("auth/check_email.html", email=form.email.data, reason="verify")
    return render_template("auth/email_only.html", form=form, heading="Send a new confirmation link",
                           button="Send the link"), 400 if form.errors else 200


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Sign in with email and password (then the second factor, when the account has one)."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        attempt = throttle.start_sign_in(form.email.data)  # refused: the password is not even checked
        user = None if attempt.refusal else accounts.authenticate(form.email.data, form.password.data)
        throttle.record_outcome(attempt, user)
        if attempt.refusal is not None:
            return render_template("auth/login.html", form=form, error=attempt.refusal.message), 429
        if user is None:
            error = "That email address and password do not match an account."
        elif not user.is_verified:
            error = "Confirm your email address first: use the link we sent you, or ask for a new one below."
        else:
            return begin_sign_in(user, safe_next(request.args.get("next")), remember=form.remember.data)
    status = 400 if (form.errors or error) else 200
    return render_template("auth/login.html", form=form, error=error), status


@blueprint.route("/logout", methods=["POST"])
def logout() -> Response:
    """Sign out (POST only, with CSRF token)."""
    accounts.end_session()
    flash("You are signed out.", "success")
    return redirect(url_for("public.landing"))


@blueprint.route("/reset", methods=["GET", "POST"])
def reset_request() -> str | Response:
    """Ask for a password-reset link."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_link(accounts.RESET, form.email.data)
        return render_template("auth/check_email.html", email=form.email.data, reason="reset")
    return render_template("auth/email_only.html", form=form, heading="Reset your password",
                           button="Send me a reset link"), 400 if form.errors else 200


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> str | Response:
    """Choose a new password with a reset link."""
    return _choose_password(token, accounts.RESET, "password reset", "auth.account",
                            "Your password is changed, and other devices are signed out.")


@blueprint.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str) -> str | Response:
    """An invited participant (e.g. imported by an admin) chooses a password, then confirms consent."""
    return _choose_password(token, accounts.INVITE, "invitation", "questionnaire.overview",
                            "Welcome! Your password is set.", heading="Welcome: choose a password",
                            button="Set my password")


def _choose_password(token: str, purpose: str, kind: str, next_endpoint: str, done: str,
                     **page: str) -> str | Response:
    """A single-use link's password form: checked on GET, spent on a valid POST, then signed in."""
    owner = accounts.peek_token(token, purpose)
    if owner is None:
        return render_template("auth/link_invalid.html", kind=kind), 400
    form = NewPasswordForm()
    form.user_inputs = (owner.email, owner.display_name)
    if form.validate_on_submit():
        user = accounts.set_password_with_token(token, form.password.data, purpose)
        if user is None:
            return render_template("auth/link_invalid.html", kind=kind), 400
        throttle.clear_account(user)  # a new password: earlier failed guesses and any lock no longer matter
        flash(done, "success")
        return begin_sign_in(user, url_for(next_endpoint))
    return render_template("auth/reset.html", form=form, **page), 400 if form.errors else 200


@blueprint.route("/magic", methods=["GET", "POST"])
def magic_request() -> str | Response:
    """Ask for a one-time sign-in link."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_link(accounts.MAGIC, form.email.data)
        return render_template("auth/check_email.html", email=form.email.data, reason="magic")
    return render_template("auth/email_only.html", form=form, heading="Sign in with a link by email",
                           button="Email me a sign-in link"), 400 if form.errors else 200


@blueprint.route("/magic/<token>", methods=["GET", "POST"])
def magic_login(token: str) -> str | Response:
    """GET shows a button; POST spends the single-use token and signs in."""
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        user = accounts.magic_login(token)
        if user is None:
            return render_template("auth/link_invalid.html", kind="sign-in"), 400
        return begin_sign_in(user, url_for("auth.account"))
    if accounts.peek_token(token, accounts.MAGIC) is None:
        return render_template("auth/link_invalid.html", kind="sign-in"), 400
    return render_template("auth/confirm_link.html", form=form, kind="sign-in",
                           heading="Sign in", button="Sign me in")


@blueprint.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response:
    """The signed-in person's account: address, role, time zone."""
    form = TimeZoneForm(obj=current_user)
    if form.validate_on_submit():
        current_user.time_zone = form.time_zone.data or None
        current_user.save()
        flash("Saved.", "success")
        return redirect(url_for("auth.account"))
    if request.method == "POST" and not form.errors:
        abort(400)
    zones = sorted_time_zone_names()
    return render_template("auth/account.html", form=form, zones=zones, sessions=sessions.active_for(current_user.id),
                           this_session=sessions.current()), 400 if form.errors else 200

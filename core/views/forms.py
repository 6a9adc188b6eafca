"""Flask-WTF forms for the public and account pages (every one carries a CSRF token)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, ValidationError

_EMAIL = [InputRequired("Enter your email address."),
          Email("Enter an email address like name@example.org.", check_deliverability=False),
          Length(max=254, message="An email address has at most 254 characters.")]


class MinimumPassword:
    """Password length from the config (accounts.password_min_length), at most 1024 characters."""

    def __call__(self, form: Any, field: Any) -> None:
        minimum = current_app.extensions["oss_connect"].settings.accounts.password_min_length
        value = field.data or ""
        if len(value) < minimum:
            raise ValidationError(f"Use at least {minimum} characters.")
        if len(value) > 1024:
            raise ValidationError("Use at most 1024 characters.")


class SignupForm(FlaskForm):
    """Create an account."""

    email = EmailField("Email address", validators=_EMAIL)
    password = PasswordField("Password", validators=[InputRequired("Choose a password."), MinimumPassword()])
    confirm = PasswordField("Repeat the password", validators=[
        InputRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")])


class LoginForm(FlaskForm):
    """Sign in with a password."""

    email = EmailField("Email address", validators=_EMAIL)
    password = PasswordField("Password", validators=[InputRequired("Enter your password."), Length(max=1024)])
    remember = BooleanField("Keep me signed in on this device")


class EmailOnlyForm(FlaskForm):
    """Ask for a link by email (reset, magic link, new verification link)."""

    email = EmailField("Email address", validators=_EMAIL)


class NewPasswordForm(FlaskForm):
    """Choose a new password."""

    password = PasswordField("New password", validators=[InputRequired("Choose a password."), MinimumPassword()])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")])


class ConfirmForm(FlaskForm):
    """A button that spends a single-use link (so mail scanners following GET links cannot)."""


class NewsletterForm(FlaskForm):
    """Stay informed."""

    email = EmailField("Email address", validators=_EMAIL)
    consent = BooleanField("I agree to receive these emails and have read the privacy notice",
                           validators=[InputRequired("Tick the box to agree, or we cannot send you news.")])


class TimeZoneForm(FlaskForm):
    """The account's own time zone."""

    time_zone = StringField("Time zone", validators=[Length(max=64)])

    def validate_time_zone(self, field: Any) -> None:
        import zoneinfo

        if field.data and field.data not in zoneinfo.available_timezones():
            raise ValidationError("Choose a time zone from the list, such as Europe/Berlin.")

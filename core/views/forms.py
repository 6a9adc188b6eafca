"""Flask-WTF forms for the public and account pages (every one carries a CSRF token)."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, has_request_context, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.csrf.core import CSRFTokenField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    ValidationError,
)

from core.ids import MAX_ID
from core.input_checks import multi_line_problem, normalise_line_breaks, not_utf8_problem, single_line_problem
from core.passwords import context_words, password_problems
from core.timezones import time_zone_names

_EMAIL = [InputRequired("Enter your email address."),
          Email("Enter an email address like name@example.org.", check_deliverability=False,
                allow_smtputf8=False),  # Flask-Mailman cannot deliver to non-ASCII local parts
          Length(max=254, message="An email address has at most 254 characters.")]


NUL_MESSAGE = "Remove the invisible NUL character (it often comes from pasting from another program)."


class TextForm(FlaskForm):
    """A form that reads its fields from the url-encoded or multipart body only.

    A JSON body or an uploaded file in place of a text field is treated as a missing value, so
    wrong types get the field's message (400) instead of reaching validators that expect strings.
    A NUL character, which no database stores in text (PostgreSQL refuses it), is refused at its
    field before any other check runs; so are control characters and bidi overrides: a text area
    keeps line breaks and tabs only, every other text field is one line (core.input_checks).
    """

    def validate(self, extra_validators: Any = None) -> bool:
        """Refuse NUL and other invisible characters at their fields first, then run the usual validation."""
        problems = {field.name: problem for field in self if (problem := invisible_character_problem(field))}
        if problems:
            for field in self:
                if field.name in problems:
                    field.errors = [problems[field.name]]
            return False
        return super().validate(extra_validators)

    class Meta:
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            explicit = formdata is None or hasattr(formdata, "getlist")
            if not explicit and has_request_context() and (request.is_json or request.files):
                return request.form if request.method in ("POST", "PUT", "PATCH", "DELETE") else None
            return super().wrap_formdata(form, formdata)


def invisible_character_problem(field: Field) -> str | None:
    """The message for a NUL, control character or bidi override in a text field's value, or None.

    Text areas have their Windows line breaks made plain first; password fields are only checked for NUL and
    for bytes that were not UTF-8.
    """
    if not isinstance(field.data, str) or isinstance(field, CSRFTokenField):
        return None
    if "\x00" in field.data:
        return NUL_MESSAGE
    if isinstance(field, PasswordField):
        return not_utf8_problem(field.data, "The password")
    label = f"“{_LABEL_NOTE.sub('', field.label.text)}”"
    if isinstance(field, TextAreaField):
        field.data = normalise_line_breaks(field.data)
        return multi_line_problem(field.data, label)
    return single_line_problem(field.data, label)


_LABEL_NOTE = re.compile(r"\s*\([^)]*\)\s*$")
"""A label's closing note such as "(optional)", left out when the label names the field in a message."""


class MinimumPassword:
    """The password policy from the config (accounts.password_min_length and password_min_score).

    The person's own details count as easy guesses: the form's email field if it has one, and any
    `user_inputs` the view sets on the form (the address and name of the account a link belongs to);
    so do the site's context words (core.passwords.context_words).
    """

    def __call__(self, form: Any, field: Any) -> None:
        settings = current_app.extensions["oss_connect"].settings.accounts
        email = getattr(getattr(form, "email", None), "data", None)
        own = [value for value in (email, *getattr(form, "user_inputs", ())) if isinstance(value, str)]
        problems = password_problems(field.data or "", own, min_length=settings.password_min_length,
                                     min_score=settings.password_min_score,
                                     site_words=context_words(current_app.extensions["oss_connect"].settings))
        if problems:
            raise ValidationError(problems[0])


class SignupForm(TextForm):
    """Create an account."""

    email = EmailField("Email address", validators=_EMAIL)
    password = PasswordField("Password", validators=[InputRequired("Choose a password."), MinimumPassword()])
    confirm = PasswordField("Repeat the password", validators=[
        InputRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")])


class LoginForm(TextForm):
    """Sign in with a password."""

    email = EmailField("Email address", validators=_EMAIL)
    password = PasswordField("Password", validators=[InputRequired("Enter your password."), Length(max=1024)])
    remember = BooleanField("Keep me signed in on this device")


class EmailOnlyForm(TextForm):
    """Ask for a link by email (reset, magic link, new verification link)."""

    email = EmailField("Email address", validators=_EMAIL)


class NewPasswordForm(TextForm):
    """Choose a new password."""

    password = PasswordField("New password", validators=[InputRequired("Choose a password."), MinimumPassword()])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")])


class ChangePasswordForm(TextForm):
    """Change the password: the current one, then the new one twice."""

    current = PasswordField("Current password", validators=[
        InputRequired("Enter your current password."), Length(max=1024, message="Use at most 1024 characters.")])
    password = PasswordField("New password", validators=[InputRequired("Choose a new password."), MinimumPassword()])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Repeat the new password."), EqualTo("password", "The two new passwords differ.")])


class ConfirmForm(TextForm):
    """A button that spends a single-use link (so mail scanners following GET links cannot)."""


class NewsletterForm(TextForm):
    """Stay informed."""

    email = EmailField("Email address", validators=_EMAIL)
    consent = BooleanField("I agree to receive these emails and have read the privacy notice",
                           validators=[InputRequired("Tick the box to agree, or we cannot send you news.")])


class TimeZoneForm(TextForm):
    """The account's own time zone."""

    time_zone = StringField("Time zone", validators=[Length(max=64)])

    def validate_time_zone(self, field: Any) -> None:
        """Only the zones the account page offers (core.timezones)."""
        if field.data and field.data not in time_zone_names():
            raise ValidationError("Choose a time zone from the list, such as Europe/Berlin.")


class ConsentForm(TextForm):
    """Explicit consent to process the questionnaire's answers, political views included."""

    agree = BooleanField("I agree", validators=[InputRequired(
        "Tick the box to agree. Without your consent we cannot store your answers.")])


class WithdrawForm(TextForm):
    """Withdraw consent, which erases every answer."""

    confirm = BooleanField("Yes, erase my answers", validators=[InputRequired("Tick the box to confirm.")])


class ArchiveChoicesForm(TextForm):
    """A participant's three choices about the recording (archive_choices); an unticked box is a no."""

    deposit = BooleanField("Deposit it at the archive")
    public = BooleanField("Publish it on this site")
    broadcast = BooleanField("Allow its use in broadcasts")


TERMS_MAX = 4000
"""The longest comma-separated list of terms a description field takes (the service checks each term)."""


_SUMMARY_MESSAGE = "Give a summary of 20 to 4000 characters: a few sentences about what you talked about."


def _one_line(value: Any) -> Any:
    """Runs of spaces and line breaks as one space (as the description service stores them)."""
    return " ".join(value.split()) if isinstance(value, str) else value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _terms_field(label: str) -> StringField:
    return StringField(label, validators=[Length(max=TERMS_MAX, message=f"Keep this under {TERMS_MAX} characters.")])


class DescriptionForm(TextForm):
    """A proposed description of the recording (archive_choices); the partner approves it.

    The lengths mirror core.archive.descriptions.propose, so an error shows at its field; each list
    field is checked term by term with clean_terms.
    """

    title = StringField("Title", filters=[_one_line], validators=[
        DataRequired("Give a title of 3 to 200 characters."),
        Length(min=3, max=200, message="Give a title of 3 to 200 characters.")])
    summary = TextAreaField("Summary", filters=[_stripped], render_kw={"rows": 6}, validators=[
        DataRequired(_SUMMARY_MESSAGE), Length(min=20, max=4000, message=_SUMMARY_MESSAGE)])
    keywords = StringField("Keywords", validators=[
        DataRequired("Give at least one keyword, e.g. family, faith, work."),
        Length(max=TERMS_MAX, message=f"Keep this under {TERMS_MAX} characters.")])
    people = _terms_field("People you talked about (optional)")
    places = TextAreaField("Places (optional)", render_kw={"rows": 3}, validators=[
        Length(max=TERMS_MAX, message=f"Keep this under {TERMS_MAX} characters.")])
    organisations = _terms_field("Organisations (optional)")
    languages = _terms_field("Languages you spoke (optional)")
    location = StringField("Where you were during the conversation (optional)", filters=[_one_line], validators=[
        Length(max=200, message="Keep the location under 200 characters, e.g. “Columbus, Ohio”.")])

    def validate_keywords(self, field: Any) -> None:
        self._check_terms(field, "keywords")

    def validate_people(self, field: Any) -> None:
        self._check_terms(field, "people")

    def validate_places(self, field: Any) -> None:
        self._check_terms(field, "places")

    def validate_organisations(self, field: Any) -> None:
        self._check_terms(field, "organisations")

    def validate_languages(self, field: Any) -> None:
        self._check_terms(field, "languages")

    def terms(self, facet: str) -> Any:
        """A list field's value as the description service takes it: places one per line (a place
        such as "Columbus, Ohio" has a comma), the others comma-separated text."""
        value = getattr(self, facet).data
        value = value if isinstance(value, str) else ""
        return [line for line in value.splitlines() if line.strip()] if facet == "places" else value

    def _check_terms(self, field: Any, facet: str) -> None:
        from core.archive.descriptions import DescriptionError, clean_terms

        try:
            terms = clean_terms(self.terms(facet), facet)
        except DescriptionError as error:
            raise ValidationError(str(error)) from None
        if facet == "keywords" and not terms:
            raise ValidationError("Give at least one keyword, e.g. family, faith, work.")


class DescriptionDecisionForm(TextForm):
    """Approve or decline the partner's proposed description (the button pressed names the decision)."""

    decision = StringField("Decision", validators=[AnyOf(("approve", "decline"), message=(
        "Press Approve or Decline under the proposal."))])


class SecondFactorForm(TextForm):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""

    code = StringField("Code from your authenticator app, or a recovery code", validators=[
        InputRequired("Enter the 6-digit code your app shows now, or one of your recovery codes."),
        Length(max=40, message="A code has at most 40 characters.")])


class TotpConfirmForm(TextForm):
    """Confirm an authenticator-app setup with the code it shows."""

    code = StringField("The 6-digit code your app shows", validators=[
        InputRequired("Enter the 6-digit code your authenticator app shows now."),
        Length(max=20, message="The code has 6 digits.")])


class ProveItIsYouForm(TextForm):
    """Confirm a sensitive change with the password or a current authenticator code."""

    secret = PasswordField("Your password, or a current code from your authenticator app", validators=[
        InputRequired("Enter your password or the code your app shows now."), Length(max=1024)])


class PasskeyNameForm(TextForm):
    """A passkey's name, so its owner recognises it in the list."""

    name = StringField("Name", validators=[InputRequired("Give the passkey a name, such as “Laptop”."),
                                           Length(max=60, message="Use at most 60 characters.")])


class EndEveryoneForm(TextForm):
    """An admin signs everyone out: the box confirms it was meant."""

    confirm = BooleanField("Yes, sign out every account on every device", validators=[
        InputRequired("Tick the box to confirm that everyone should be signed out.")])


class EndPersonSessionsForm(TextForm):
    """An admin signs one person out everywhere (the person's id comes from the look-up page)."""

    user_id = IntegerField("Account", validators=[
        InputRequired("Look the person up by email address first, then press the button."),
        NumberRange(1, MAX_ID, "Look the person up by email address first, then press the button.")])


class PersonLookupForm(TextForm):
    """Find a person by email address (admin)."""

    email = EmailField("Email address", validators=_EMAIL)

"""Invisible characters in typed text: one-line fields refuse every control character and bidi override,
free text keeps line breaks and tabs only, and every form of the site applies the rule at its fields."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, PasswordField, StringField, TextAreaField

from core.input_checks import multi_line_problem, normalise_line_breaks, single_line_problem
from core.views.forms import TextForm

ONE_LINE_REFUSED = {
    "line feed": "Ann\nLee", "carriage return": "Ann\rATTENDEE:mailto:eve@example.org", "tab": "Ann\tLee",
    "escape": "Ann\x1b[2J", "bell": "Ann\x07", "DEL": "Ann\x7f", "C1 NEL": "Ann\x85Lee", "C1 CSI": "Ann\x9b",
    "line separator": "Ann\u2028Lee", "paragraph separator": "Ann\u2029Lee", "RLO": "exe.\u202eevil",
    "LRE": "\u202aAnn", "PDF": "Ann\u202c", "LRI": "\u2066Ann", "PDI": "Ann\u2069", "FSI": "\u2068Ann",
}
ONE_LINE_ACCEPTED = ["Ann Lee", "Zoë Ørsted", "José-María", "שרה\u200f", "سارة\u061c", "李小龙", "🙂 Ann", "O'Brien",
                     "Ann\u200eLee"]


@pytest.mark.parametrize("value", list(ONE_LINE_REFUSED.values()), ids=list(ONE_LINE_REFUSED))
def test_one_line_text_refuses_every_control_character_and_bidi_override(value):
    problem = single_line_problem(value, "“First name”")

    assert problem is not None and problem.startswith("“First name” takes one line of plain text, but it contains")
    assert "Remove it" in problem


@pytest.mark.parametrize("value", ONE_LINE_ACCEPTED)
def test_one_line_text_in_any_script_is_accepted(value):
    assert single_line_problem(value) is None


def test_the_message_names_the_character_so_a_person_can_find_it():
    assert "a carriage return (U+000D)" in single_line_problem("a\rb")
    assert "a line break (U+000A)" in single_line_problem("a\nb")
    assert "a tab (U+0009)" in single_line_problem("a\tb")
    assert "reverses the direction of text (U+202E)" in single_line_problem("a\u202eb")
    assert "an invisible control character (U+001B)" in single_line_problem("a\x1bb")


def test_free_text_keeps_line_breaks_and_tabs_only():
    assert multi_line_problem("Dear Ann,\n\tthank you.\r\nBen") is None
    assert "a carriage return (U+000D)" in multi_line_problem("one\rtwo")
    assert "U+000B" in multi_line_problem("vertical\x0btab")
    assert "U+0085" in multi_line_problem("next\x85line")
    assert "reverses the direction of text" in multi_line_problem("see \u202egnp.exe")
    assert multi_line_problem("a\u2028b") is None  # Unicode's own line separator is a line break in free text


def test_windows_line_breaks_become_plain_line_breaks():
    assert normalise_line_breaks("a\r\nb\r\n") == "a\nb\n"


class Sample(TextForm):
    name = StringField("First name (optional)")
    email = EmailField("Email address")
    bio = TextAreaField("About you")
    password = PasswordField("Password")


def submitted(app, **values):
    with app.test_request_context(method="POST"):
        form = Sample(formdata=MultiDict(values), meta={"csrf": False})
        return form, form.validate()


def test_every_text_form_refuses_controls_at_the_one_line_field(app):
    form, valid = submitted(app, name="Ann\rATTENDEE:x", bio="fine", email="a@example.org")

    assert not valid
    assert form.name.errors == [single_line_problem("Ann\rATTENDEE:x", "“First name”")]
    assert not form.bio.errors


def test_every_text_form_keeps_line_breaks_in_a_text_area_and_refuses_other_controls(app):
    form, valid = submitted(app, name="Ann", bio="Line one\r\nLine two\tend", email="a@example.org")
    assert valid, form.errors
    assert form.bio.data == "Line one\nLine two\tend"

    form, valid = submitted(app, name="Ann", bio="ding\x07", email="a@example.org")
    assert not valid
    assert "may hold line breaks and tabs, but it contains" in form.bio.errors[0]


def test_an_email_field_is_one_line_and_a_password_takes_any_character_but_nul(app):
    form, valid = submitted(app, email="a@example.org\r\nBcc: eve@example.org", password="pass\u202eword\t")

    assert not valid
    assert "takes one line" in form.email.errors[0]
    assert not form.password.errors


def test_one_line_makes_any_stored_text_safe_for_a_header_or_a_calendar_line():
    from core.input_checks import one_line

    assert one_line("Ann\rATTENDEE:x\r\nBcc: eve@example.org\u2028\x85end") == "Ann ATTENDEE:x Bcc: eve@example.org end"
    assert one_line("exe.\u202eevil\u2069 Zoë") == "exe.evil Zoë"
    assert one_line("  plain  name ") == "plain name"

"""Every question type's answer checks: good values are stored in their documented shape, and each
kind of wrong value gets a message for the person (never an exception)."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from core.questionnaire.answers import EMPTY, is_valid_stored, parse_answer
from core.questionnaire.definition import Question


def question(**fields) -> Question:
    return Question.model_validate({"id": "q", "label": "Question", **fields})


CHOICES = [{"value": "a", "label": "A"}, {"value": "b", "label": "B"},
           {"value": "other", "label": "Other:", "describe": True}]
SCALE = {"min": 1, "max": 7, "min_label": "Left", "max_label": "Right"}

GOOD = [
    ({"type": "single_choice", "choices": CHOICES}, {"q-q": "a"}, {"choice": "a"}),
    ({"type": "single_choice", "choices": CHOICES}, {"q-q": "other", "q-q-text": "Agender"},
     {"choice": "other", "text": "Agender"}),
    ({"type": "multiple_choice", "choices": CHOICES, "max_choices": 2}, [("q-q", "a"), ("q-q", "b")], ["a", "b"]),
    ({"type": "scale", "scale": SCALE}, {"q-q": "7"}, 7),
    ({"type": "short_text", "max_length": 10}, {"q-q": "  Maria "}, "Maria"),
    ({"type": "long_text", "max_length": 50}, {"q-q": "Line one\r\nLine two"}, "Line one\nLine two"),
    ({"type": "long_text", "max_length": 50}, {"q-q": "Tabs\tand\nlines"}, "Tabs\tand\nlines"),
    ({"type": "short_text", "max_length": 20}, {"q-q": "\u05e9\u05e8\u05d4\u200f Zo\u00eb"},
     "\u05e9\u05e8\u05d4\u200f Zo\u00eb"),
    ({"type": "age_range"}, {"q-q": "75+"}, "75+"),
    ({"type": "location"}, {"q-q-country": "us", "q-q-region": "Ohio", "q-q-city": "Dayton"},
     {"country": "US", "region": "Ohio", "city": "Dayton"}),
    ({"type": "location", "location_mode": "postal_code"}, {"q-q-country": "DE", "q-q-postal_code": "10115"},
     {"country": "DE", "postal_code": "10115"}),
    ({"type": "time_zone"}, {"q-q": "America/Chicago"}, "America/Chicago"),
    ({"type": "languages"}, [("q-q", "es"), ("q-q", "en"), ("q-q", "en"), ("q-q", "")], ["es", "en"]),
    ({"type": "availability"}, [("q-q", "sun-evening"), ("q-q", "mon-morning")], ["mon-morning", "sun-evening"]),
]


@pytest.mark.parametrize(("spec", "form", "expected"), GOOD, ids=[f"{spec['type']}-{i}" for i, (spec, _, _) in
                                                                  enumerate(GOOD)])
def test_a_good_answer_is_read_in_its_stored_shape(spec, form, expected):
    parsed = parse_answer(question(**spec), MultiDict(form))
    assert parsed.error is None
    assert parsed.value == expected
    assert is_valid_stored(question(**spec), parsed.value)


BAD = [
    ({"type": "single_choice", "choices": CHOICES}, {"q-q": "zebra"}, "Choose one of the options."),
    ({"type": "single_choice", "choices": CHOICES}, {"q-q": "other", "q-q-text": "x" * 61}, "60 characters"),
    ({"type": "multiple_choice", "choices": CHOICES}, {"q-q": "zebra"}, "Choose only from the options shown."),
    ({"type": "multiple_choice", "choices": CHOICES, "max_choices": 1}, [("q-q", "a"), ("q-q", "b")],
     "Choose at most 1."),
    ({"type": "multiple_choice", "choices": CHOICES, "min_choices": 2}, {"q-q": "a"}, "Choose at least 2."),
    ({"type": "scale", "scale": SCALE}, {"q-q": "8"}, "Choose a point from 1 (Left) to 7 (Right)."),
    ({"type": "scale", "scale": SCALE}, {"q-q": "four"}, "Choose a point from 1"),
    ({"type": "scale", "scale": SCALE}, {"q-q": "1e9"}, "Choose a point from 1"),
    ({"type": "short_text", "max_length": 5}, {"q-q": "Christopher"}, "Use at most 5 characters (you wrote 11)."),
    ({"type": "short_text"}, {"q-q": "two\nlines"}, "takes one line of plain text, but it contains a line break"),
    ({"type": "long_text"}, {"q-q": "nul\x00byte"}, "Remove the invisible NUL character"),
    ({"type": "short_text"}, {"q-q": "Ann\rATTENDEE:mailto:x@example.org"}, "contains a carriage return (U+000D)"),
    ({"type": "short_text"}, {"q-q": "Ann\x1b[31m"}, "contains an invisible control character (U+001B"),
    ({"type": "short_text"}, {"q-q": "Ann\x85Lee"}, "contains an invisible control character (U+0085)"),
    ({"type": "short_text"}, {"q-q": "Ann\u2028Lee"}, "contains a line break (U+2028)"),
    ({"type": "short_text"}, {"q-q": "Ann\u202eeeL"}, "reverses the direction of text (U+202E)"),
    ({"type": "short_text"}, {"q-q": "Ann\u2066Lee\u2069"}, "reverses the direction of text (U+2066)"),
    ({"type": "long_text"}, {"q-q": "one\rtwo"}, "may hold line breaks and tabs, but it contains a carriage return"),
    ({"type": "long_text"}, {"q-q": "ding\x07"}, "contains an invisible control character (U+0007"),
    ({"type": "long_text"}, {"q-q": "left\u202dright"}, "reverses the direction of text (U+202D)"),
    ({"type": "single_choice", "choices": CHOICES}, {"q-q": "other", "q-q-text": "Age\nnder"}, "a line break"),
    ({"type": "location"}, {"q-q-country": "US", "q-q-city": "Day\tton"}, "contains a tab (U+0009)"),
    ({"type": "location"}, {"q-q-country": "US", "q-q-city": "Day\x00ton"}, "Remove the invisible NUL character"),
    ({"type": "long_text", "reject_contact_details": True}, {"q-q": "Write me at maria@example.org"},
     "Please remove an email address"),
    ({"type": "long_text", "reject_contact_details": True}, {"q-q": "Call 555-123-4567 any time"},
     "Please remove a phone number"),
    ({"type": "long_text", "reject_contact_details": True}, {"q-q": "I'm @gardenmaria on everything"},
     "Please remove a social media handle"),
    ({"type": "long_text", "reject_contact_details": True}, {"q-q": "See https://maria.example/blog"},
     "Please remove a link"),
    ({"type": "age_range"}, {"q-q": "12-17"}, "Choose one of the age ranges."),
    ({"type": "location"}, {"q-q-country": "XX", "q-q-city": "Nowhere"}, "Choose your country from the list."),
    ({"type": "location", "required": True}, {"q-q-country": "US", "q-q-city": "Dayton"}, "Enter your region."),
    ({"type": "location"}, {"q-q-country": "US", "q-q-city": "x" * 81}, "Keep the city to 80 characters."),
    ({"type": "location", "location_mode": "postal_code"}, {"q-q-country": "US", "q-q-postal_code": "<script>"},
     "Enter a postal code of letters, digits and spaces."),
    ({"type": "time_zone"}, {"q-q": "Mars/Olympus_Mons"}, "Choose your time zone from the list."),
    ({"type": "languages"}, {"q-q": "klingon"}, "Choose languages from the list."),
    ({"type": "availability"}, {"q-q": "mon-midnight"}, "Choose times from the weekly grid."),
]


@pytest.mark.parametrize(("spec", "form", "message"), BAD, ids=[f"{spec['type']}-{i}" for i, (spec, _, _) in
                                                                enumerate(BAD)])
def test_a_wrong_answer_gets_a_message_for_people(spec, form, message):
    parsed = parse_answer(question(**spec), MultiDict(form))
    assert parsed.value is EMPTY
    assert parsed.error is not None and message in parsed.error


@pytest.mark.parametrize("kind", ["single_choice", "multiple_choice", "scale", "short_text", "long_text",
                                  "age_range", "location", "time_zone", "languages", "availability"])
def test_a_required_question_left_empty_asks_for_an_answer(kind):
    spec = {"type": kind, "required": True}
    if "choice" in kind:
        spec["choices"] = CHOICES
    if kind == "scale":
        spec["scale"] = SCALE
    parsed = parse_answer(question(**spec), MultiDict())
    assert parsed.error == "Please answer this question."


@pytest.mark.parametrize("kind", ["short_text", "scale"])
def test_an_optional_question_left_empty_is_simply_unanswered(kind):
    spec = {"type": kind, **({"scale": SCALE} if kind == "scale" else {})}
    parsed = parse_answer(question(**spec), MultiDict({"q-q": "   "}))
    assert parsed.value is EMPTY and parsed.error is None


def test_a_stored_answer_that_no_longer_fits_a_changed_question_is_detected():
    before = question(type="single_choice", choices=CHOICES)
    after = question(type="single_choice", choices=[{"value": "a", "label": "A"}, {"value": "c", "label": "C"}])
    assert is_valid_stored(before, {"choice": "b"})
    assert not is_valid_stored(after, {"choice": "b"})
    assert is_valid_stored(after, {"choice": "a"})

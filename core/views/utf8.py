"""Form and query values that are not valid UTF-8 reach the views as U+FFFD, never as "%E9" text.

Werkzeug keeps an undecodable percent-escape in a url-encoded value as the literal text "%E9" (and drops a
body with raw undecodable bytes altogether), which a view cannot tell from typed text and would store.
Before any other hook reads the request, this module parses such a body and query string itself and puts
U+FFFD where the bytes were; the text checks of core.input_checks then refuse the value at its field with
a message (multipart bodies already arrive that way from Werkzeug).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict

FORM_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _decoded_pairs(raw: bytes) -> tuple[list[tuple[str, str]], bool]:
    """The (name, value) pairs of a url-encoded `raw`, and whether any byte in it was not valid UTF-8.

    Undecodable bytes, escaped or not, become U+FFFD.
    """
    text = raw.decode("utf-8", "surrogateescape")
    pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
    invalid = False
    cleaned = []
    for name, value in pairs:
        fixed = (_replace_surrogates(name), _replace_surrogates(value))
        invalid = invalid or fixed != (name, value)
        cleaned.append(fixed)
    return cleaned, invalid


def _replace_surrogates(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def undecodable_to_replacement_character() -> None:
    """The before-request hook: swap request.args and (for url-encoded bodies) request.form when they
    hold bytes that are not UTF-8, so every reader sees U+FFFD in their place."""
    pairs, invalid = _decoded_pairs(request.query_string)
    if invalid:
        request.__dict__["args"] = ImmutableMultiDict(pairs)
    if request.method in FORM_METHODS and request.mimetype == "application/x-www-form-urlencoded":
        raw = request.get_data(cache=True)  # Werkzeug parses the form from this cached copy afterwards
        pairs, invalid = _decoded_pairs(raw)
        if invalid:
            request.form  # noqa: B018 - parse once (sets form, files and stream) before the form is replaced
            request.__dict__["form"] = ImmutableMultiDict(pairs)


def install_utf8_check(app: Flask) -> None:
    """Run the hook before every other one (CSRF reads the form, after which the raw body is gone)."""
    app.before_request_funcs.setdefault(None, []).insert(0, undecodable_to_replacement_character)

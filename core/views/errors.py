"""Themed error pages; a failing error page falls back to plain HTML, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Something in the request was not right", "Go back, check what you entered and try again."),
    403: ("You cannot open this page", "If you think you should, sign in with another account or ask an admin."),
    404: ("Page not found", "The address may be mistyped, or the page has moved."),
    405: ("That did not work", "This page cannot be used that way. Go back and use its buttons."),
    413: ("That was too large", "Send something smaller."),
    429: ("Too many attempts", "Please wait a while before you try again."),
    500: ("Something went wrong on our side", "We have noted the problem. Please try again in a few minutes."),
}

JSON_BLUEPRINTS = frozenset({"recording"})
"""Blueprints whose clients are scripts: their errors are JSON ({"error", "code"}), not pages."""

FALLBACK = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            "<body><main><h1>{title}</h1><p>{text}</p><p><a href=\"/\">Home</a></p></main></body></html>")


def render_error(code: int, detail: str | None = None) -> tuple[str, int]:
    """The themed page for an HTTP error code."""
    title, text = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    try:
        return render_template("errors/error.html", code=code, title=title, text=detail or text), code
    except Exception:
        log.exception("the error page itself failed to render")
        return FALLBACK.format(title=title, text=text), code


def register_error_handlers(app: Flask) -> None:
    """Every HTTP error and every unexpected exception gets a page for people."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        text = "The form expired or was sent from another site. Reload the page and try again."
        if request.blueprint in JSON_BLUEPRINTS:
            return jsonify(error=text, code="csrf"), 400
        return render_error(400, text)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        own_words = error.description if error.description != type(error).description else None
        if request.blueprint in JSON_BLUEPRINTS:
            title, text = MESSAGES.get(error.code or 500, MESSAGES[400])
            return jsonify(error=own_words or f"{title}. {text}", code=str(error.code)), error.code or 500
        return render_error(error.code or 500, own_words)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)

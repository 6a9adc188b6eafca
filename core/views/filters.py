"""Template filters: local times and plain-text paragraphs."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import format_datetime
from markupsafe import Markup, escape


def paragraphs(text: str) -> Markup:
    """Plain text with blank lines between paragraphs, as escaped <p> elements."""
    blocks = [block.strip() for block in str(text or "").replace("\r\n", "\n").split("\n\n") if block.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(escape(block)) for block in blocks)


def local_time(value: dt.datetime | None, style: str = "medium") -> str:
    """A UTC timestamp shown in the viewer's time zone (their account's, else the site's)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value, style)


def register_filters(app: Flask) -> None:
    """Install the filters on the app's Jinja environment."""
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["localtime"] = local_time

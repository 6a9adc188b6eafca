"""Absolute links for emails, built from site.base_url (also outside a request)."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """`site.base_url` + the path of `endpoint`; never trusts the request's Host header."""
    base = current_app.extensions["oss_connect"].settings.site.base_url
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        with current_app.test_request_context("/"):
            path = url_for(endpoint, **values)
    return base + path

"""Absolute links for emails, built from site.base_url (also outside a request)."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """`site.base_url` + the path of `endpoint`; never trusts the request's Host header."""
    base = current_app.extensions["oss_connect"].settings.site.base_url
    if has_request_context():
        path = url_for(endpoint, **values)
    else:  # a job: build from the URL map directly (a request context would close the job's connection)
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    return base + path

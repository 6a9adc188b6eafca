"""Rate limits from the config, applied per app (so instances and tests never share counters)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

LIMITED_ENDPOINTS = {
    "signup": ["auth.signup"],
    "login": ["auth.login", "second_factor.second_step", "second_factor.passkey_sign_in", "reauth.confirm",
              "reauth.passkey_confirm", "password.change"],
    "reset": ["auth.reset_request", "auth.magic_request", "auth.resend_verification"],
    "newsletter": ["public.newsletter"],
}


def apply_rate_limits(app: Flask, limits: Any) -> Limiter:
    """A Limiter of this app's own; POSTs to each limited endpoint count per client address."""
    limiter = Limiter(key_func=get_remote_address, app=app, storage_uri=limits.storage_url,
                      headers_enabled=True, strategy="fixed-window")
    for setting, endpoints in LIMITED_ENDPOINTS.items():
        rate = getattr(limits, setting).replace(";", ",")
        for endpoint in endpoints:
            view = app.view_functions[endpoint]
            app.view_functions[endpoint] = limiter.limit(rate, methods=["POST"],
                                                         scope=f"{setting}:{endpoint}")(view)
    return limiter

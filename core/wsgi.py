"""WSGI entry point for gunicorn: `gunicorn -w 1 --threads 100 core.wsgi:app` (see `oss-connect serve`).

Behind a reverse proxy on the same machine (nginx, as docs/deployment.md sets it up) every request
comes from 127.0.0.1, so the client's own address is taken from X-Forwarded-For, but only when the
peer is a loopback address (gunicorn's default trust for X-Forwarded-Proto): a client that reaches
gunicorn directly cannot choose the address its rate limits are counted under.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from core.app import create_app

LOOPBACK = frozenset({"127.0.0.1", "::1"})


class LocalProxyFix:
    """Apply X-Forwarded-For (the proxy's last hop) only to requests from a loopback peer."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]):
        self.direct = wsgi_app
        self.proxied = ProxyFix(wsgi_app, x_for=1)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REMOTE_ADDR") in LOOPBACK and environ.get("HTTP_X_FORWARDED_FOR"):
            return self.proxied(environ, start_response)
        return self.direct(environ, start_response)


app = create_app()
app.wsgi_app = LocalProxyFix(app.wsgi_app)  # type: ignore[method-assign]

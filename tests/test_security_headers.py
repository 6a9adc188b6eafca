"""Security headers on every kind of response, and templates that a strict CSP can serve.

The Content-Security-Policy forbids inline script, inline styles and event-handler attributes, so
a test also reads every page template and fails on any of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint

from core.api import hookimpl
from tests.conftest import csrf_token_from

ROOT = Path(__file__).resolve().parent.parent


class FailingPagePlugin:
    """A test-only plugin with a page that raises, to see the 500 page's headers."""

    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        blueprint = Blueprint("failing_page", __name__, url_prefix="/test-failing")

        @blueprint.route("/boom")
        def boom() -> str:
            raise RuntimeError("a bug in a view")

        return [blueprint]


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"failing_page": FailingPagePlugin()}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"accounts": {"rate_limits": {"login": "2 per minute"}}}


def csp_directives(response: Any) -> dict[str, str]:
    """The response's CSP as {directive: value}."""
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"no CSP on a {response.status_code} response"
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}


def assert_security_headers(response: Any) -> None:
    """The headers every response must carry."""
    directives = csp_directives(response)
    assert directives["script-src"] == "'self'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer", "same-origin")
    assert response.headers["X-Frame-Options"] == "DENY"


def ok_page(client: Any) -> Any:
    return client.get("/")


def not_found(client: Any) -> Any:
    return client.get("/no-such-page")


def bad_form(client: Any) -> Any:
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": "not an address", "password": "", "csrf_token": token})


def missing_csrf(client: Any) -> Any:
    return client.post("/signup", data={"email": "ada@example.org"})


def forbidden(client: Any) -> Any:
    return client.get("/admin/")


def wrong_method(client: Any) -> Any:
    return client.get("/logout")


def too_many(client: Any) -> Any:
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"email": "ada@example.org", "password": "wrong password", "csrf_token": token}
    responses = [client.post("/login", data=data) for _ in range(3)]
    return responses[-1]


def server_error(client: Any) -> Any:
    return client.get("/test-failing/boom")


def redirect(client: Any) -> Any:
    return client.get("/account")


def static_file(client: Any) -> Any:
    page = client.get("/").get_data(as_text=True)
    stylesheet = re.search(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"|<link[^>]+href="([^"]+\.css[^"]*)"', page)
    assert stylesheet, "the landing page links a stylesheet"
    return client.get(stylesheet.group(1) or stylesheet.group(2))


RESPONSES = {
    200: ok_page, 404: not_found, 400: bad_form, 429: too_many, 500: server_error, 405: wrong_method,
    302: redirect,
}


@pytest.mark.parametrize("status", list(RESPONSES), ids=[str(code) for code in RESPONSES])
def test_every_kind_of_response_carries_the_security_headers(client, status):
    response = RESPONSES[status](client)

    assert response.status_code == status
    assert_security_headers(response)


def test_a_refused_csrf_token_carries_the_security_headers(client):
    response = missing_csrf(client)

    assert response.status_code == 400
    assert_security_headers(response)


def test_a_static_file_carries_the_security_headers(client):
    response = static_file(client)

    assert response.status_code == 200
    assert_security_headers(response)


def test_a_403_carries_the_security_headers(client, make_user, login):
    make_user("ada@example.org")
    login("ada@example.org")

    response = forbidden(client)

    assert response.status_code == 403
    assert_security_headers(response)


def test_the_500_page_is_themed_and_hides_the_error(client):
    response = server_error(client)

    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page
    assert "Test Conversations" in page, "the themed layout, not a bare page"
    assert "a bug in a view" not in page and "Traceback" not in page


def test_the_429_page_is_themed(client):
    response = too_many(client)

    page = response.get_data(as_text=True)
    assert "Too many attempts" in page
    assert "Test Conversations" in page


def test_pages_for_signed_in_people_are_not_cached(client, make_user, login):
    make_user("ada@example.org")
    login("ada@example.org")

    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_the_csp_allows_only_this_site(client):
    directives = csp_directives(client.get("/"))

    assert directives["default-src"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'self'"
    for value in directives.values():
        assert "*" not in value and "http:" not in value and "https:" not in value


# Templates a strict CSP can serve ----------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*\btype=\"application/json\")[^>]*>", re.IGNORECASE)
"""A <script> without src runs inline, unless it is a JSON data block (never executed, so CSP allows it)."""
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.IGNORECASE)
EVENT_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)

FORBIDDEN = {
    "inline <script> without src": INLINE_SCRIPT,
    "<style> element": STYLE_ELEMENT,
    "style= attribute": STYLE_ATTRIBUTE,
    "on* event attribute": EVENT_ATTRIBUTE,
    "javascript: URL": JAVASCRIPT_URL,
}


def page_templates() -> list[Path]:
    """Every HTML template served as a page: core, themes and bundled plugins (emails excepted)."""
    folders = [ROOT / "core" / "templates", *ROOT.glob("themes/*/templates"), *ROOT.glob("plugins/*/templates")]
    found = []
    for folder in folders:
        for path in folder.rglob("*.html"):
            if "email" not in path.relative_to(folder).parts:
                found.append(path)
    return sorted(found)


def csp_violations(text: str) -> list[str]:
    """What a strict CSP would block in a template's source (Jinja comments ignored)."""
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)
    return [name for name, pattern in FORBIDDEN.items() if pattern.search(text)]


def test_the_template_scan_finds_what_a_strict_csp_blocks():
    assert csp_violations('<script>alert(1)</script>') == ["inline <script> without src"]
    assert csp_violations('<p style="color:red">') == ["style= attribute"]
    assert csp_violations('<button onclick="go()">') == ["on* event attribute"]
    assert csp_violations('<style>p{}</style>') == ["<style> element"]
    assert csp_violations('<a href="javascript:go()">') == ["javascript: URL"]
    assert csp_violations('<script src="/static/app.js" defer></script><p class="x">{# style="x" #}') == []
    assert csp_violations('<script type="application/json" id="data">{"a": 1}</script>') == []
    assert csp_violations('<script type="module">go()</script>') == ["inline <script> without src"]


def test_there_are_templates_to_scan():
    names = {path.name for path in page_templates()}

    assert {"base.html", "login.html", "landing.html", "error.html"} <= names


@pytest.mark.parametrize("path", page_templates(), ids=lambda path: str(path.relative_to(ROOT)))
def test_page_template_has_no_inline_script_style_or_event_handler(path):
    assert csp_violations(path.read_text(encoding="utf-8")) == []


def test_every_rendered_public_page_is_free_of_inline_script(client):
    for url in ("/", "/faq", "/privacy", "/login", "/signup", "/reset", "/magic", "/newsletter", "/no-such-page"):
        assert csp_violations(client.get(url).get_data(as_text=True)) == [], url

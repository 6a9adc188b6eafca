"""Sessions: cookie flags in development and production, renewal at log-in, signing out everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from core.db import database
from core.models import User
from tests.conftest import csrf_token_from

PRODUCTION = {"site": {"environment": "production", "base_url": "https://talk.example.org"}}


@pytest.fixture
def oss_connect_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Development by default; a test passes PRODUCTION through indirect parametrisation."""
    return getattr(request, "param", {})


def session_cookie_header(response: Any, name: str) -> str:
    """The Set-Cookie header that sets cookie `name`."""
    found = [header for header in response.headers.getlist("Set-Cookie") if header.startswith(f"{name}=")]
    assert found, response.headers.getlist("Set-Cookie")
    return found[0]


def attributes(cookie_header: str) -> set[str]:
    """The attributes of a Set-Cookie header, lower-cased, without their values."""
    return {part.strip().split("=", 1)[0].lower() for part in cookie_header.split(";")[1:]}


def sign_in(client: Any, email: str, remember: bool = False) -> Any:
    """Sign in through the form and return the response."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"email": email, "password": "correct horse battery", "csrf_token": token}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302
    return response


def is_signed_in(client: Any) -> bool:
    """True when the account page opens instead of sending us to sign in."""
    return client.get("/account").status_code == 200


def bump_session_version(user: User) -> None:
    """What a password reset does: every existing session of the user becomes stale."""
    with database.connection_context():
        User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()


def test_session_cookie_is_httponly_and_samesite_lax(client):
    header = session_cookie_header(client.get("/login"), "oss_session")

    assert "httponly" in attributes(header)
    assert "SameSite=Lax" in header


def test_session_cookie_is_not_secure_in_development(client):
    header = session_cookie_header(client.get("/login"), "oss_session")

    assert "secure" not in attributes(header)


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.mark.parametrize("oss_connect_settings", [PRODUCTION], indirect=True)
def test_production_session_cookie_is_secure_with_the_host_prefix(client):
    response = client.get("/login", base_url="https://talk.example.org")
    header = session_cookie_header(response, "__Host-oss_session")

    assert {"secure", "httponly", "path"} <= attributes(header)
    assert "SameSite=Lax" in header
    assert "Path=/" in header
    assert "domain" not in attributes(header), "a __Host- cookie must not name a domain"


@pytest.mark.parametrize("oss_connect_settings", [PRODUCTION], indirect=True)
def test_production_sends_hsts(client):
    response = client.get("/", base_url="https://talk.example.org")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 15552000


@pytest.mark.parametrize("oss_connect_settings", [PRODUCTION], indirect=True)
def test_production_remember_cookie_is_secure_with_the_host_prefix(client, make_user):
    make_user("ada@example.org")
    base = "https://talk.example.org"
    token = csrf_token_from(client.get("/login", base_url=base).get_data(as_text=True))

    response = client.post("/login", base_url=base, headers={"Referer": base + "/login"},
                           data={"email": "ada@example.org", "password": "correct horse battery",
                                 "remember": "y", "csrf_token": token})

    assert response.status_code == 302
    header = session_cookie_header(response, "__Host-oss_remember")
    assert {"secure", "httponly"} <= attributes(header)


def test_login_renews_the_session(client, make_user):
    make_user("ada@example.org")
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else before the log-in"

    sign_in(client, "ada@example.org")

    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


def test_session_cookie_ends_with_the_browser_unless_remembered(client, make_user):
    make_user("ada@example.org")

    response = sign_in(client, "ada@example.org")

    header = session_cookie_header(response, "oss_session")
    assert "expires" not in attributes(header)
    assert not any(cookie.startswith("oss_remember=") for cookie in response.headers.getlist("Set-Cookie"))


def test_a_stale_session_version_is_signed_out(client, make_user):
    user = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    assert is_signed_in(client)

    bump_session_version(user)

    assert not is_signed_in(client)


def test_remember_me_keeps_the_account_signed_in_without_the_session(client, make_user):
    make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)

    client.delete_cookie("oss_session", domain="localhost")

    assert client.get_cookie("oss_remember", domain="localhost") is not None
    assert is_signed_in(client)


def test_a_remember_cookie_goes_stale_with_the_session_version(client, make_user):
    user = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    client.delete_cookie("oss_session", domain="localhost")

    bump_session_version(user)

    assert not is_signed_in(client)


def test_logout_removes_the_remember_cookie(client, make_user):
    make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    client.post("/logout", data={"csrf_token": token})

    assert client.get_cookie("oss_remember", domain="localhost") is None
    assert not is_signed_in(client)


def test_a_deactivated_account_is_signed_out(client, make_user):
    user = make_user("ada@example.org")
    sign_in(client, "ada@example.org")

    with database.connection_context():
        User.update(is_active=False).where(User.id == user.id).execute()

    assert not is_signed_in(client)


def test_a_malformed_session_id_signs_nobody_in(client, make_user):
    user = make_user("ada@example.org")
    client.get("/login")
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:not-a-version"

    assert not is_signed_in(client)

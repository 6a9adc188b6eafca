"""Accounts end to end: sign-up, email verification, log-in and log-out, safe redirects, create-admin.

Every mail is read from the real outbox and its link followed, as a person would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.db import database
from core.models import AuthToken, User
from tests.conftest import csrf_token_from, without_csrf

PASSWORD = "correct horse battery"


def post_form(client: Any, page: str, data: dict[str, Any], action: str | None = None,
              **options: Any) -> Any:
    """Open `page`, take its CSRF token and post `data` to `action` (default: the same page)."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(action or page, data={**data, "csrf_token": token}, **options)


def path_of(url: str) -> str:
    """The path of a link found in a mail (the test client talks to the app directly)."""
    return urlsplit(url).path


def sign_up(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Submit the sign-up form."""
    return post_form(client, "/signup", {"email": email, "password": password, "confirm": password})


def verification_link(outbox: Any, email: str) -> str:
    """The path of the verification link in the newest mail to `email`."""
    message = outbox.last_to(email)
    links = [link for link in outbox.links(message) if "/verify/" in link]
    assert links, message.text
    return path_of(links[0])


def comparable(response: Any, email: str) -> str:
    """A page's HTML without the address typed in and without the (always fresh) CSRF token."""
    html = response.get_data(as_text=True).replace(email, "ADDRESS")
    return without_csrf(html)


def is_signed_in(client: Any) -> bool:
    """True when the account page opens instead of sending us to sign in."""
    return client.get("/account").status_code == 200


def user_row(email: str) -> User | None:
    """The account with this address, read fresh from the database."""
    with database.connection_context():
        return User.by_email(email)


# Sign-up and verification -------------------------------------------------------------------

def test_signup_shows_check_your_email_and_mails_a_verification_link(client, outbox):
    response = sign_up(client, "ada@example.org")

    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    message = outbox.last_to("ada@example.org")
    assert message.subject == "Confirm your email address"
    assert verification_link(outbox, "ada@example.org").startswith("/verify/")


def test_signup_creates_an_unverified_account(client):
    sign_up(client, "ada@example.org")

    user = user_row("ada@example.org")
    assert user is not None
    assert user.email_verified_at is None
    assert user.password_hash and PASSWORD not in user.password_hash


def test_opening_the_verification_link_shows_a_button_and_does_not_spend_it(client, outbox):
    sign_up(client, "ada@example.org")
    link = verification_link(outbox, "ada@example.org")

    first, second = client.get(link), client.get(link)

    assert first.status_code == second.status_code == 200
    page = second.get_data(as_text=True)
    assert '<form method="post">' in page and "Confirm my address" in page
    with database.connection_context():
        assert AuthToken.select().where(AuthToken.used_at.is_null(False)).count() == 0
    assert user_row("ada@example.org").email_verified_at is None


def test_posting_the_verification_link_verifies_the_address_and_signs_in(client, outbox):
    sign_up(client, "ada@example.org")
    link = verification_link(outbox, "ada@example.org")

    response = post_form(client, link, {})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/profile/")  # next: the questionnaire
    assert user_row("ada@example.org").email_verified_at is not None
    assert is_signed_in(client)


def test_a_verification_link_works_only_once(client, outbox):
    sign_up(client, "ada@example.org")
    link = verification_link(outbox, "ada@example.org")
    post_form(client, link, {})
    other = client.application.test_client()

    assert other.get(link).status_code == 400
    token = csrf_token_from(other.get("/login").get_data(as_text=True))
    response = other.post(link, data={"csrf_token": token})
    assert response.status_code == 400
    assert "This link no longer works" in response.get_data(as_text=True)
    assert not is_signed_in(other)


def test_an_unverified_account_cannot_sign_in(client):
    sign_up(client, "ada@example.org")

    response = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD})

    assert response.status_code == 400
    assert "Confirm your email address first" in response.get_data(as_text=True)
    assert not is_signed_in(client)


def test_signup_with_a_taken_address_mails_the_owner_instead(client, outbox, make_user):
    make_user("ada@example.org")

    sign_up(client, "ada@example.org", password="another long password")

    message = outbox.last_to("ada@example.org")
    assert message.subject == "Someone tried to sign up with your address"
    assert not any("/verify/" in link for link in outbox.links(message))
    with database.connection_context():
        assert User.select().count() == 1


def test_signup_with_a_taken_address_looks_the_same_as_a_new_one(client, make_user):
    make_user("ada@example.org")

    taken = sign_up(client, "ada@example.org")
    fresh = sign_up(client.application.test_client(), "bob@example.org")

    assert taken.status_code == fresh.status_code == 200
    assert comparable(taken, "ada@example.org") == comparable(fresh, "bob@example.org")


def test_signup_with_a_taken_address_keeps_the_owners_password(client, make_user):
    make_user("ada@example.org")

    sign_up(client, "ada@example.org", password="an attacker's password")

    response = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 302


def test_addresses_are_compared_without_case(client, outbox):
    sign_up(client, "Ada@Example.ORG")

    assert user_row("ada@example.org") is not None
    assert outbox.last_to("ada@example.org")


def test_a_new_verification_link_can_be_requested(client, outbox):
    sign_up(client, "ada@example.org")
    first = verification_link(outbox, "ada@example.org")

    post_form(client, "/verify/resend", {"email": "ada@example.org"})

    second = verification_link(outbox, "ada@example.org")
    assert second != first
    assert client.get(first).status_code == 400, "the earlier link lapses when a new one is sent"
    assert client.get(second).status_code == 200


def test_signup_can_be_closed_in_the_config(instance, database_url):
    from core.app import create_app
    from core.config import load_config

    config = instance / "oss-connect.yaml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings.setdefault("accounts", {})["allow_signup"] = False
    config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    closed = create_app(load_config(config), testing=True).test_client()

    assert closed.get("/signup").status_code == 403
    with database.connection_context():
        assert User.select().count() == 0


# Log-in and log-out -----------------------------------------------------------------------------

def test_login_with_the_right_password_signs_in(client, make_user):
    make_user("ada@example.org")

    response = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD})

    assert response.status_code == 302
    assert is_signed_in(client)


def test_login_with_a_wrong_password_shows_a_message_at_the_form(client, make_user):
    make_user("ada@example.org")

    response = post_form(client, "/login", {"email": "ada@example.org", "password": "not the password"})

    assert response.status_code == 400
    assert "do not match an account" in response.get_data(as_text=True)
    assert not is_signed_in(client)


def test_login_with_an_unknown_address_gives_the_same_message(client, make_user):
    make_user("ada@example.org")

    wrong_password = post_form(client, "/login", {"email": "ada@example.org", "password": "not the password"})
    unknown = post_form(client, "/login", {"email": "nobody@example.org", "password": "not the password"})

    assert unknown.status_code == wrong_password.status_code == 400
    assert comparable(unknown, "nobody@example.org") == comparable(wrong_password, "ada@example.org")


def test_a_deactivated_account_cannot_sign_in(client, make_user):
    user = make_user("ada@example.org")
    with database.connection_context():
        User.update(is_active=False).where(User.id == user.id).execute()

    response = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD})

    assert response.status_code == 400
    assert not is_signed_in(client)


def test_the_account_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/account")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_logout_by_post_signs_out(client, make_user, login):
    make_user("ada@example.org")
    login("ada@example.org")

    response = post_form(client, "/account", {}, action="/logout")

    assert response.status_code == 302
    assert not is_signed_in(client)


def test_logout_refuses_get(client, make_user, login):
    make_user("ada@example.org")
    login("ada@example.org")

    response = client.get("/logout")

    assert response.status_code == 405
    assert is_signed_in(client)


@pytest.mark.parametrize("target", ["/faq", "/privacy?section=2"])
def test_login_returns_to_a_same_site_next_page(client, make_user, target):
    make_user("ada@example.org")

    response = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD},
                         action="/login", query_string={"next": target})

    assert response.headers["Location"] == target


OFF_SITE = ["//evil.example", "https://evil.example", "https://evil.example/login", "http:evil.example",
            "///evil.example", "javascript:alert(1)", "evil.example", "/\t/evil.example", " //evil.example"]


def test_login_never_redirects_to_another_site(client, make_user):
    make_user("ada@example.org")

    for target in OFF_SITE:
        browser = client.application.test_client()
        response = post_form(browser, "/login", {"email": "ada@example.org", "password": PASSWORD},
                             action="/login", query_string={"next": target})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/account", target


def test_a_backslash_next_is_kept_as_a_path_on_this_site(client, make_user):
    make_user("ada@example.org")

    response = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD},
                         action="/login", query_string={"next": "/\\evil.example"})

    location = response.headers["Location"]
    assert "\\" not in location and not location.startswith("//")


# Roles and create-admin -------------------------------------------------------------------------

def test_create_admin_command_makes_an_admin_who_opens_the_admin_area(instance, client, login):
    command = [str(Path(sys.executable).parent / "oss-connect"), "create-admin",
               "--config", str(instance / "oss-connect.yaml"), "root@example.org", "--password-stdin"]
    done = subprocess.run(command, input="a long admin password\n", capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent)

    assert done.returncode == 0, done.stderr
    assert "created admin root@example.org" in done.stdout
    login("root@example.org", "a long admin password")
    assert client.get("/admin/").status_code == 200


def test_create_admin_promotes_an_existing_account(instance, make_user):
    from click.testing import CliRunner

    from core.cli import cli

    make_user("ada@example.org")
    result = CliRunner().invoke(cli, ["create-admin", "--config", str(instance / "oss-connect.yaml"),
                                      "ada@example.org", "--password-stdin"], input="a long admin password\n",
                                obj={})

    assert result.exit_code == 0, result.output
    assert "updated admin ada@example.org" in result.output
    assert user_row("ada@example.org").role == "admin"


def test_create_admin_refuses_a_short_password(instance):
    from click.testing import CliRunner

    from core.cli import cli

    result = CliRunner().invoke(cli, ["create-admin", "--config", str(instance / "oss-connect.yaml"),
                                      "root@example.org", "--password-stdin"], input="short\n", obj={})

    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert user_row("root@example.org") is None


def test_a_participant_cannot_open_the_admin_area(client, make_user, login):
    make_user("ada@example.org")
    login("ada@example.org")

    assert client.get("/admin/").status_code == 403


def test_a_facilitator_cannot_open_the_admin_area(client, make_user, login):
    make_user("fay@example.org", role="facilitator")
    login("fay@example.org")

    assert client.get("/admin/").status_code == 403


# The whole journey --------------------------------------------------------------------------------

def test_the_whole_account_journey_through_the_outbox(client, outbox):
    """Sign up, confirm, sign out, sign in, forget the password, reset it, then sign in by link."""
    assert sign_up(client, "ada@example.org").status_code == 200
    assert post_form(client, verification_link(outbox, "ada@example.org"), {}).status_code == 302
    assert is_signed_in(client)

    post_form(client, "/account", {}, action="/logout")
    assert not is_signed_in(client)
    assert post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD}).status_code == 302
    post_form(client, "/account", {}, action="/logout")

    post_form(client, "/reset", {"email": "ada@example.org"})
    reset = next(path_of(link) for link in outbox.links(outbox.last_to("ada@example.org")) if "/reset/" in link)
    new = "a brand new passphrase"
    assert post_form(client, reset, {"password": new, "confirm": new}).status_code == 302
    post_form(client, "/account", {}, action="/logout")

    post_form(client, "/magic", {"email": "ada@example.org"})
    magic = next(path_of(link) for link in outbox.links(outbox.last_to("ada@example.org")) if "/magic/" in link)
    assert client.get(magic).status_code == 200
    assert post_form(client, magic, {}).status_code == 302
    assert is_signed_in(client)
    assert [message.subject for message in outbox.to("ada@example.org")] == [
        "Confirm your email address", "Reset your password", "Your sign-in link"]


def test_set_role_makes_a_facilitator_and_refuses_an_unknown_address_or_role(instance, make_user):
    from click.testing import CliRunner

    from core.cli import cli

    make_user("fay@example.org")
    config = str(instance / "oss-connect.yaml")
    done = CliRunner().invoke(cli, ["set-role", "--config", config, "fay@example.org", "facilitator"], obj={})
    assert done.exit_code == 0, done.output
    assert "fay@example.org is now a facilitator" in done.output
    assert user_row("fay@example.org").role == "facilitator"
    unknown = CliRunner().invoke(cli, ["set-role", "--config", config, "nobody@example.org", "facilitator"], obj={})
    assert unknown.exit_code == 1 and "no account with the address nobody@example.org" in unknown.output
    wrong = CliRunner().invoke(cli, ["set-role", "--config", config, "fay@example.org", "superuser"], obj={})
    assert wrong.exit_code == 2 and "superuser" in wrong.output
    assert user_row("fay@example.org").role == "facilitator"

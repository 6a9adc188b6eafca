"""Single-use links by email: password reset and magic-link sign-in, read from the real outbox.

A GET on a link only shows a button (mail scanners follow links); the POST spends the token.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from core.db import database, utcnow
from core.models import AuthToken, User
from tests.conftest import csrf_token_from

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


def post_form(client: Any, page: str, data: dict[str, Any], action: str | None = None) -> Any:
    """Open `page`, take its CSRF token and post `data` to `action` (default: the same page)."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(action or page, data={**data, "csrf_token": token})


def link_in_last_mail(outbox: Any, email: str, part: str) -> str:
    """The path of the link containing `part` in the newest mail to `email`."""
    message = outbox.last_to(email)
    links = [urlsplit(link).path for link in outbox.links(message) if part in link]
    assert links, message.text
    return links[0]


def is_signed_in(client: Any) -> bool:
    """True when the account page opens instead of sending us to sign in."""
    return client.get("/account").status_code == 200


def can_log_in(client: Any, email: str, password: str) -> bool:
    """True when a fresh client signs in with these credentials."""
    fresh = client.application.test_client()
    return post_form(fresh, "/login", {"email": email, "password": password}).status_code == 302


def expire_tokens(purpose: str) -> None:
    """Move every token of `purpose` into the past, as if the link had been left too long."""
    with database.connection_context():
        AuthToken.update(expires_at=utcnow() - dt.timedelta(minutes=1)).where(AuthToken.purpose == purpose).execute()


def mails_to(outbox: Any, email: str) -> int:
    """How many messages went to `email`."""
    return len(outbox.to(email))


# Password reset ---------------------------------------------------------------------------------

def request_reset(client: Any, outbox: Any, email: str) -> str:
    """Ask for a reset link and return its path."""
    response = post_form(client, "/reset", {"email": email})
    assert response.status_code == 200
    return link_in_last_mail(outbox, email, "/reset/")


def test_reset_request_mails_a_link_that_shows_the_new_password_form(client, outbox, make_user):
    make_user("ada@example.org")

    link = request_reset(client, outbox, "ada@example.org")

    assert outbox.last_to("ada@example.org").subject == "Reset your password"
    page = client.get(link)
    assert page.status_code == 200
    assert 'name="password"' in page.get_data(as_text=True)


def test_reset_link_changes_the_password_and_signs_in(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_reset(client, outbox, "ada@example.org")

    response = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert is_signed_in(client)
    assert can_log_in(client, "ada@example.org", NEW_PASSWORD)
    assert not can_log_in(client, "ada@example.org", PASSWORD)


def test_reset_link_works_only_once(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_reset(client, outbox, "ada@example.org")
    post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    other = client.application.test_client()

    assert other.get(link).status_code == 400
    response = post_form(other, "/reset", {"password": "yet another passphrase",
                                           "confirm": "yet another passphrase"}, action=link)
    assert response.status_code == 400
    assert "This link no longer works" in response.get_data(as_text=True)
    assert not can_log_in(client, "ada@example.org", "yet another passphrase")


def test_an_expired_reset_link_is_refused(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_reset(client, outbox, "ada@example.org")
    expire_tokens("reset")

    assert client.get(link).status_code == 400
    response = post_form(client, "/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, action=link)
    assert response.status_code == 400
    assert can_log_in(client, "ada@example.org", PASSWORD)


def test_a_newer_reset_link_replaces_the_older_one(client, outbox, make_user):
    make_user("ada@example.org")
    first = request_reset(client, outbox, "ada@example.org")

    second = request_reset(client, outbox, "ada@example.org")

    assert client.get(first).status_code == 400
    assert client.get(second).status_code == 200


def test_reset_signs_out_every_other_session(client, outbox, make_user, login):
    make_user("ada@example.org")
    laptop = client.application.test_client()
    login("ada@example.org", test_client=laptop)
    assert is_signed_in(laptop)
    link = request_reset(client, outbox, "ada@example.org")

    post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert not is_signed_in(laptop)
    assert is_signed_in(client)


def test_reset_with_mismatched_passwords_shows_a_message_and_keeps_the_link(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_reset(client, outbox, "ada@example.org")

    response = post_form(client, link, {"password": NEW_PASSWORD, "confirm": "something else entirely"})

    assert response.status_code == 400
    assert "The two passwords differ." in response.get_data(as_text=True)
    assert client.get(link).status_code == 200


def test_reset_for_an_unknown_address_shows_the_same_page_and_sends_nothing(client, outbox, make_user):
    make_user("ada@example.org")

    known = post_form(client, "/reset", {"email": "ada@example.org"})
    unknown = post_form(client, "/reset", {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace("ada@example.org", "X") == \
        unknown.get_data(as_text=True).replace("nobody@example.org", "X")
    assert mails_to(outbox, "nobody@example.org") == 0


def test_reset_verifies_an_unconfirmed_address(client, outbox, make_user):
    make_user("ada@example.org", verified=False)
    link = request_reset(client, outbox, "ada@example.org")

    post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    with database.connection_context():
        assert User.by_email("ada@example.org").email_verified_at is not None


# Magic link ---------------------------------------------------------------------------------------

def request_magic_link(client: Any, outbox: Any, email: str) -> str:
    """Ask for a sign-in link and return its path."""
    response = post_form(client, "/magic", {"email": email})
    assert response.status_code == 200
    return link_in_last_mail(outbox, email, "/magic/")


def test_magic_link_get_shows_a_button_and_does_not_sign_in(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_magic_link(client, outbox, "ada@example.org")

    page = client.get(link)

    assert page.status_code == 200
    assert re.search(r"<button[^>]*>Sign me in</button>", page.get_data(as_text=True))
    assert not is_signed_in(client)


def test_magic_link_survives_two_gets_then_the_post_signs_in(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_magic_link(client, outbox, "ada@example.org")

    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200
    response = post_form(client, link, {})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account"
    assert is_signed_in(client)


def test_magic_link_second_post_is_refused(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_magic_link(client, outbox, "ada@example.org")
    post_form(client, link, {})
    other = client.application.test_client()

    response = post_form(other, "/magic", {}, action=link)

    assert response.status_code == 400
    assert "This link no longer works" in response.get_data(as_text=True)
    assert not is_signed_in(other)


def test_an_expired_magic_link_is_refused(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_magic_link(client, outbox, "ada@example.org")
    expire_tokens("magic")

    assert client.get(link).status_code == 400
    response = post_form(client, "/magic", {}, action=link)
    assert response.status_code == 400
    assert not is_signed_in(client)


def test_magic_link_for_an_unknown_address_shows_the_same_page_and_sends_nothing(client, outbox, make_user):
    make_user("ada@example.org")

    known = post_form(client, "/magic", {"email": "ada@example.org"})
    unknown = post_form(client, "/magic", {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace("ada@example.org", "X") == \
        unknown.get_data(as_text=True).replace("nobody@example.org", "X")
    assert mails_to(outbox, "nobody@example.org") == 0
    assert mails_to(outbox, "ada@example.org") == 1


def test_a_made_up_magic_token_is_refused(client, make_user):
    make_user("ada@example.org")

    assert client.get("/magic/" + "x" * 43).status_code == 400
    assert post_form(client, "/magic", {}, action="/magic/" + "x" * 43).status_code == 400
    assert not is_signed_in(client)


def test_a_magic_link_cannot_be_used_as_a_reset_link(client, outbox, make_user):
    make_user("ada@example.org")
    link = request_magic_link(client, outbox, "ada@example.org")
    token = link.rsplit("/", 1)[1]

    assert client.get(f"/reset/{token}").status_code == 400
    assert client.get(f"/verify/{token}").status_code == 400


def test_tokens_are_stored_only_as_hashes(client, outbox, make_user):
    make_user("ada@example.org")
    token = request_magic_link(client, outbox, "ada@example.org").rsplit("/", 1)[1]

    with database.connection_context():
        stored = [row.token_hash for row in AuthToken.select()]
    assert stored and token not in stored
    assert AuthToken.hash(token) in stored


def test_a_magic_link_for_a_deactivated_account_is_refused(client, outbox, make_user):
    user = make_user("ada@example.org")
    link = request_magic_link(client, outbox, "ada@example.org")
    with database.connection_context():
        User.update(is_active=False).where(User.id == user.id).execute()

    response = post_form(client, "/magic", {}, action=link)

    assert response.status_code == 400
    assert not is_signed_in(client)

"""Changing the password on /account/password through the real form: the current password and the policy
are checked, every other device is signed out (its sockets closed), this device stays signed in with a
fresh session key, the owner is emailed and the change is audited; wrong current passwords are throttled
like sign-in.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import audit, sessions
from core.db import database
from core.models import User, UserSession
from core.security import verify_password
from tests.conftest import csrf_token_from
from tests.test_accounts import PASSWORD, is_signed_in, post_form
from tests.test_two_factor import events, sign_in_with_password

NEW = "violet umbrella quarry marmalade"


def change(client: Any, current: str = PASSWORD, new: str = NEW, confirm: str | None = None) -> Any:
    """Fill in and send the change-password form."""
    return post_form(client, "/account/password", {"current": current, "password": new,
                                                    "confirm": new if confirm is None else confirm})


def test_the_password_changes_other_devices_are_signed_out_and_this_one_gets_a_fresh_session(
        app, client, make_user, outbox):
    user = make_user("ada@example.org")
    other = app.test_client()
    sign_in_with_password(other, "ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    with database.connection_context():
        before = {row.key_hash for row in UserSession.select()}
    page = client.get("/account")
    assert 'href="/account/password"' in page.get_data(as_text=True)

    response = change(client)

    assert response.status_code == 302 and response.headers["Location"] == "/account"
    followed = client.get("/account").get_data(as_text=True)
    assert "Your password is changed. Signed out everywhere else (1 other device was signed in)." in followed
    assert is_signed_in(client) and not is_signed_in(other)
    with database.connection_context():
        [now] = UserSession.select()
        assert now.key_hash not in before, "this device got a new session (a new key)"
        stored = User.get_by_id(user.id)
        assert verify_password(stored.password_hash, NEW) and not verify_password(stored.password_hash, PASSWORD)
    [changed] = events(audit.PASSWORD_CHANGED)
    assert (changed.actor_id, changed.subject_id) == (user.id, user.id)
    revoked = [event for event in events(audit.SESSIONS_REVOKED) if event.details["reason"] == "password_changed"]
    assert revoked and revoked[0].details["count"] == 1
    mail = outbox.last_to("ada@example.org")
    assert mail.subject == "Your password was changed"
    assert "every other device" in mail.text and "/reset" in mail.text
    post_form(client, "/account", {}, action="/logout")
    assert post_form(client, "/login", {"email": "ada@example.org", "password": NEW}).status_code == 302


def test_a_wrong_current_password_changes_nothing_and_is_throttled_like_sign_in(client, make_user, outbox):
    user = make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")

    wrong = change(client, current="not the password")
    assert wrong.status_code == 400
    html = wrong.get_data(as_text=True)
    assert 'id="current-error"' in html and "That is not your current password" in html
    statuses = [change(client, current=f"guess {n}").status_code for n in range(4)]
    assert statuses[-1] == 429, statuses
    refused = change(client)
    assert refused.status_code == 429 and "Too many attempts" in refused.get_data(as_text=True)

    with database.connection_context():
        assert verify_password(User.get_by_id(user.id).password_hash, PASSWORD)
    assert events(audit.PASSWORD_CHANGED) == []
    assert is_signed_in(client)


@pytest.mark.parametrize(("new", "confirm", "message"), [
    ("short", None, "Use at least 10 characters"),
    ("password123", None, "too easy to guess"),
    ("lovelace1815", None, "your own email address or name"),
    (NEW, "something else entirely", "The two new passwords differ."),
    ("", None, "Choose a new password."),
])
def test_the_new_password_follows_the_policy(client, make_user, new, confirm, message):
    make_user("ada.lovelace@example.org")
    sign_in_with_password(client, "ada.lovelace@example.org")

    response = change(client, new=new, confirm=confirm)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert events(audit.PASSWORD_CHANGED) == []


def test_the_page_needs_a_sign_in_and_a_form_token(client, make_user):
    assert client.get("/account/password").headers["Location"].startswith("/login")
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")

    response = client.post("/account/password", data={"current": PASSWORD, "password": NEW, "confirm": NEW})

    assert response.status_code == 400 and "The form expired" in response.get_data(as_text=True)
    assert events(audit.PASSWORD_CHANGED) == []


def test_an_account_without_a_password_is_told_to_use_a_reset_link(client, make_user, outbox):
    user = make_user("ada@example.org")
    with database.connection_context():
        User.update(password_hash=None).where(User.id == user.id).execute()
    post_form(client, "/magic", {"email": "ada@example.org"})
    link = next(line for line in outbox.last_to("ada@example.org").text.split() if "/magic/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    post_form(client, "/" + path, {})
    assert is_signed_in(client)

    page = client.get("/account/password")

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "has no password yet" in html and 'name="current"' not in html
    assert 'href="/reset"' in html
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    client.post("/account/password", data={"password": NEW, "confirm": NEW, "csrf_token": token})
    with database.connection_context():
        assert User.get_by_id(user.id).password_hash is None, "no password is set without proof"


def test_the_sessions_function_keeps_the_device_that_changed_it(client, make_user):
    """end_others keeps the current session: after the change exactly one session is left (this one)."""
    make_user("ada@example.org")
    for _ in range(3):
        sign_in_with_password(client.application.test_client(), "ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    change(client)
    with database.connection_context():
        user = User.by_email("ada@example.org")
        assert len(sessions.active_for(user.id)) == 1

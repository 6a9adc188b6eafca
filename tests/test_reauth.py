"""Re-authentication ("Confirm it's you") through the real forms: a fresh sign-in counts as recent, an old
one sends second-factor changes and signing out other devices to /account/confirm, which takes the
password or a current authenticator code (throttled like sign-in) and comes back; the forced enrolment
right after the password is not asked again.

Time is moved by ageing the session row's `authenticated_at` in the real database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest

from core import audit
from core.db import database, utcnow
from core.models import PasskeyCredential, TotpFactor, User, UserSession
from tests.conftest import csrf_token_from
from tests.test_accounts import PASSWORD, is_signed_in, post_form
from tests.test_two_factor import code_at, events, set_up_totp, sign_in_with_password


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """Participants may opt in to a second factor; staff must have one (the shipped default)."""
    return {"accounts": {"mfa": {"required_roles": ["admin", "facilitator", "staff"]},
                         "sessions": {"reauth_minutes": 10}}}


def age_sign_in(email: str, minutes: int = 11) -> None:
    """Make every session of `email` look as if it proved who uses it `minutes` ago."""
    with database.connection_context():
        user = User.by_email(email)
        UserSession.update(authenticated_at=utcnow() - dt.timedelta(minutes=minutes)).where(
            UserSession.user == user.id).execute()


def confirm_location(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


def test_a_fresh_sign_in_counts_as_recent_and_is_stored_on_the_session(client, make_user):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")

    with database.connection_context():
        [record] = UserSession.select()
        assert utcnow() - record.authenticated_at < dt.timedelta(minutes=1)
    assert client.get("/account/security/totp").status_code == 200, "no confirmation right after signing in"


def test_an_old_sign_in_must_confirm_with_the_password_before_setting_up_an_app(client, make_user):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    age_sign_in("ada@example.org")

    location = confirm_location(client.get("/account/security/totp"))
    assert location == "/account/confirm?next=" + quote("/account/security/totp", safe="/")
    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Confirm it&#39;s you" in html
    assert 'for="secret">Your password</label>' in html, "without an app, the password is what is asked"

    wrong = client.post(location, data={"secret": "not my password at all", "csrf_token": csrf_token_from(html)})
    assert wrong.status_code == 400
    assert "That is not your current password" in wrong.get_data(as_text=True)
    assert confirm_location(client.get("/account/security/totp")).startswith("/account/confirm")

    right = client.post(location, data={"secret": PASSWORD, "csrf_token": csrf_token_from(html)})
    assert confirm_location(right) == "/account/security/totp"
    assert client.get("/account/security/totp").status_code == 200
    [failed] = events(audit.SIGN_IN_FAILED)
    assert failed.details == {"reason": "password"}, "a wrong password here counts like a failed sign-in"
    [confirmed] = events(audit.REAUTHENTICATED)
    assert confirmed.details["factor"] == "password"


def test_a_current_authenticator_code_confirms_too(client, make_user):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    secret, _, _ = set_up_totp(client)
    age_sign_in("ada@example.org")

    response = post_form(client, "/account/security", {}, action="/account/security/recovery-codes")
    assert confirm_location(response) == "/account/confirm?next=" + quote("/account/security", safe="/")
    html = client.get("/account/confirm").get_data(as_text=True)
    assert "or the code your authenticator app shows now" in html
    response = client.post("/account/confirm?next=/account/security",
                           data={"secret": code_at(secret, 1), "csrf_token": csrf_token_from(html)})
    assert confirm_location(response) == "/account/security"
    [confirmed] = events(audit.REAUTHENTICATED)
    assert confirmed.details["factor"] == "totp"

    again = post_form(client, "/account/security", {}, action="/account/security/recovery-codes")
    assert again.status_code == 200 and "<code>" in again.get_data(as_text=True), "new codes are shown"


def test_each_second_factor_change_needs_a_recent_authentication(client, make_user):
    owner = make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    set_up_totp(client)
    with database.connection_context():
        key = PasskeyCredential.create(user=owner.id, credential_id="AAAA", public_key="AAAA", name="Phone")
    token = csrf_token_from(client.get("/account/security").get_data(as_text=True))
    age_sign_in("ada@example.org")

    for action, data in [("/account/security/totp/remove", {"secret": PASSWORD}),
                         ("/account/security/recovery-codes", {}),
                         (f"/account/security/passkeys/{key.id}/rename", {"name": "Laptop"}),
                         (f"/account/security/passkeys/{key.id}/remove", {})]:
        response = client.post(action, data={**data, "csrf_token": token})
        assert confirm_location(response).startswith("/account/confirm?next="), action
    for action in ("/account/security/passkeys/options", "/account/security/passkeys"):
        response = client.post(action, json={}, headers={"X-CSRFToken": token, "Accept": "application/json"})
        assert response.status_code == 401, action
        assert response.get_json()["redirect"].startswith("/account/confirm?next=")

    with database.connection_context():
        assert TotpFactor.select().count() == 1
        assert PasskeyCredential.get_by_id(key.id).name == "Phone"
    assert events(audit.MFA_REMOVED) == events(audit.RECOVERY_CODES_REGENERATED) == []


def test_signing_out_other_devices_needs_a_recent_authentication_but_signing_out_here_does_not(app, client, make_user):
    make_user("ada@example.org")
    other = app.test_client()
    sign_in_with_password(other, "ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    with database.connection_context():
        other_id, mine_id = [row.id for row in UserSession.select().order_by(UserSession.id)]
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    age_sign_in("ada@example.org")

    for action in (f"/account/sessions/{other_id}/end", "/account/sessions/end-others"):
        response = client.post(action, data={"csrf_token": token})
        assert confirm_location(response) == "/account/confirm?next=" + quote("/account#sessions", safe="/"), action
    assert is_signed_in(other), "nothing ended without the confirmation"

    html = client.get("/account/confirm?next=/account%23sessions").get_data(as_text=True)
    client.post("/account/confirm?next=/account%23sessions", data={"secret": PASSWORD,
                                                                   "csrf_token": csrf_token_from(html)})
    assert client.post("/account/sessions/end-others", data={"csrf_token": token}).status_code == 302
    assert not is_signed_in(other)

    age_sign_in("ada@example.org")
    client.post(f"/account/sessions/{mine_id}/end", data={"csrf_token": token})
    assert not is_signed_in(client), "signing this device out is never held up"


def test_the_forced_enrolment_after_the_password_is_not_asked_again(client, make_user):
    make_user("root@example.org", role="admin")
    response = sign_in_with_password(client, "root@example.org")
    assert response.headers["Location"].endswith("/account/security/enrol")

    _secret, codes, confirmed = set_up_totp(client)

    assert len(codes) == 10 and confirmed.status_code == 200
    assert is_signed_in(client)


def test_a_remembered_device_that_resumes_is_not_recent(client, make_user):
    make_user("ada@example.org")
    post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD, "remember": "y"})
    age_sign_in("ada@example.org")
    client.delete_cookie("oss_session")  # the browser was closed; the remember cookie resumes the session

    assert is_signed_in(client)
    assert confirm_location(client.get("/account/security/totp")).startswith("/account/confirm")


def test_the_confirm_page_returns_only_to_this_site_and_throttles_guesses(client, make_user):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    html = client.get("/account/confirm").get_data(as_text=True)
    token = csrf_token_from(html)

    outside = client.post("/account/confirm?next=//evil.example/x", data={"secret": PASSWORD, "csrf_token": token})
    assert confirm_location(outside) == "/account"

    statuses = [client.post("/account/confirm", data={"secret": f"wrong guess {n}", "csrf_token": token}).status_code
                for n in range(5)]
    assert statuses[:3] == [400, 400, 400] and statuses[-1] == 429, statuses
    refused = client.post("/account/confirm", data={"secret": PASSWORD, "csrf_token": token})
    assert refused.status_code == 429 and "Too many attempts" in refused.get_data(as_text=True), (
        "during the wait even the right password is not checked")


@pytest.mark.parametrize("data", [{}, {"secret": ""}, {"secret": "x" * 5000}, {"secret": "a\x00b"}])
def test_bad_input_on_the_confirm_page_gets_a_message(client, make_user, data):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    token = csrf_token_from(client.get("/account/confirm").get_data(as_text=True))

    response = client.post("/account/confirm", data={**data, "csrf_token": token})

    assert response.status_code == 400
    assert 'class="field-error"' in response.get_data(as_text=True)
    assert client.post("/account/confirm", data={"secret": PASSWORD}).status_code == 400, "no CSRF token"


@pytest.mark.parametrize("body", [None, {}, {"credential": "x"}, {"credential": {"id": "!!", "response": {}}}])
def test_a_bad_passkey_answer_on_the_confirm_page_is_refused_and_counted(client, make_user, body):
    owner = make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    age_sign_in("ada@example.org")
    token = csrf_token_from(client.get("/account/confirm").get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Accept": "application/json"}

    expired = client.post("/account/confirm/passkey", json={"credential": {}}, headers=headers)
    assert expired.status_code == 400 and "expired" in expired.get_json()["error"]
    assert "challenge" in client.post("/account/confirm/passkey/options", json={}, headers=headers).get_json()
    response = client.post("/account/confirm/passkey", json=body, headers=headers)

    assert response.status_code == 400 and "not accepted" in response.get_json()["error"]
    [failed] = events(audit.MFA_FAILED)
    assert (failed.subject_id, failed.details) == (owner.id, {"factor": "passkey"})
    assert confirm_location(client.get("/account/security/totp")).startswith("/account/confirm"), "still not confirmed"

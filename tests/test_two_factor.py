"""Two-factor sign-in through the real forms: an authenticator app (TOTP) set up and used, codes that work
once, the lock after wrong codes, recovery codes, roles that must set one up, and an admin's reset.

Codes are computed with pyotp from the secret the setup page shows, as a phone would; every factor change
is checked in the real audit record, every email in the real outbox.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import Any

import pyotp
import pytest

from core import audit
from core.db import database
from core.mfa import recovery, sealing, totp
from core.mfa.policy import role_requires_second_factor
from core.models import AuditEvent, PasskeyCredential, RecoveryCode, TotpFactor, User
from core.views.sign_in_flow import PENDING_KEY
from tests.conftest import csrf_token_from
from tests.test_accounts import PASSWORD, is_signed_in, path_of, post_form

DEFAULT_ROLES = ["admin", "facilitator", "staff"]


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The shipped default (staff must set up a second factor), with a lock after three wrong codes."""
    return {"accounts": {"mfa": {"required_roles": DEFAULT_ROLES, "max_failures": 3, "lock_minutes": 10}}}


def sign_in_with_password(client: Any, email: str, next_path: str = "") -> Any:
    """Submit the sign-in form; the response (a redirect)."""
    return post_form(client, "/login" + (f"?next={next_path}" if next_path else ""),
                     {"email": email, "password": PASSWORD})


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The code a phone shows `offset_steps` time steps from now."""
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * offset_steps))


def set_up_totp(client: Any) -> tuple[str, list[str], Any]:
    """On the setup page, read the key as a person would type it into their app, confirm with the current
    code; (secret, recovery codes shown, the confirming response)."""
    page = client.get("/account/security/totp")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    html = page.get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html).group(1)
    assert "<svg" in html, "the QR code is drawn on the server as SVG"
    response = client.post("/account/security/totp", data={"code": code_at(secret),
                                                           "csrf_token": csrf_token_from(html)})
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", response.get_data(as_text=True))
    return secret, codes, response


def submit_code(client: Any, code: str) -> Any:
    """Post a code on the second-step page."""
    return post_form(client, "/login/second-factor", {"code": code})


def events(action: str) -> list[AuditEvent]:
    """Audit events of one action, oldest first."""
    with database.connection_context():
        return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def enrolled_participant(client: Any, make_user: Any, email: str = "ada@example.org") -> tuple[Any, str, list[str]]:
    """A participant who turned on an authenticator app, then signed out."""
    user = make_user(email)
    sign_in_with_password(client, email)
    secret, codes, _ = set_up_totp(client)
    post_form(client, "/account", {}, action="/logout")
    assert not is_signed_in(client)
    return user, secret, codes


# The authenticator app ----------------------------------------------------------------------------

def test_a_participant_sets_up_an_app_gets_ten_recovery_codes_and_the_change_is_audited(client, make_user):
    user = make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")

    secret, codes, response = set_up_totp(client)

    assert response.status_code == 200
    assert len(codes) == 10 and len(set(codes)) == 10
    assert response.headers["Cache-Control"] == "no-store"
    with database.connection_context():
        stored = [row.code_hash for row in RecoveryCode.select()]
        assert len(stored) == 10 and not set(codes) & set(stored), "only salted hashes are stored"
        factor = TotpFactor.get(TotpFactor.user == user.id)
        assert factor.confirmed_at is not None
        assert secret not in factor.secret, "the secret is stored sealed under the instance key"
    [enrolled] = events(audit.MFA_ENROLLED)
    assert (enrolled.actor_id, enrolled.subject_id, enrolled.details) == (user.id, user.id, {"factor": "totp"})


def test_after_a_change_the_security_page_offers_to_sign_out_the_other_devices(app, client, make_user):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    assert "Sign out everywhere else" not in client.get("/account/security").get_data(as_text=True)
    laptop = app.test_client()
    sign_in_with_password(laptop, "ada@example.org")
    set_up_totp(client)

    page = client.get("/account/security").get_data(as_text=True)
    assert "signed in on 1 other device" in page
    post_form(client, "/account/security", {}, action="/account/sessions/end-others")

    assert not is_signed_in(laptop) and is_signed_in(client)


def test_a_wrong_code_does_not_turn_the_app_on(client, make_user):
    make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    page = client.get("/account/security/totp").get_data(as_text=True)

    response = client.post("/account/security/totp", data={"code": "000000", "csrf_token": csrf_token_from(page)})

    assert response.status_code == 400
    assert "That code does not match" in response.get_data(as_text=True)
    with database.connection_context():
        assert TotpFactor.select().count() == 0, "nothing is stored before a code confirms the app"
    assert events(audit.MFA_ENROLLED) == []


def test_with_an_app_the_password_alone_does_not_sign_in(client, make_user):
    _, secret, _ = enrolled_participant(client, make_user)

    response = sign_in_with_password(client, "ada@example.org", next_path="/questionnaire")

    assert response.status_code == 302 and response.headers["Location"].endswith("/login/second-factor")
    assert not is_signed_in(client), "half signed in is not signed in"
    assert submit_code(client, code_at(secret, 1)).headers["Location"] == "/questionnaire"
    assert is_signed_in(client)


def test_keep_me_signed_in_waits_for_the_second_factor(client, make_user):
    _, secret, _ = enrolled_participant(client, make_user)

    password = post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD, "remember": "y"})
    assert "remember" not in " ".join(password.headers.getlist("Set-Cookie")), "no lasting sign-in before the code"
    signed_in = submit_code(client, code_at(secret, 1))

    assert "oss_remember=" in " ".join(signed_in.headers.getlist("Set-Cookie"))


def test_a_code_is_accepted_only_once(client, app, make_user):
    _, secret, _ = enrolled_participant(client, make_user)
    code = code_at(secret, 1)  # the enrolment used the current step; the next one is still valid now
    sign_in_with_password(client, "ada@example.org")
    assert submit_code(client, code).status_code == 302

    other = app.test_client()
    sign_in_with_password(other, "ada@example.org")
    replayed = submit_code(other, code)

    assert replayed.status_code == 400
    assert "already used" in replayed.get_data(as_text=True)
    assert not is_signed_in(other)
    assert submit_code(other, code_at(secret, 0)).status_code == 400, "an older step than the last one is refused"
    assert [event.details for event in events(audit.MFA_FAILED)] == [{"factor": "totp"}] * 2


def test_wrong_codes_are_counted_and_lock_the_second_step(client, make_user):
    user, secret, _ = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")

    for _ in range(3):
        wrong = submit_code(client, "123456" if code_at(secret, 1) != "123456" else "654321")
        assert wrong.status_code == 400
    locked = submit_code(client, code_at(secret, 1))

    assert locked.status_code == 400
    assert "Too many wrong codes" in locked.get_data(as_text=True)
    assert not is_signed_in(client), "a right code does not pass while locked"
    assert len(events(audit.MFA_FAILED)) == 3
    [lock] = events(audit.ACCOUNT_LOCKED)
    assert (lock.subject_id, lock.details) == (user.id, {"reason": "second_factor", "minutes": 10})


def test_the_second_step_expires(client, make_user):
    _, secret, _ = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")
    token = csrf_token_from(client.get("/login/second-factor").get_data(as_text=True))
    with client.session_transaction() as session:
        session[PENDING_KEY] = {**session[PENDING_KEY], "at": int(time.time()) - 6 * 60}

    response = client.post("/login/second-factor", data={"code": code_at(secret, 1), "csrf_token": token})

    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert not is_signed_in(client)


def test_setting_up_a_required_factor_may_take_longer_but_not_for_ever(client, make_user):
    make_user("root@example.org", role="admin")
    sign_in_with_password(client, "root@example.org")

    def started_minutes_ago(minutes: int) -> None:
        with client.session_transaction() as session:
            session[PENDING_KEY] = {**session[PENDING_KEY], "at": int(time.time()) - minutes * 60}

    started_minutes_ago(20)
    assert client.get("/account/security/totp").status_code == 200, "installing an app takes a while"
    started_minutes_ago(31)
    assert client.get("/account/security/totp").headers["Location"].startswith("/login")


def test_an_emailed_sign_in_link_does_not_skip_the_second_factor(client, make_user, outbox):
    enrolled_participant(client, make_user)
    post_form(client, "/magic", {"email": "ada@example.org"})
    magic = next(path_of(link) for link in outbox.links(outbox.last_to("ada@example.org")) if "/magic/" in link)

    response = post_form(client, magic, {})

    assert response.headers["Location"].endswith("/login/second-factor")
    assert not is_signed_in(client)


def test_turning_the_app_off_needs_the_password_or_a_code(client, make_user):
    _, secret, _ = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")
    submit_code(client, code_at(secret, 1))

    refused = post_form(client, "/account/security", {"secret": "not my password"},
                        action="/account/security/totp/remove", follow_redirects=True)
    assert "neither your password nor a current code" in refused.get_data(as_text=True)
    post_form(client, "/account/security", {"secret": PASSWORD}, action="/account/security/totp/remove")

    with database.connection_context():
        assert TotpFactor.select().count() == 0 and RecoveryCode.select().count() == 0
    assert [event.details for event in events(audit.MFA_REMOVED)] == [{"factor": "totp"}]


# Recovery codes -----------------------------------------------------------------------------------

def test_a_recovery_code_works_once(client, app, make_user):
    user, _, codes = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")

    used = submit_code(client, codes[3].upper().replace("-", " "))  # typed loosely

    assert used.status_code == 302 and is_signed_in(client)
    [event] = events(audit.RECOVERY_CODE_USED)
    assert (event.subject_id, event.details) == (user.id, {"left": 9})
    other = app.test_client()
    sign_in_with_password(other, "ada@example.org")
    assert submit_code(other, codes[3]).status_code == 400
    assert not is_signed_in(other)


def test_new_recovery_codes_replace_the_old_ones(client, app, make_user):
    _, secret, old = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")
    submit_code(client, code_at(secret, 1))

    page = post_form(client, "/account/security", {}, action="/account/security/recovery-codes")
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page.get_data(as_text=True))

    assert len(new) == 10 and not set(new) & set(old)
    assert len(events(audit.RECOVERY_CODES_REGENERATED)) == 1
    other = app.test_client()
    sign_in_with_password(other, "ada@example.org")
    assert submit_code(other, old[0]).status_code == 400
    assert submit_code(other, new[0]).status_code == 302


def test_a_sealed_secret_opens_only_with_the_same_instance_key():
    sealed = sealing.seal("JBSWY3DPEHPK3PXP", b"instance key")

    assert sealing.unseal(sealed, b"instance key") == "JBSWY3DPEHPK3PXP"
    assert sealing.unseal(sealed, b"another key") is None
    assert sealing.unseal("not sealed at all", b"instance key") is None


def test_recovery_codes_are_read_forgivingly_and_stored_as_salted_password_hashes():
    assert recovery.normalise(" ABCDE fghjk ") == "abcde-fghjk"
    assert recovery.normalise("abcde-fghj") is None
    first, second = recovery.digest("abcde-fghjk"), recovery.digest("abcde-fghjk")
    assert first.startswith("$argon2id$") and first != second, "salted: the same code never hashes alike"
    assert recovery.matches(first, "abcde-fghjk") and recovery.matches(second, "abcde-fghjk")
    assert not recovery.matches(first, "abcde-fghjm")


# Roles that must have a second factor -------------------------------------------------------------

def test_staff_roles_must_have_a_second_factor_and_participants_may_choose():
    assert role_requires_second_factor("admin", DEFAULT_ROLES)
    assert role_requires_second_factor("facilitator", DEFAULT_ROLES)
    assert role_requires_second_factor("moderator", DEFAULT_ROLES), "a staff role added later is covered"
    assert not role_requires_second_factor("participant", DEFAULT_ROLES)
    assert not role_requires_second_factor("moderator", ["admin"])
    assert not role_requires_second_factor("admin", [])


def test_an_admin_without_a_second_factor_must_set_one_up_before_any_page(client, make_user):
    make_user("root@example.org", role="admin")

    response = sign_in_with_password(client, "root@example.org", next_path="/admin/")

    assert response.headers["Location"].endswith("/account/security/enrol")
    assert client.get("/admin/").status_code == 302, "not signed in until the factor is set up"
    assert client.get("/account/security/enrol").headers["Location"].endswith("/account/security/totp")
    _, codes, page = set_up_totp(client)
    assert len(codes) == 10
    assert 'href="/admin/"' in page.get_data(as_text=True), "after the codes, on to where they were going"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("oss_connect_settings", [{"accounts": {"mfa": {"required_roles": []}}}])
def test_with_no_required_roles_as_in_the_demo_an_admin_signs_in_with_the_password(client, make_user):
    make_user("root@example.org", role="admin")

    response = sign_in_with_password(client, "root@example.org", next_path="/admin/")

    assert response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_participant_is_not_asked_to_set_one_up(client, make_user):
    make_user("ada@example.org")

    response = sign_in_with_password(client, "ada@example.org")

    assert response.headers["Location"].endswith("/account")
    assert is_signed_in(client)


def test_a_required_role_cannot_turn_off_its_last_factor(client, make_user):
    make_user("root@example.org", role="admin")
    sign_in_with_password(client, "root@example.org")
    set_up_totp(client)

    page = post_form(client, "/account/security", {"secret": PASSWORD}, action="/account/security/totp/remove",
                     follow_redirects=True)

    assert "Your role needs a second factor" in page.get_data(as_text=True)
    with database.connection_context():
        assert TotpFactor.select().count() == 1
    assert events(audit.MFA_REMOVED) == []


# An admin's reset ---------------------------------------------------------------------------------

def signed_in_admin(app: Any, make_user: Any) -> Any:
    """A client signed in as an admin who set up an authenticator app (as the default roles require)."""
    make_user("root@example.org", role="admin")
    admin = app.test_client()
    sign_in_with_password(admin, "root@example.org")
    set_up_totp(admin)
    assert admin.get("/admin/").status_code == 200
    return admin


def test_an_admin_resets_a_second_factor_the_person_is_emailed_and_it_is_audited(client, app, make_user, outbox):
    user, _, _ = enrolled_participant(client, make_user)
    admin = signed_in_admin(app, make_user)
    lookup = admin.get("/admin/second-factor?email=ADA@example.org")
    assert "Reset ada@example.org" in lookup.get_data(as_text=True)

    response = admin.post(f"/admin/people/{user.id}/reset-second-factor",
                          data={"csrf_token": csrf_token_from(lookup.get_data(as_text=True))})

    assert response.status_code == 302
    with database.connection_context():
        assert (TotpFactor.select().count(), RecoveryCode.select().count()) == (1, 10), "only the admin's remain"
        root = User.by_email("root@example.org")
    mail = outbox.last_to("ada@example.org")
    assert mail.subject == "Your second factor was reset"
    [reset] = events(audit.MFA_RESET)
    assert (reset.actor_id, reset.subject_id, reset.ip_address) == (root.id, user.id, "127.0.0.1")
    assert reset.details == {"via": "admin", "removed": ["recovery_code", "totp"]}
    assert sign_in_with_password(client, "ada@example.org").headers["Location"].endswith("/account")


def test_someone_who_is_not_an_admin_cannot_reset_a_second_factor(client, app, make_user):
    victim, _, _ = enrolled_participant(client, make_user)
    make_user("eve@example.org")
    eve = app.test_client()
    sign_in_with_password(eve, "eve@example.org")
    token = csrf_token_from(eve.get("/account").get_data(as_text=True))

    assert eve.post(f"/admin/people/{victim.id}/reset-second-factor", data={"csrf_token": token}).status_code == 403
    assert eve.get("/admin/second-factor").status_code == 403
    assert client.post(f"/admin/people/{victim.id}/reset-second-factor").status_code in (302, 400)
    with database.connection_context():
        assert TotpFactor.select().count() == 1
    assert events(audit.MFA_RESET) == []


def test_the_cli_resets_a_second_factor(client, app, instance, make_user, runner, outbox):
    from core.cli import cli

    enrolled_participant(client, make_user)

    result = runner.invoke(cli, ["reset-second-factor", "ada@example.org",
                                 "--config", str(instance / "oss-connect.yaml")])

    assert result.exit_code == 0, result.output
    assert "is reset" in result.output
    assert outbox.last_to("ada@example.org").subject == "Your second factor was reset"
    [reset] = events(audit.MFA_RESET)
    assert (reset.actor_id, reset.details["via"]) == (None, "cli")
    unknown = runner.invoke(cli, ["reset-second-factor", "nobody@example.org",
                                  "--config", str(instance / "oss-connect.yaml")])
    assert unknown.exit_code == 1 and "no account" in unknown.output


# Bad input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [None, {}, {"credential": "x"}, {"credential": {"id": "!!", "response": {}}},
                                  {"credential": {"id": "AAAA", "rawId": "AAAA", "response": {"clientDataJSON": 1}}}])
def test_a_broken_passkey_answer_gets_a_clear_error_not_a_crash(client, make_user, body):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    assert client.post("/login/passkey/options", headers=headers).status_code == 200

    response = client.post("/login/passkey", json=body, headers=headers)

    assert response.status_code == 400
    assert response.get_json()["error"]
    with database.connection_context():
        assert PasskeyCredential.select().count() == 0


def test_the_second_step_without_a_password_first_goes_back_to_sign_in(client):
    response = client.get("/login/second-factor")

    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_a_code_of_the_last_accepted_time_step_or_earlier_does_not_match():
    secret = pyotp.random_base32()
    now = dt.datetime.now(dt.UTC)
    step = pyotp.TOTP(secret).timecode(now)
    code = pyotp.TOTP(secret).at(now)

    assert totp.matching_step(secret, code, last_step=step - 1, now=now) == step
    assert totp.matching_step(secret, code, last_step=step, now=now) is None
    assert totp.matching_step(secret, code[:5], last_step=0, now=now) is None
    later = now + dt.timedelta(seconds=90)
    assert totp.matching_step(secret, code, last_step=0, now=later) is None, "one step either side, no more"


def test_the_owner_is_emailed_about_every_change_to_how_they_sign_in(client, make_user, outbox):
    _, _, codes = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")
    submit_code(client, codes[0])
    post_form(client, "/account/security", {}, action="/account/security/recovery-codes")
    post_form(client, "/account/security", {"secret": PASSWORD}, action="/account/security/totp/remove")

    notices = [message.text for message in outbox.to("ada@example.org")
               if message.subject == "A change to how you sign in"]

    assert [text.split("\n")[2] for text in notices] == [
        "An authenticator app was set up as your second factor.",
        "A recovery code was used to sign in to your account.",
        "New recovery codes were made; the earlier ones no longer work.",
        "Your authenticator app was turned off as a second factor.",
    ]
    assert all("/account/security" in text for text in notices)


def test_waiting_at_the_second_step_does_not_allow_setting_up_another_factor(client, make_user):
    enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")  # the password only
    token = csrf_token_from(client.get("/login/second-factor").get_data(as_text=True))

    assert client.get("/account/security/totp").headers["Location"].startswith("/login")
    assert client.post("/account/security/passkeys/options", headers={"X-CSRFToken": token}).status_code == 401
    assert client.post("/account/security/passkeys", json={}, headers={"X-CSRFToken": token}).status_code == 401
    assert client.get("/account/security").status_code == 302
    assert not is_signed_in(client)


def test_one_code_sent_by_several_requests_at_once_signs_in_only_one(client, app, make_user):
    _, secret, _ = enrolled_participant(client, make_user)
    code = code_at(secret, 1)
    clients, tokens = [], []
    for _ in range(6):
        other = app.test_client()
        sign_in_with_password(other, "ada@example.org")
        tokens.append(csrf_token_from(other.get("/login/second-factor").get_data(as_text=True)))
        clients.append(other)
    start, results = threading.Barrier(len(clients)), []

    def send(other: Any, token: str) -> None:
        start.wait()
        results.append(other.post("/login/second-factor", data={"code": code, "csrf_token": token}).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [302] + [400] * 5


def test_nobody_can_rename_or_remove_someone_elses_passkey(client, make_user):
    owner = make_user("ada@example.org")
    make_user("eve@example.org")
    with database.connection_context():
        key = PasskeyCredential.create(user=owner.id, credential_id="AAAA", public_key="AAAA", name="Ada's phone")
    sign_in_with_password(client, "eve@example.org")

    renamed = post_form(client, "/account/security", {"name": "mine now"},
                        action=f"/account/security/passkeys/{key.id}/rename")
    removed = post_form(client, "/account/security", {}, action=f"/account/security/passkeys/{key.id}/remove")

    assert (renamed.status_code, removed.status_code) == (404, 404)
    with database.connection_context():
        assert PasskeyCredential.get_by_id(key.id).name == "Ada's phone"
    assert events(audit.PASSKEY_REMOVED) == []


def test_the_owner_renames_and_removes_a_passkey(client, make_user, outbox):
    owner = make_user("ada@example.org")
    sign_in_with_password(client, "ada@example.org")
    with database.connection_context():  # registered in the meantime (a real one: see the browser tests)
        key = PasskeyCredential.create(user=owner.id, credential_id="AAAA", public_key="AAAA", name="Phone")

    refused = post_form(client, "/account/security", {"name": "Old phone\u202e"},
                        action=f"/account/security/passkeys/{key.id}/rename")
    with database.connection_context():
        assert PasskeyCredential.get_by_id(key.id).name == "Phone", "a name with a bidi override is refused"
    assert "reverses the direction of text" in client.get(refused.headers["Location"]).get_data(as_text=True)
    post_form(client, "/account/security", {"name": "Old phone"}, action=f"/account/security/passkeys/{key.id}/rename")
    with database.connection_context():
        assert PasskeyCredential.get_by_id(key.id).name == "Old phone"
    post_form(client, "/account/security", {}, action=f"/account/security/passkeys/{key.id}/remove")

    with database.connection_context():
        assert PasskeyCredential.select().count() == 0
    [removed] = events(audit.PASSKEY_REMOVED)
    assert (removed.actor_id, removed.details) == (owner.id, {"passkey_id": key.id})
    assert "A passkey was removed" in outbox.last_to("ada@example.org").text


def test_a_password_reset_meanwhile_voids_the_waiting_second_step(client, make_user):
    user, _, _ = enrolled_participant(client, make_user)
    sign_in_with_password(client, "ada@example.org")
    with database.connection_context():
        User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()

    assert client.get("/login/second-factor").headers["Location"].endswith("/login")
    assert not is_signed_in(client)

"""Server-side sessions over HTTP: sign-out ends the session on the server, remember-me tokens are per
device and rotate, idle and absolute limits (stricter for staff), the account page's list of devices,
and the changes that end every other session."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core import audit
from core.db import database, utcnow
from core.models import AuditEvent, User, UserSession
from core.user_agents import coarse_place, describe_device
from tests.conftest import csrf_token_from
from tests.test_sessions import is_signed_in, sign_in

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")


def rows(user: Any) -> list[UserSession]:
    """The user's session rows, oldest first."""
    with database.connection_context():
        return list(UserSession.select().where(UserSession.user == user.id).order_by(UserSession.id))


def shift(user: Any, **changes: Any) -> None:
    """Move time: rewrite the timestamps of every session row of `user`."""
    with database.connection_context():
        UserSession.update(**changes).where(UserSession.user == user.id).execute()


def sign_out(client: Any) -> None:
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def cookie(client: Any, name: str) -> str | None:
    found = client.get_cookie(name, domain="localhost")
    return found.value if found else None


def events(action: str) -> list[AuditEvent]:
    with database.connection_context():
        return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def fresh_client(app: Any, **cookies: str) -> Any:
    """Another browser holding copies of these cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value, domain="localhost")
    return other


# --- sign-out ends the session on the server ----------------------------------------------------

def test_a_copied_session_cookie_replayed_after_sign_out_gets_the_sign_in_page(app, client, make_user):
    make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    copied = cookie(client, "oss_session")

    sign_out(client)

    replayed = fresh_client(app, oss_session=copied).get("/account")
    assert replayed.status_code == 302
    assert "/login" in replayed.headers["Location"]


def test_a_copied_remember_cookie_replayed_after_sign_out_is_refused(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    copied = cookie(client, "oss_remember")
    assert copied

    sign_out(client)

    assert not is_signed_in(fresh_client(app, oss_remember=copied))
    assert rows(ada) == []


def test_the_session_cookie_holds_a_random_key_and_the_database_only_its_hash(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")

    with client.session_transaction() as session:
        key = session["_oss_session"]
    [row] = rows(ada)
    assert len(key) >= 40
    assert row.key_hash != key and key not in row.key_hash


def test_signing_in_and_out_are_audited_with_the_session_id(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    [row] = rows(ada)

    sign_out(client)

    [signed_in] = events(audit.SIGN_IN)
    [signed_out] = events(audit.SIGN_OUT)
    assert signed_in.subject_id == signed_out.subject_id == ada.id
    assert signed_in.details == {"session_id": row.id, "remembered": False}
    assert signed_out.details == {"session_id": row.id}


def test_signing_in_again_ends_the_browsers_previous_session(client, make_user):
    ada = make_user("ada@example.org")
    make_user("bob@example.org")
    sign_in(client, "ada@example.org")
    client.get("/login")
    with client.session_transaction() as session:
        session.pop("_user_id")  # as if the page was left open signed out in another way

    sign_in(client, "bob@example.org")

    assert rows(ada) == []


# --- remember me: per device, hashed, rotated on use ---------------------------------------------

def test_the_remember_token_is_stored_hashed_per_device(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    laptop = cookie(client, "oss_remember")
    phone = app.test_client()
    sign_in(phone, "ada@example.org", remember=True)

    first, second = rows(ada)
    assert cookie(phone, "oss_remember") != laptop
    selector, validator = laptop.split(":")
    assert first.remember_selector == selector
    assert validator not in (first.remember_hash or "")
    assert second.remember_selector != selector


def test_remember_me_rotates_the_token_and_the_session_key_on_use(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    before = cookie(client, "oss_remember")
    [row] = rows(ada)
    client.delete_cookie("oss_session", domain="localhost")  # the browser was closed

    assert is_signed_in(client)

    after = cookie(client, "oss_remember")
    assert after != before
    assert after.split(":")[0] == before.split(":")[0], "the device keeps its selector"
    [rotated] = rows(ada)
    assert rotated.id == row.id
    assert rotated.key_hash != row.key_hash
    assert is_signed_in(client), "the new session key works on the next request"


def test_an_old_remember_token_is_refused_and_ends_that_devices_session(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    stolen = cookie(client, "oss_remember")
    client.delete_cookie("oss_session", domain="localhost")
    assert is_signed_in(client)  # the owner's browser used (and rotated) the token
    shift(ada, remember_rotated_at=utcnow() - dt.timedelta(minutes=5))

    assert not is_signed_in(fresh_client(app, oss_remember=stolen))

    assert rows(ada) == [], "a replayed token revokes the device, the owner signs in again"
    assert not is_signed_in(client)
    [revoked] = events(audit.SESSION_REVOKED)
    assert revoked.details["reason"] == "remember_token_replayed"


def test_a_second_tab_with_the_previous_token_a_moment_later_is_let_in_once(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    previous = cookie(client, "oss_remember")
    client.delete_cookie("oss_session", domain="localhost")
    assert is_signed_in(client)

    assert is_signed_in(fresh_client(app, oss_remember=previous))

    assert len(rows(ada)) == 1
    assert is_signed_in(client), "the tab that rotated the token keeps its session"


def test_an_expired_remember_token_signs_nobody_in(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    client.delete_cookie("oss_session", domain="localhost")
    shift(ada, remember_expires_at=utcnow() - dt.timedelta(seconds=1))

    assert not is_signed_in(client)
    assert rows(ada) == []


def test_a_malformed_or_old_style_remember_cookie_is_ignored_and_removed(app, make_user):
    ada = make_user("ada@example.org")
    browser = fresh_client(app, oss_remember=f"{ada.id}:1|" + "a" * 128)

    assert not is_signed_in(browser)
    assert cookie(browser, "oss_remember") is None


def test_staff_are_not_remembered_unless_the_config_allows_it(client, make_user):
    make_user("root@example.org", role="admin")

    response = sign_in(client, "root@example.org", remember=True)

    assert not any(h.startswith("oss_remember=") for h in response.headers.getlist("Set-Cookie"))
    assert cookie(client, "oss_remember") is None


# --- idle timeout and absolute lifetime ----------------------------------------------------------

def test_an_idle_session_ends(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")

    shift(ada, idle_expires_at=utcnow() - dt.timedelta(seconds=1))

    assert not is_signed_in(client)
    assert rows(ada) == []


def test_a_session_ends_at_its_absolute_lifetime_however_active(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")

    shift(ada, absolute_expires_at=utcnow() - dt.timedelta(seconds=1),
          idle_expires_at=utcnow() + dt.timedelta(minutes=20))

    assert not is_signed_in(client)


def test_activity_moves_the_idle_deadline_at_most_once_a_minute(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    [row] = rows(ada)
    assert is_signed_in(client)
    assert rows(ada)[0].last_seen_at == row.last_seen_at, "no write for a request within the minute"

    shift(ada, last_seen_at=utcnow() - dt.timedelta(minutes=10), idle_expires_at=utcnow() + dt.timedelta(minutes=20))
    assert is_signed_in(client)

    [touched] = rows(ada)
    assert abs((touched.last_seen_at - utcnow()).total_seconds()) < 30
    assert touched.idle_expires_at > utcnow() + dt.timedelta(minutes=29)


def test_the_status_check_does_not_count_as_activity(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    shift(ada, last_seen_at=utcnow() - dt.timedelta(minutes=10), idle_expires_at=utcnow() + dt.timedelta(minutes=20))

    status = client.get("/session/status").get_json()

    assert status["signed_in"] is True
    assert 19 * 60 < status["seconds_left"] <= 20 * 60
    assert status["warn"] is True and status["extendable"] is True
    assert rows(ada)[0].idle_expires_at < utcnow() + dt.timedelta(minutes=21)


def test_stay_signed_in_extends_the_idle_deadline_with_a_csrf_token_only(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    shift(ada, idle_expires_at=utcnow() + dt.timedelta(minutes=1))
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    shift(ada, idle_expires_at=utcnow() + dt.timedelta(minutes=1), last_seen_at=utcnow())

    assert client.post("/session/extend").status_code == 400

    answer = client.post("/session/extend", headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    assert answer.get_json()["seconds_left"] > 29 * 60


def test_near_the_absolute_lifetime_the_status_says_it_cannot_be_extended(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    soon = utcnow() + dt.timedelta(minutes=1)
    shift(ada, idle_expires_at=soon, absolute_expires_at=soon + dt.timedelta(seconds=5), last_seen_at=utcnow())

    status = client.get("/session/status").get_json()

    assert status["extendable"] is False
    assert status["seconds_left"] <= 60


def test_the_status_of_a_signed_out_browser_says_so(client):
    assert client.get("/session/status").get_json() == {"signed_in": False}
    assert client.post("/session/extend", headers={"X-CSRFToken": "nonsense"}).status_code == 400


@pytest.mark.parametrize(("role", "idle", "absolute"), [("participant", 30, 12), ("admin", 15, 8),
                                                         ("facilitator", 15, 8)])
def test_staff_sessions_have_stricter_limits(client, make_user, role, idle, absolute):
    person = make_user("someone@example.org", role=role)

    sign_in(client, "someone@example.org")

    [row] = rows(person)
    assert row.idle_expires_at - row.created_at == dt.timedelta(minutes=idle)
    assert row.absolute_expires_at - row.created_at == dt.timedelta(hours=absolute)


class TestConfiguredLimits:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {"accounts": {"sessions": {"idle_minutes": 5, "absolute_hours": 2, "staff_idle_minutes": 3,
                                          "staff_absolute_hours": 1, "remember_staff": True}}}

    def test_the_limits_come_from_the_config(self, client, make_user):
        person = make_user("someone@example.org")
        sign_in(client, "someone@example.org")

        [row] = rows(person)
        assert row.idle_expires_at - row.created_at == dt.timedelta(minutes=5)
        assert row.absolute_expires_at - row.created_at == dt.timedelta(hours=2)

    def test_remember_staff_lets_staff_keep_a_device(self, client, make_user):
        make_user("root@example.org", role="admin")

        sign_in(client, "root@example.org", remember=True)

        assert cookie(client, "oss_remember")


# --- the account page: where you're signed in -----------------------------------------------------

def test_the_account_page_lists_my_devices_with_this_one_marked(app, client, make_user):
    make_user("ada@example.org")
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX_WINDOWS
    sign_in(client, "ada@example.org")
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = SAFARI_IPHONE
    sign_in(phone, "ada@example.org")

    page = client.get("/account").get_data(as_text=True)

    assert "Where you&#39;re signed in" in page or "Where you're signed in" in page
    assert "Firefox on Windows" in page and "Safari on iPhone" in page
    assert page.count("This device") == 1
    assert page.index("This device") > page.index("Firefox on Windows")
    assert "127.0.0.0/24" in page
    assert "127.0.0.1" not in page
    assert "Sign out everywhere else" in page


def test_signing_out_another_device_from_the_account_page(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    phone = app.test_client()
    sign_in(phone, "ada@example.org")
    mine, theirs = rows(ada)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    response = client.post(f"/account/sessions/{theirs.id}/end", data={"csrf_token": token})

    assert response.status_code == 302
    assert not is_signed_in(phone)
    assert is_signed_in(client)
    assert [row.id for row in rows(ada)] == [mine.id]
    [revoked] = events(audit.SESSION_REVOKED)
    assert revoked.details == {"session_id": theirs.id, "reason": "revoked_by_user"}


def test_sign_out_everywhere_else_keeps_only_this_device(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    others = [app.test_client() for _ in range(2)]
    for other in others:
        sign_in(other, "ada@example.org", remember=True)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    client.post("/account/sessions/end-others", data={"csrf_token": token})

    assert is_signed_in(client)
    assert not any(is_signed_in(other) for other in others)
    assert len(rows(ada)) == 1
    [revoked] = events(audit.SESSIONS_REVOKED)
    assert revoked.details["count"] == 2 and revoked.details["reason"] == "revoked_by_user"


def test_nobody_can_sign_out_someone_elses_session(app, client, make_user):
    make_user("ada@example.org")
    bob = make_user("bob@example.org")
    sign_in(client, "ada@example.org")
    bobs_browser = app.test_client()
    sign_in(bobs_browser, "bob@example.org")
    [bobs] = rows(bob)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    client.post(f"/account/sessions/{bobs.id}/end", data={"csrf_token": token})

    assert is_signed_in(bobs_browser)


@pytest.mark.parametrize("session_id", ["0", "99999999999999999999"])
def test_an_id_no_session_can_have_answers_404(client, make_user, session_id):
    make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    response = client.post(f"/account/sessions/{session_id}/end", data={"csrf_token": token})

    assert response.status_code == 404
    assert is_signed_in(client)


@pytest.mark.parametrize("session_id", ["2147483648", str(2**63 - 1)])
def test_an_unknown_session_id_gets_a_message_not_an_error(client, make_user, session_id):
    make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    response = client.post(f"/account/sessions/{session_id}/end", data={"csrf_token": token}, follow_redirects=True)

    assert response.status_code == 200
    assert "That session had already ended." in response.get_data(as_text=True)
    assert is_signed_in(client)


def test_signing_out_this_device_from_the_list_signs_me_out(client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org", remember=True)
    [row] = rows(ada)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    client.post(f"/account/sessions/{row.id}/end", data={"csrf_token": token})

    assert not is_signed_in(client)
    assert cookie(client, "oss_remember") is None


def test_ending_a_session_needs_the_csrf_token(app, client, make_user):
    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    phone = app.test_client()
    sign_in(phone, "ada@example.org")
    theirs = rows(ada)[1]

    client.post(f"/account/sessions/{theirs.id}/end")
    client.post("/account/sessions/end-others")

    assert is_signed_in(phone)


# --- changes that end every other session --------------------------------------------------------

def test_a_password_reset_ends_every_session_of_the_account(app, client, make_user, outbox):
    ada = make_user("ada@example.org")
    phone = app.test_client()
    sign_in(phone, "ada@example.org", remember=True)
    token = csrf_token_from(client.get("/reset").get_data(as_text=True))
    client.post("/reset", data={"email": "ada@example.org", "csrf_token": token})
    link = next(url for url in outbox.links(outbox.last_to("ada@example.org")) if "/reset/" in url)
    path = link.split("localhost", 1)[-1] if "localhost" in link else "/" + link.split("/", 3)[3]
    form_token = csrf_token_from(client.get(path).get_data(as_text=True))

    response = client.post(path, data={"password": "a new long passphrase", "confirm": "a new long passphrase",
                                       "csrf_token": form_token})

    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert not is_signed_in(phone)
    assert is_signed_in(client), "the browser that reset the password is signed in afresh"
    assert len(rows(ada)) == 1
    assert events(audit.SESSIONS_REVOKED)[0].details["reason"] == "password_changed"
    [changed] = events(audit.PASSWORD_CHANGED)
    assert (changed.actor_id, changed.subject_id, changed.details) == (ada.id, ada.id, {"via": "reset"})


def test_an_email_change_ends_every_other_session(app, client, make_user):
    from core import sessions

    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    phone = app.test_client()
    sign_in(phone, "ada@example.org")

    with app.test_request_context(), database.connection_context():
        assert sessions.email_changed(ada.id, actor_id=None) == 2  # outside a session of hers: all of them

    assert not is_signed_in(client) and not is_signed_in(phone)


def test_set_role_ends_every_session_and_is_audited(app, client, make_user, runner, instance):
    from core.cli import cli

    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")

    result = runner.invoke(cli, ["set-role", "--config", str(instance / "oss-connect.yaml"),
                                 "ada@example.org", "facilitator"])

    assert result.exit_code == 0, result.output
    assert not is_signed_in(client)
    [changed] = events(audit.ROLE_CHANGED)
    assert changed.subject_id == ada.id and changed.details == {"from": "participant", "to": "facilitator"}


def test_create_admin_on_an_existing_account_ends_its_sessions_and_records_the_role_change(app, client, make_user):
    from core.accounts import create_admin

    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")

    with app.app_context(), database.connection_context():
        create_admin("ada@example.org", "another long passphrase")

    assert not is_signed_in(client)
    [changed] = events(audit.ROLE_CHANGED)
    assert changed.subject_id == ada.id and changed.details == {"from": "participant", "to": "admin"}
    assert events(audit.SESSIONS_REVOKED)[0].details["reason"] == "password_changed"


def test_suspension_ends_every_session(app, client, make_user):
    from core import safety

    ada = make_user("ada@example.org")
    root = make_user("root@example.org", role="admin")
    sign_in(client, "ada@example.org", remember=True)

    with app.test_request_context(), database.connection_context():
        safety.act(User.get_by_id(ada.id), root, "suspend")

    assert rows(ada) == []
    client.delete_cookie("oss_session", domain="localhost")
    assert not is_signed_in(client)
    [suspended] = events(audit.SUSPENDED)
    assert (suspended.actor_id, suspended.subject_id) == (root.id, ada.id)

    with app.test_request_context(), database.connection_context():
        safety.act(User.get_by_id(ada.id), root, "reinstate")
    [reinstated] = events(audit.REINSTATED)
    assert (reinstated.actor_id, reinstated.subject_id) == (root.id, ada.id)


def test_the_sweep_deletes_only_sessions_that_can_no_longer_be_used(app, client, make_user):
    from core.sessions import sweep_expired

    ada = make_user("ada@example.org")
    sign_in(client, "ada@example.org")
    sign_in(app.test_client(), "ada@example.org", remember=True)
    shift(ada, idle_expires_at=utcnow() - dt.timedelta(minutes=1))

    with app.app_context(), database.connection_context():
        assert sweep_expired() == 1

    [kept] = rows(ada)
    assert kept.remember_selector


# --- devices and places, described coarsely --------------------------------------------------------

@pytest.mark.parametrize(("agent", "expected"), [
    (FIREFOX_WINDOWS, "Firefox on Windows"),
    (SAFARI_IPHONE, "Safari on iPhone"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
     "Chrome on Linux"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
     "Safari/537.36 Edg/131.0", "Edge on macOS"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
     "Chrome on Android"),
    ("", "Unknown device"),
    (None, "Unknown device"),
    ("curl/8.5.0", "Unknown device"),
])
def test_the_device_is_described_from_the_user_agent(agent, expected):
    assert describe_device(agent) == expected


@pytest.mark.parametrize(("address", "expected"), [
    ("203.0.113.57", "203.0.113.0/24"),
    ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
    ("::ffff:198.51.100.7", "198.51.100.0/24"),
    ("not an address", ""),
    (None, ""),
])
def test_the_place_is_only_the_network(address, expected):
    assert coarse_place(address) == expected

"""Sign-in throttling per account and per address: a growing wait, a temporary lock with an emailed unlock
link, a cap per day, and the same answers whether or not the address has an account.

Time is moved by ageing the stored counts, never by sleeping.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest

from core import throttle
from core.audit import ACCOUNT_LOCKED, ACCOUNT_UNLOCKED, SIGN_IN_FAILED
from core.db import database, utcnow
from core.models import AccountLock, AuditEvent, ThrottleFailure
from tests.conftest import csrf_token_from, without_csrf

PASSWORD = "correct horse battery"
WRONG = "not my password at all"
NO_FLASK_LIMITS = {"accounts": {"rate_limits": {"login": "1000 per minute"}}}
settings = pytest.mark.parametrize("oss_connect_settings", [NO_FLASK_LIMITS], ids=["throttle"])


def sign_in(client: Any, email: str, password: str, address: str = "127.0.0.1") -> Any:
    """Post the sign-in form from `address`."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def age_counts(seconds: int) -> None:
    """Move every stored failure and lock `seconds` into the past, as if that time had gone by."""
    shift = dt.timedelta(seconds=seconds)
    with database.connection_context():
        for row in ThrottleFailure.select():
            row.created_at -= shift
            row.save()
        for lock in AccountLock.select():
            lock.created_at -= shift
            lock.locked_until -= shift
            lock.save()


def fail_times(client: Any, email: str, times: int, address: str = "127.0.0.1") -> list[int]:
    """`times` wrong passwords, each after the wait the previous one asked for; the status codes."""
    statuses = []
    for _ in range(times):
        age_counts(400)
        statuses.append(sign_in(client, email, WRONG, address).status_code)
    return statuses


def end_locks() -> None:
    """Let every lock run out."""
    with database.connection_context():
        AccountLock.update(locked_until=utcnow() - dt.timedelta(seconds=1)).execute()


def audit_events(action: str) -> list[AuditEvent]:
    with database.connection_context():
        return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def error_text(response: Any) -> str:
    """The page without its (always fresh) CSRF token."""
    return without_csrf(response.get_data(as_text=True))


@settings
def test_after_three_failures_the_next_attempt_waits_and_the_password_is_not_checked(client, make_user):
    make_user("ada@example.org")
    assert [sign_in(client, "ada@example.org", WRONG).status_code for _ in range(3)] == [400] * 3

    refused = sign_in(client, "ada@example.org", PASSWORD)

    assert refused.status_code == 429
    assert "Too many attempts; try again in 2 seconds." in error_text(refused)
    assert client.get("/account").status_code == 302


@settings
def test_the_wait_doubles_with_each_further_failure(client, make_user):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 5)

    refused = sign_in(client, "ada@example.org", PASSWORD)

    assert refused.status_code == 429
    assert "try again in 8 seconds" in error_text(refused)


@settings
def test_after_the_wait_the_right_password_signs_in_and_clears_the_count(client, make_user):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 4)
    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 429
    age_counts(400)

    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 302
    with database.connection_context():
        assert ThrottleFailure.select().where(ThrottleFailure.scope == throttle.ACCOUNT).count() == 0


@settings
def test_ten_failures_lock_the_account_and_email_its_owner_an_unlock_link(client, make_user, outbox):
    user = make_user("ada@example.org")

    assert fail_times(client, "ada@example.org", 10) == [400] * 10
    refused = sign_in(client, "ada@example.org", PASSWORD)

    assert refused.status_code == 429
    assert "this account is locked for 15 minutes" in error_text(refused)
    message = outbox.last_to("ada@example.org")
    assert "locked" in message.subject
    assert [event.subject_id for event in audit_events(ACCOUNT_LOCKED)] == [user.id]


@settings
def test_the_unlock_link_shows_a_button_and_only_its_post_unlocks(client, make_user, outbox):
    user = make_user("ada@example.org")
    fail_times(client, "ada@example.org", 10)
    link = next(urlsplit(url).path for url in outbox.links(outbox.last_to("ada@example.org")) if "/unlock/" in url)

    page = client.get(link)
    assert page.status_code == 200
    assert "Unlock my account" in page.get_data(as_text=True)
    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 429  # a GET unlocks nothing

    done = client.post(link, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})

    assert done.status_code == 200
    assert "Your account is unlocked" in done.get_data(as_text=True)
    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 302
    assert [(event.actor_id, event.subject_id) for event in audit_events(ACCOUNT_UNLOCKED)] == [(user.id, user.id)]
    assert client.get(link).status_code == 400  # single use


@settings
def test_a_lock_ends_by_itself(client, make_user):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 10)
    age_counts(400)
    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 429

    end_locks()

    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 302


@settings
def test_after_a_lock_ends_ten_more_failures_lock_again(client, make_user, outbox):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 10)
    end_locks()

    fail_times(client, "ada@example.org", 10)

    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 429
    assert len(audit_events(ACCOUNT_LOCKED)) == 2


@pytest.mark.parametrize("oss_connect_settings", [{**NO_FLASK_LIMITS, "accounts": {
    **NO_FLASK_LIMITS["accounts"], "throttle": {"lock_after": 2, "daily_cap": 4, "lock_minutes": 1}}}], ids=["cap-4"])
def test_the_daily_cap_locks_the_account_for_the_rest_of_the_day(client, make_user):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 2)
    end_locks()

    fail_times(client, "ada@example.org", 2)
    refused = sign_in(client, "ada@example.org", PASSWORD)

    assert refused.status_code == 429
    assert "locked for 24 hours" in error_text(refused)


@settings
def test_an_address_without_an_account_gets_the_same_answers_and_no_mail(client, make_user, outbox):
    make_user("ada@example.org")
    known = [*fail_times(client, "ada@example.org", 10), sign_in(client, "ada@example.org", WRONG).status_code]
    known_text = error_text(sign_in(client, "ada@example.org", WRONG))

    unknown = [*fail_times(client, "nobody@example.org", 10), sign_in(client, "nobody@example.org", WRONG).status_code]
    unknown_text = error_text(sign_in(client, "nobody@example.org", WRONG))

    assert known == unknown == [400] * 10 + [429]
    assert known_text.replace("ada@example.org", "X") == unknown_text.replace("nobody@example.org", "X")
    assert outbox.to("nobody@example.org") == []


@settings
def test_failed_sign_ins_are_audited_with_the_account_and_never_the_typed_address(client, make_user):
    user = make_user("ada@example.org")
    sign_in(client, "ada@example.org", WRONG)
    sign_in(client, "nobody@example.org", WRONG)

    events = audit_events(SIGN_IN_FAILED)

    assert [(event.subject_id, event.details) for event in events] == [
        (user.id, {"reason": "password"}), (None, {"reason": "password"})]
    with database.connection_context():
        stored = " ".join(f"{row.scope} {row.key}" for row in ThrottleFailure.select())
    assert "example.org" not in stored and "127.0.0.1" not in stored


@settings
def test_refused_attempts_are_audited_as_throttled(client, make_user):
    user = make_user("ada@example.org")
    fail_times(client, "ada@example.org", 3)

    sign_in(client, "ada@example.org", PASSWORD)

    assert audit_events(SIGN_IN_FAILED)[-1].details == {"reason": "throttled"}
    assert audit_events(SIGN_IN_FAILED)[-1].subject_id == user.id


@pytest.mark.parametrize("oss_connect_settings", [{**NO_FLASK_LIMITS, "accounts": {
    **NO_FLASK_LIMITS["accounts"], "throttle": {"address_free_failures": 3}}}], ids=["address-3"])
def test_one_address_trying_many_accounts_must_wait_but_other_addresses_need_not(client, make_user):
    make_user("ada@example.org")
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        assert sign_in(client, email, WRONG, address="192.0.2.9").status_code == 400

    refused = sign_in(client, "ada@example.org", PASSWORD, address="192.0.2.9")
    elsewhere = sign_in(client, "ada@example.org", PASSWORD, address="198.51.100.4")

    assert refused.status_code == 429
    assert elsewhere.status_code == 302


@pytest.mark.parametrize("oss_connect_settings", [{**NO_FLASK_LIMITS, "accounts": {
    **NO_FLASK_LIMITS["accounts"], "throttle": {"address_daily_cap": 5}}}], ids=["address-cap-5"])
def test_an_address_over_its_daily_cap_is_refused_for_the_day(client):
    fail_times(client, "someone@example.org", 5, address="192.0.2.9")

    refused = sign_in(client, "anyone@example.org", WRONG, address="192.0.2.9")

    assert refused.status_code == 429
    assert "try again in 24 hours" in error_text(refused)


def test_attempts_count_before_the_password_is_checked(app):
    """Parallel attempts cannot slip past: each is counted when it starts, before any password check."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.1"}), database.connection_context():
        attempts = [throttle.start_sign_in("ada@example.org") for _ in range(4)]

    assert [attempt.refusal is None for attempt in attempts] == [True, True, True, False]


@settings
def test_a_password_reset_lifts_the_lock(client, make_user, outbox):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 10)
    token = csrf_token_from(client.get("/reset").get_data(as_text=True))
    client.post("/reset", data={"email": "ada@example.org", "csrf_token": token})
    link = next(urlsplit(url).path for url in outbox.links(outbox.last_to("ada@example.org")) if "/reset/" in url)
    token = csrf_token_from(client.get(link).get_data(as_text=True))
    assert client.post(link, data={"password": "a brand new passphrase", "confirm": "a brand new passphrase",
                                   "csrf_token": token}).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/account").get_data(as_text=True))})

    assert sign_in(client, "ada@example.org", "a brand new passphrase").status_code == 302


def test_day_old_counts_and_locks_are_pruned(app, client, make_user):
    make_user("ada@example.org")
    fail_times(client, "ada@example.org", 10)  # 20 counts (account and address) and a lock

    with database.connection_context():
        for row in ThrottleFailure.select().order_by(ThrottleFailure.id.desc()).offset(2):  # all but the last
            row.created_at -= dt.timedelta(days=2)
            row.save()
        AccountLock.update(locked_until=utcnow() - dt.timedelta(days=2)).execute()
        removed = throttle.prune()
        left = ThrottleFailure.select().count()
        locks = AccountLock.select().count()

    assert (removed, left, locks) == (18 + 1, 2, 0)


def test_parallel_attempts_cannot_slip_past_the_count(app):
    """Eight attempts at the same moment, each on its own connection: exactly the free ones go ahead."""
    start = threading.Barrier(8)

    def attempt(_: int) -> bool:
        with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.1"}), database.connection_context():
            start.wait(timeout=30)
            return throttle.start_sign_in("ada@example.org").refusal is None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(attempt, range(8)))

    assert allowed.count(True) == 3

"""Sign-in throttling per account and per client address, account locks, and wrong event codes.

Counts live in the database (core.models.throttle), so they hold across server processes without
Redis. A sign-in attempt is counted before the password is checked and taken back when it succeeds,
inside one serialised transaction, so parallel attempts cannot slip past the count:

    attempt = throttle.start_sign_in(email)      # before accounts.authenticate
    user = None if attempt.refusal else accounts.authenticate(email, password)
    throttle.record_outcome(attempt, user)        # failure, or success (clears the account's count)
    if attempt.refusal: show attempt.refusal.message (429)

After `free_failures` failures on an account each further attempt waits 2, 4, 8, ... seconds; after
`lock_after` the account is locked for `lock_minutes` and its owner is emailed a single-use unlock
link; `daily_cap` failures in 24 hours lock it for the rest of that day. The same delay and a daily
cap apply per client address. An address without an account is counted and locked alike, so the
answers never tell whether an account exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any

import peewee
from flask import current_app
from huey import crontab

from core import accounts, audit
from core.db import database, utcnow
from core.mail import queue_email
from core.models import AccountLock, ThrottleFailure, User
from core.models.accounts import normalise_email
from core.urls import external_url

ACCOUNT, ADDRESS, CODE_USER, CODE_ADDRESS = "account", "address", "code_user", "code_address"
UNLOCK = "unlock"
UNLOCK_HOURS = 24
PRUNE_JOB = "prune_throttle"
DAY = dt.timedelta(hours=24)
THROTTLE_LOCK_KEY = 730_514_160  # PostgreSQL advisory lock that serialises the check-and-count


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused without being checked, and for how long."""

    seconds: int
    locked: bool = False

    @property
    def wait(self) -> str:
        """How long to wait, in words ("2 seconds", "15 minutes")."""
        return _duration(self.seconds)

    @property
    def message(self) -> str:
        """The answer for the person at the sign-in form."""
        wait = self.wait
        if self.locked:
            return (f"Too many failed sign-ins: this account is locked for {wait}. If it is yours, we have "
                    "emailed you a link that unlocks it now; you can also sign in with a link by email.")
        return f"Too many attempts; try again in {wait}."


@dataclass
class SignInAttempt:
    """One sign-in attempt: its keys, the rows that count it, and the refusal if it may not go ahead.

    `email` is the address as typed; it stays in memory and is never stored.
    """

    email: str
    account_key: str
    address_key: str
    refusal: Refusal | None = None
    row_ids: list[int] = field(default_factory=list)


@dataclass
class CodeAttempt:
    """One try of a cohort event code: the refusal if it may not go ahead, else the rows that count it."""

    refusal: Refusal | None
    row_ids: list[int] = field(default_factory=list)


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.accounts.throttle


def key_for(scope: str, value: str) -> str:
    """The stored key of `value` under `scope`: an HMAC with the instance secret (no email or address in clear)."""
    secret = str(current_app.secret_key or "").encode("utf-8")
    return hmac.new(secret, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()


def start_sign_in(email: str, address: str | None = None) -> SignInAttempt:
    """Check whether a sign-in may be tried now; if so count it as failed until `record_success` says otherwise.

    A refused attempt is recorded in the audit record (reason "throttled" or "locked") and not counted.
    """
    address = audit.client_address() if address is None else address
    attempt = SignInAttempt(email, key_for(ACCOUNT, normalise_email(email)), key_for(ADDRESS, address))
    now = utcnow()
    with database.atomic():
        _serialise()
        attempt.refusal = _account_refusal(attempt.account_key, now) or _address_refusal(attempt.address_key, now)
        if attempt.refusal is not None:
            user = User.by_email(email)
            audit.record_event(audit.SIGN_IN_FAILED, subject_id=user.id if user else None,
                               details={"reason": "locked" if attempt.refusal.locked else "throttled"})
            return attempt
        attempt.row_ids = [ThrottleFailure.create(scope=ACCOUNT, key=attempt.account_key, created_at=now).id,
                           ThrottleFailure.create(scope=ADDRESS, key=attempt.address_key, created_at=now).id]
    return attempt


def record_outcome(attempt: SignInAttempt, user: User | None) -> None:
    """After the password check: `user` is the signed-in account, or None when the password did not match
    (nothing to record for a refused attempt)."""
    if attempt.refusal is not None:
        return
    if user is None:
        record_failure(attempt)
    else:
        record_success(attempt, user)


def record_failure(attempt: SignInAttempt) -> None:
    """The password did not match: keep the attempt counted, audit it (subject: the account, if the address
    has one), and lock the account when due."""
    if attempt.refusal is not None:
        return
    user = User.by_email(attempt.email)
    settings = _settings()
    now = utcnow()
    with database.atomic():
        _serialise()
        audit.record_event(audit.SIGN_IN_FAILED, subject_id=user.id if user else None,
                           details={"reason": "password"})
        day = _failures(ACCOUNT, attempt.account_key, now - DAY)
        round_ = _failures(ACCOUNT, attempt.account_key, max(now - DAY, _last_lock_start(attempt.account_key)))
        if day.count() >= settings.daily_cap:
            oldest = day.order_by(ThrottleFailure.created_at).first()
            _lock(attempt.account_key, user, (oldest.created_at if oldest else now) + DAY)
        elif round_.count() >= settings.lock_after:
            _lock(attempt.account_key, user, now + dt.timedelta(minutes=settings.lock_minutes))


def record_success(attempt: SignInAttempt, user: User) -> None:
    """The password matched: the account's failures are cleared and this attempt no longer counts for the address."""
    with database.atomic():
        ThrottleFailure.delete().where((ThrottleFailure.scope == ACCOUNT)
                                       & (ThrottleFailure.key == attempt.account_key)).execute()
        if attempt.row_ids:
            ThrottleFailure.delete().where(ThrottleFailure.id.in_(attempt.row_ids)).execute()


def unlock(raw: str) -> User | None:
    """Spend an unlock link: lift the account's locks and clear its failures; None for a bad link."""
    with database.atomic():
        user = accounts.consume_token(raw, UNLOCK)
        if user is None:
            return None
        clear_account(user)
        audit.record_event(audit.ACCOUNT_UNLOCKED, actor_id=user.id, subject_id=user.id, details={"by": "link"})
    return user


def clear_account(user: User) -> bool:
    """Lift the account's locks and clear its failed sign-ins (its owner proved who they are, e.g. by a
    password reset); True when a lock was lifted."""
    key = key_for(ACCOUNT, user.email)
    with database.atomic():
        lifted = AccountLock.update(lifted_at=utcnow()).where(
            (AccountLock.key == key) & AccountLock.lifted_at.is_null()).execute()
        ThrottleFailure.delete().where((ThrottleFailure.scope == ACCOUNT) & (ThrottleFailure.key == key)).execute()
    return lifted > 0


def start_code_attempt(user_id: int, address: str | None = None) -> CodeAttempt:
    """Whether a cohort event code may be tried now (at most `code_attempts` wrong ones per account and per
    client address within `code_window_minutes`); if so, count it as wrong until `code_was_right`."""
    address = audit.client_address() if address is None else address
    settings = _settings()
    keys = [(CODE_USER, key_for(CODE_USER, str(user_id))), (CODE_ADDRESS, key_for(CODE_ADDRESS, address))]
    window = dt.timedelta(minutes=settings.code_window_minutes)
    now = utcnow()
    with database.atomic():
        _serialise()
        waits = []
        for scope, key in keys:
            recent = _failures(scope, key, now - window)
            if recent.count() >= settings.code_attempts:
                oldest = recent.order_by(ThrottleFailure.created_at).first()
                waits.append(_seconds_until(oldest.created_at + window, now))
        if waits:
            return CodeAttempt(Refusal(max(waits)))
        return CodeAttempt(None, [ThrottleFailure.create(scope=scope, key=key, created_at=now).id
                                  for scope, key in keys])


def code_was_right(attempt: CodeAttempt) -> None:
    """The code named an event: this attempt no longer counts."""
    if attempt.row_ids:
        ThrottleFailure.delete().where(ThrottleFailure.id.in_(attempt.row_ids)).execute()


def prune(older_than: dt.timedelta = DAY) -> int:
    """Delete counts and locks older than a day (they no longer matter); returns the rows deleted."""
    cutoff = utcnow() - older_than
    with database.atomic():
        failures = ThrottleFailure.delete().where(ThrottleFailure.created_at < cutoff).execute()
        locks = AccountLock.delete().where(AccountLock.locked_until < cutoff).execute()
    return failures + locks


# --- internals ---------------------------------------------------------------------------------

def _failures(scope: str, key: str, since: dt.datetime) -> peewee.ModelSelect:
    return ThrottleFailure.select().where((ThrottleFailure.scope == scope) & (ThrottleFailure.key == key)
                                         & (ThrottleFailure.created_at > since))


def _last_lock_start(key: str) -> dt.datetime:
    last = AccountLock.select(AccountLock.created_at).where(AccountLock.key == key).order_by(
        AccountLock.created_at.desc()).first()
    return last.created_at if last else dt.datetime.min.replace(tzinfo=dt.UTC)


def _account_refusal(key: str, now: dt.datetime) -> Refusal | None:
    lock = AccountLock.select().where((AccountLock.key == key) & AccountLock.lifted_at.is_null()
                                      & (AccountLock.locked_until > now)).order_by(
        AccountLock.locked_until.desc()).first()
    if lock is not None:
        return Refusal(_seconds_until(lock.locked_until, now), locked=True)
    settings = _settings()
    since = max(now - DAY, _last_lock_start(key))
    return _delay(_failures(ACCOUNT, key, since), settings.free_failures, now)


def _address_refusal(key: str, now: dt.datetime) -> Refusal | None:
    settings = _settings()
    day = _failures(ADDRESS, key, now - DAY)
    if day.count() >= settings.address_daily_cap:
        oldest = day.order_by(ThrottleFailure.created_at).first()
        return Refusal(_seconds_until(oldest.created_at + DAY, now))
    return _delay(day, settings.address_free_failures, now)


def _delay(failures: peewee.ModelSelect, free: int, now: dt.datetime) -> Refusal | None:
    """After `free` failures, the next attempt waits 2^(failures - free + 1) seconds (at most max_delay_seconds)
    after the last one."""
    count = failures.count()
    if count < free:
        return None
    last = failures.order_by(ThrottleFailure.created_at.desc()).first()
    wait = min(2 ** min(count - free + 1, 30), _settings().max_delay_seconds)
    allowed = last.created_at + dt.timedelta(seconds=wait)
    return Refusal(_seconds_until(allowed, now)) if allowed > now else None


def _lock(key: str, user: User | None, until: dt.datetime) -> None:
    """Lock the account (unless a lock at least as long is on) and email its owner an unlock link."""
    now = utcnow()
    current = AccountLock.select().where((AccountLock.key == key) & AccountLock.lifted_at.is_null()
                                         & (AccountLock.locked_until >= until)).exists()
    if current:
        return
    AccountLock.create(key=key, user_id=user.id if user else None, created_at=now, locked_until=until)
    if user is None or not user.is_active:
        return
    audit.record_event(audit.ACCOUNT_LOCKED, subject_id=user.id,
                       details={"minutes": math.ceil((until - now).total_seconds() / 60)})
    raw = accounts.issue_token(user, UNLOCK, dt.timedelta(hours=UNLOCK_HOURS))
    queue_email(user.email, "Your account is locked after failed sign-ins", "unlock",
                unlock_url=external_url("unlock.confirm", token=raw), until=_duration(
                    _seconds_until(until, now)), hours=UNLOCK_HOURS)


def _serialise() -> None:
    """Serialise check-and-count (SQLite's IMMEDIATE transactions already do; PostgreSQL takes an
    advisory lock for the transaction)."""
    real = database.obj
    if real is not None and not isinstance(real, peewee.SqliteDatabase):
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (THROTTLE_LOCK_KEY,))


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _duration(seconds: int) -> str:
    """`seconds` in words: "1 second", "45 seconds", "3 minutes", "2 hours"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = math.ceil(minutes / 60)
    return f"{hours} hours"


def register_throttle_jobs(jobs: Any) -> None:
    """Prune day-old counts and locks every hour."""
    jobs.periodic(PRUNE_JOB, crontab(minute="41"))(prune)

"""Account services: sign-up, verification, sign-in, password reset and magic links.

Views call these; each writes its changes in one transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from flask import current_app

from core import audit, session_cookies, sessions
from core.db import database, utcnow
from core.mail import queue_email
from core.models import AuthToken, User
from core.models.accounts import normalise_email
from core.security import hash_password, needs_rehash, verify_password
from core.urls import external_url

VERIFY, RESET, MAGIC, INVITE = "verify", "reset", "magic", "invite"
SEND_LINK_JOB = "send_account_link"
INVITE_DAYS = 14


def _settings():
    return current_app.extensions["oss_connect"].settings.accounts


def issue_token(user: User, purpose: str, lifetime: dt.timedelta) -> str:
    """Create a single-use token; only its hash is stored. Earlier unused ones of this purpose lapse."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    AuthToken.update(used_at=now).where(
        (AuthToken.user == user) & (AuthToken.purpose == purpose) & AuthToken.used_at.is_null()).execute()
    AuthToken.create(user=user, purpose=purpose, token_hash=AuthToken.hash(raw), expires_at=now + lifetime)
    return raw


def peek_token(raw: str, purpose: str) -> User | None:
    """The user a valid, unused token belongs to, without spending it (for GET pages)."""
    token = _valid_token(raw, purpose)
    return token.user if token else None


def consume_token(raw: str, purpose: str) -> User | None:
    """Spend a token once; a second use, an expired or unknown token gives None."""
    with database.atomic():
        token = _valid_token(raw, purpose)
        if token is None:
            return None
        spent = AuthToken.update(used_at=utcnow()).where(
            (AuthToken.id == token.id) & AuthToken.used_at.is_null()).execute()
        return token.user if spent == 1 else None


def _valid_token(raw: str, purpose: str) -> AuthToken | None:
    if not raw or len(raw) > 200:
        return None
    token = AuthToken.get_or_none((AuthToken.token_hash == AuthToken.hash(raw)) & (AuthToken.purpose == purpose))
    if token is None or token.used_at is not None or token.expires_at <= utcnow() or not token.user.is_active:
        return None
    return token


def sign_up(email: str, password: str) -> User | None:
    """Create an unverified account and mail a verification link.

    If the address already has an account, mail its owner instead and return None, so the page
    looks the same either way and nobody learns who has an account.
    """
    email = normalise_email(email)
    existing = User.by_email(email)
    if existing is not None:
        hash_password(password)  # the same work as a new account, so timing tells nothing either
        queue_email(email, "Someone tried to sign up with your address", "signup_exists",
                    login_url=external_url("auth.login"), reset_url=external_url("auth.reset_request"))
        return None
    with database.atomic():
        user = User.create(email=email, password_hash=hash_password(password))
    send_verification(user)
    return user


def send_verification(user: User) -> None:
    """Mail a fresh verification link."""
    raw = issue_token(user, VERIFY, dt.timedelta(hours=_settings().verification_hours))
    queue_email(user.email, "Confirm your email address", "verify",
                verify_url=external_url("auth.verify", token=raw), hours=_settings().verification_hours)


def verify_email(raw: str) -> User | None:
    """Spend a verification token and mark the address verified."""
    user = consume_token(raw, VERIFY)
    if user is not None and user.email_verified_at is None:
        user.email_verified_at = utcnow()
        user.save()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active account matching the credentials, upgrading an outdated hash; else None."""
    user = User.by_email(email)
    if user is None or not user.is_active:
        verify_password(None, password)  # equal time for unknown accounts
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        user.save()
    return user


def start_session(user: User, remember: bool = False) -> None:
    """Sign in with a fresh server-side session (the browser's previous one ends, its cookie contents are
    dropped); `remember` also gives this device a "keep me signed in" token. Records SIGN_IN."""
    session_cookies.start(user, remember=remember)
    user.last_login_at = utcnow()
    user.save()


def end_session() -> None:
    """Sign this browser out: its server-side session ends (open sockets included), both cookies go.
    Records SIGN_OUT."""
    session_cookies.end()


def request_link(kind: str, email: str) -> None:
    """Queue the job that mails a password-reset (RESET), sign-in (MAGIC) or new verification (VERIFY) link
    to `email` if it has an account that may have one.

    The request itself does the same work whether or not the address has an account (it does not even
    look it up), so how long it takes tells nobody who has one.
    """
    if kind not in _LINK_SENDERS:
        raise ValueError(f"no link of kind '{kind}'; use one of {', '.join(sorted(_LINK_SENDERS))}")
    current_app.extensions["oss_connect"].jobs.enqueue(SEND_LINK_JOB, kind, normalise_email(email)[:254],
                                                       audit.client_address())


def send_link_job(kind: str, email: str, address: str = "") -> None:
    """The job behind `request_link`: look the address up and mail the link only when there is an account."""
    _LINK_SENDERS[kind](email, address)


def register_account_jobs(jobs: Any) -> None:
    """Register the jobs of this module."""
    jobs.task(SEND_LINK_JOB, retries=3, retry_delay=30)(send_link_job)


def _resend_verification(email: str, address: str = "") -> None:
    user = User.by_email(email)
    if user is not None and user.is_active and not user.is_verified:
        send_verification(user)


def request_password_reset(email: str, address: str = "") -> None:
    """Mail a reset link if the address has an active account; otherwise do nothing visible."""
    user = User.by_email(email)
    if user is None or not user.is_active:
        return
    with database.atomic():
        audit.record_event(audit.PASSWORD_RESET_REQUESTED, subject_id=user.id, ip_address=address or None)
    raw = issue_token(user, RESET, dt.timedelta(minutes=_settings().reset_minutes))
    queue_email(user.email, "Reset your password", "reset",
                reset_url=external_url("auth.reset", token=raw), minutes=_settings().reset_minutes)


def reset_password(raw: str, password: str) -> User | None:
    """Spend a reset token, set the password and sign the account out everywhere."""
    return set_password_with_token(raw, password, RESET)


def set_password_with_token(raw: str, password: str, purpose: str) -> User | None:
    """Spend a reset or invitation token, set the password, sign the account out everywhere (every
    session ends, open sockets included); the link proved the address, so it counts as verified."""
    with database.atomic():
        user = consume_token(raw, purpose)
        if user is None:
            return None
        user.password_hash = hash_password(password)
        user.session_version += 1
        user.email_verified_at = user.email_verified_at or utcnow()
        user.save()
        sessions.end_all_for_user(user.id, sessions.PASSWORD_CHANGED, actor_id=user.id)
        audit.record_event(audit.PASSWORD_CHANGED, actor_id=user.id, subject_id=user.id, details={"via": purpose})
    return user


def change_password(user: User, password: str) -> int:
    """The signed-in owner chose a new password (having typed the current one): store it, end every other
    session (sessions.end_others; the session version is raised, so a half-finished sign-in with the old
    password is void too), audit PASSWORD_CHANGED and email the owner. Returns how many sessions ended.

    The caller starts a fresh session for this device afterwards (start_session): the current one ends.
    """
    with database.atomic():
        user.password_hash = hash_password(password)
        user.session_version += 1
        user.save()
        audit.record_event(audit.PASSWORD_CHANGED, actor_id=user.id, subject_id=user.id)
        ended = sessions.end_others(user.id, sessions.PASSWORD_CHANGED, actor_id=user.id)
    queue_email(user.email, "Your password was changed", "password_changed",
                reset_url=external_url("auth.reset_request"), account_url=external_url("auth.account"))
    return ended


def send_magic_link(email: str, address: str = "") -> None:
    """Mail a one-time sign-in link if the address has an active account."""
    user = User.by_email(email)
    if user is None or not user.is_active:
        return
    raw = issue_token(user, MAGIC, dt.timedelta(minutes=_settings().magic_link_minutes))
    queue_email(user.email, "Your sign-in link", "magic_link",
                magic_url=external_url("auth.magic_login", token=raw), minutes=_settings().magic_link_minutes)


def magic_login(raw: str) -> User | None:
    """Spend a magic-link token; the address counts as verified."""
    user = consume_token(raw, MAGIC)
    if user is not None and user.email_verified_at is None:
        user.email_verified_at = utcnow()
        user.save()
    return user


def send_invitation(user: User, note: str = "") -> None:
    """Mail an account made for someone (e.g. by an import) a link to set a password (valid 14 days)."""
    raw = issue_token(user, INVITE, dt.timedelta(days=INVITE_DAYS))
    queue_email(user.email, "You are invited to take part", "invite",
                invite_url=external_url("auth.welcome", token=raw), days=INVITE_DAYS, note=note)


_LINK_SENDERS: dict[str, Callable[[str, str], None]] = {
    RESET: request_password_reset, MAGIC: send_magic_link, VERIFY: _resend_verification}


def create_admin(email: str, password: str) -> tuple[User, bool]:
    """Create or promote an admin account (verified); returns (user, created)."""
    email = normalise_email(email)
    with database.atomic():
        user = User.by_email(email)
        created = user is None
        if user is None:
            user = User(email=email)
        previous_role = user.role
        user.password_hash = hash_password(password)
        user.role = "admin"
        user.is_active = True
        user.email_verified_at = user.email_verified_at or utcnow()
        user.save()
        if not created:  # a new password and perhaps a new role: the account's sessions end
            if previous_role != "admin":
                audit.record_event(audit.ROLE_CHANGED, subject_id=user.id,
                                   details={"from": previous_role, "to": "admin"})
            sessions.end_all_for_user(user.id, sessions.PASSWORD_CHANGED)
    return user, created

"""Server-side sessions: create, resolve, touch and end the sign-ins of a person, one row per device.

The signed session cookie holds only a random key; the UserSession row holds its SHA-256, the idle and
absolute expiry (`accounts.sessions`), the device and the coarse place. "Keep me signed in" is a
per-device token (selector and validator, the validator stored hashed and replaced on every use); a
replayed old validator ends that device's session. Ending a session deletes its row and disconnects its
Socket.IO connections at once. A session is never ended by a timeout while it has a connection in a
conversation's room: the room keeps it alive.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from flask import current_app, g, has_request_context, request
from peewee import fn

from core import audit
from core.config.schema import AccountSettings
from core.db import database, utcnow
from core.models import RoomConnection, SessionSocket, User, UserSession
from core.realtime import CURRENT_SESSION, drop_connections
from core.security import token_digest
from core.user_agents import coarse_place, describe_device

SESSION_KEY = "_oss_session"
"""Where Flask's signed session cookie keeps the random session key."""

TOUCH_EVERY = dt.timedelta(seconds=60)
"""Activity is written at most this often, so a request does not cost a database write."""

REMEMBER_GRACE = dt.timedelta(seconds=30)
"""How long the previous remember-me validator still works (two tabs restoring at once), without rotating."""

ROOM_HOLD_AT_MOST = dt.timedelta(hours=6)
"""A room connection older than this no longer keeps a session alive (one left behind by a crashed process)."""

_REMEMBER_SHAPE = re.compile(r"^([A-Za-z0-9_-]{16,32}):([A-Za-z0-9_-]{32,64})$")

# Why sessions end (the audit record's details hold these words).
SIGNED_OUT = "signed_out"
REVOKED_BY_USER = "revoked_by_user"
PASSWORD_CHANGED = "password_changed"
EMAIL_CHANGED = "email_changed"
ROLE_CHANGED = "role_changed"
SUSPENDED = "suspended"
ENDED_BY_ADMIN = "ended_by_admin"
REMEMBER_REPLAYED = "remember_token_replayed"


@dataclass(frozen=True)
class Started:
    """A new session: the raw key for the session cookie and, when remembered, the remember cookie's value."""

    record: UserSession
    key: str
    remember_cookie: str | None


def _settings() -> AccountSettings:
    return current_app.extensions["oss_connect"].settings.accounts


def is_staff(user: User) -> bool:
    """Every role other than participant counts as staff and gets the stricter limits."""
    return user.role != "participant"


def limits(user: User) -> tuple[dt.timedelta, dt.timedelta]:
    """(idle timeout, absolute lifetime) for this person's role."""
    config = _settings().sessions
    if is_staff(user):
        return dt.timedelta(minutes=config.staff_idle_minutes), dt.timedelta(hours=config.staff_absolute_hours)
    return dt.timedelta(minutes=config.idle_minutes), dt.timedelta(hours=config.absolute_hours)


def warning_seconds() -> int:
    """How long before an idle timeout the page warns."""
    return _settings().sessions.warning_seconds


def may_remember(user: User) -> bool:
    """Whether "keep me signed in" is offered to this person (staff only when `remember_staff`)."""
    return not is_staff(user) or _settings().sessions.remember_staff


def create(user: User, remember: bool = False) -> Started:
    """A new session row for `user` on the requesting device; returns the keys to put in cookies."""
    now = utcnow()
    idle, absolute = limits(user)
    key = secrets.token_urlsafe(32)
    agent = request.headers.get("User-Agent") if has_request_context() else None
    address = request.remote_addr if has_request_context() else None
    record = UserSession(key_hash=token_digest(key), user=user.id, session_version=user.session_version,
                         created_at=now, last_seen_at=now, authenticated_at=now,
                         idle_expires_at=min(now + idle, now + absolute), absolute_expires_at=now + absolute,
                         device=describe_device(agent), place=coarse_place(address))
    cookie = None
    if remember and may_remember(user):
        selector, validator = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        record.remember_selector = selector
        record.remember_hash = token_digest(validator)
        record.remember_rotated_at = now
        record.remember_expires_at = now + dt.timedelta(days=_settings().remember_days)
        cookie = f"{selector}:{validator}"
    record.save(force_insert=True)
    return Started(record, key, cookie)


def resolve(key: str | None, touch: bool = True) -> UserSession | None:
    """The live session with this key, its activity recorded when `touch`; None when there is none.

    A session past its idle or absolute expiry ends here, unless it has a connection in a
    conversation's room (then it is kept alive), or unless the device is remembered (then the row
    stays for the remember token to resume, with a new key).
    """
    if not key or not isinstance(key, str) or len(key) > 100:
        return None
    record = UserSession.get_or_none(UserSession.key_hash == token_digest(key))
    if record is None or not _account_still_valid(record):
        return None
    now = utcnow()
    if min(record.idle_expires_at, record.absolute_expires_at) <= now:
        if not in_room(record):
            if not _remembered(record, now):
                end(record, reason=None)
            return None
        touch = True
    if touch and (now - record.last_seen_at >= TOUCH_EVERY or record.idle_expires_at <= now):
        record = keep_alive(record, now)
    return record


def keep_alive(record: UserSession, now: dt.datetime | None = None) -> UserSession:
    """Record activity now: the idle deadline moves on (never past the absolute one, except in a room)."""
    now = now or utcnow()
    idle, _ = limits(record.user)
    deadline = now + idle
    if not in_room(record):
        deadline = min(deadline, record.absolute_expires_at)
    UserSession.update(last_seen_at=now, idle_expires_at=deadline).where(UserSession.id == record.id).execute()
    record.last_seen_at, record.idle_expires_at = now, deadline
    return record


def extendable(record: UserSession) -> bool:
    """Whether activity would move the end of this session by more than a minute (not when the absolute
    lifetime is what ends it)."""
    return record.absolute_expires_at - record.idle_expires_at > TOUCH_EVERY


def resume(cookie: str | None) -> tuple[UserSession, str | None, str | None] | None:
    """Use a remember-me cookie: (session, new key, new cookie value), or None when it is not valid.

    The validator is replaced on every use. The previous validator is accepted for REMEMBER_GRACE
    (two tabs restoring at once) without a new key; after that, presenting it means the token was
    copied, and the device's session ends.
    """
    match = _REMEMBER_SHAPE.match(cookie or "")
    if match is None:
        return None
    selector, validator = match.groups()
    record = UserSession.get_or_none(UserSession.remember_selector == selector)
    if record is None or not _account_still_valid(record):
        return None
    now = utcnow()
    if not _remembered(record, now):
        end(record, reason=None)
        return None
    digest = token_digest(validator)
    if secrets.compare_digest(digest, record.remember_hash or ""):
        return _rotate(record, now)
    if (record.remember_previous_hash and secrets.compare_digest(digest, record.remember_previous_hash)
            and record.remember_rotated_at and now - record.remember_rotated_at < REMEMBER_GRACE):
        return record, None, None
    with database.atomic():
        end(record, reason=REMEMBER_REPLAYED)
    return None


def _rotate(record: UserSession, now: dt.datetime) -> tuple[UserSession, str | None, str | None]:
    idle, absolute = limits(record.user)
    key, validator = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    changes = {"key_hash": token_digest(key), "remember_previous_hash": record.remember_hash,
               "remember_hash": token_digest(validator), "remember_rotated_at": now, "last_seen_at": now,
               "idle_expires_at": min(now + idle, now + absolute), "absolute_expires_at": now + absolute}
    updated = UserSession.update(**changes).where((UserSession.id == record.id)
                                                  & (UserSession.remember_hash == record.remember_hash)).execute()
    if updated != 1:  # another request rotated it a moment ago: this one gets no new key
        return record, None, None
    for name, value in changes.items():
        setattr(record, name, value)
    return record, key, f"{record.remember_selector}:{validator}"


def _account_still_valid(record: UserSession) -> bool:
    """The account is active and its sessions were not all ended by a session_version bump."""
    user = record.user
    if user.is_active and user.session_version == record.session_version:
        return True
    end(record, reason=None)
    return False


def _remembered(record: UserSession, now: dt.datetime) -> bool:
    return bool(record.remember_selector and record.remember_expires_at and record.remember_expires_at > now)


def in_room(record: UserSession) -> bool:
    """True while one of the session's sockets is in a conversation's room."""
    return (SessionSocket.select().join(RoomConnection, on=(RoomConnection.sid == SessionSocket.sid))
            .where((SessionSocket.session == record.id)
                   & (RoomConnection.connected_at > utcnow() - ROOM_HOLD_AT_MOST)).exists())


def current() -> UserSession | None:
    """The request's session row (after the user was loaded), or None."""
    return g.get(CURRENT_SESSION) if has_request_context() else None


def active_for(user_id: int) -> list[UserSession]:
    """The person's sessions that are live now or can be resumed (remembered), most recent first."""
    now = utcnow()
    live = ((UserSession.idle_expires_at > now) & (UserSession.absolute_expires_at > now))
    remembered = UserSession.remember_expires_at > now
    return list(UserSession.select().where((UserSession.user == user_id) & (live | remembered))
                .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()))


def _sockets_of(query: object) -> list[str]:
    return [sid for (sid,) in SessionSocket.select(SessionSocket.sid).where(SessionSocket.session.in_(query)).tuples()]


def end(record: UserSession, reason: str | None, actor_id: int | None = None) -> None:
    """End one session: delete its row and disconnect its sockets; a reason writes SESSION_REVOKED
    (None: it simply ran out, which is not audited)."""
    sids = _sockets_of(UserSession.select(UserSession.id).where(UserSession.id == record.id))
    UserSession.delete().where(UserSession.id == record.id).execute()
    if reason is not None and reason != SIGNED_OUT:
        audit.record_event(audit.SESSION_REVOKED, actor_id=actor_id, subject_id=record.user_id,
                           details={"session_id": record.id, "reason": reason})
    drop_connections(sids)


def end_one(user_id: int, session_id: int, actor_id: int | None = None) -> bool:
    """End one of `user_id`'s sessions by its id (from the account page); False when it is not theirs."""
    if not 0 < session_id < 2**63:  # beyond any id (SQLite cannot even compare it)
        return False
    record = UserSession.get_or_none((UserSession.id == session_id) & (UserSession.user == user_id))
    if record is None:
        return False
    with database.atomic():
        end(record, reason=REVOKED_BY_USER, actor_id=actor_id)
    return True


def end_others(user_id: int, reason: str, actor_id: int | None = None, keep: int | None = None) -> int:
    """End every session of `user_id` except `keep` (default: the current one when it is theirs);
    writes SESSIONS_REVOKED. Returns how many ended."""
    if keep is None:
        mine = current()
        keep = mine.id if mine is not None and mine.user_id == user_id else None
    query = UserSession.select(UserSession.id).where(UserSession.user == user_id)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    with database.atomic():
        sids = _sockets_of(query)
        ended = UserSession.delete().where(UserSession.id.in_(query)).execute()
        audit.record_event(audit.SESSIONS_REVOKED, actor_id=actor_id, subject_id=user_id,
                           details={"reason": reason, "count": ended, "kept_session_id": keep})
    drop_connections(sids)
    return ended


def end_all_for_user(user_id: int, reason: str, actor_id: int | None = None) -> int:
    """End every session of `user_id`, the current one included (suspension, a change made by staff)."""
    query = UserSession.select(UserSession.id).where(UserSession.user == user_id)
    with database.atomic():
        sids = _sockets_of(query)
        ended = UserSession.delete().where(UserSession.id.in_(query)).execute()
        audit.record_event(audit.SESSIONS_REVOKED, actor_id=actor_id, subject_id=user_id,
                           details={"reason": reason, "count": ended, "kept_session_id": None})
    drop_connections(sids)
    return ended


def end_everyone(reason: str, actor_id: int | None = None, keep: int | None = None) -> int:
    """End every session of every account except `keep` (an admin's "Sign everyone out": their own
    stays), their sockets included; writes one SESSIONS_REVOKED per account that had any. Returns how
    many ended."""
    query = UserSession.select(UserSession.id)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    with database.atomic():
        counts = {user_id: count for user_id, count in UserSession.select(UserSession.user, fn.COUNT(UserSession.id))
                  .where(UserSession.id.in_(query)).group_by(UserSession.user).tuples()}
        sids = _sockets_of(query)
        ended = UserSession.delete().where(UserSession.id.in_(query)).execute()
        for user_id, count in sorted(counts.items()):
            audit.record_event(audit.SESSIONS_REVOKED, actor_id=actor_id, subject_id=user_id,
                               details={"reason": reason, "count": count, "kept_session_id": keep, "scope": "all"})
    drop_connections(sids)
    return ended


def email_changed(user_id: int, actor_id: int | None = None) -> int:
    """Call after an account's email address changed: every other session of it ends (all of them
    when the change was not made from one of its own sessions)."""
    return end_others(user_id, EMAIL_CHANGED, actor_id=actor_id)


def sweep_expired() -> int:
    """Delete sessions that can no longer be used (expired and not remembered); the periodic job."""
    now = utcnow()
    dead = ((UserSession.idle_expires_at <= now) | (UserSession.absolute_expires_at <= now)) & (
        UserSession.remember_expires_at.is_null() | (UserSession.remember_expires_at <= now))
    in_rooms = (SessionSocket.select(SessionSocket.session)
                .join(RoomConnection, on=(RoomConnection.sid == SessionSocket.sid))
                .where(RoomConnection.connected_at > now - ROOM_HOLD_AT_MOST))
    return UserSession.delete().where(dead & UserSession.id.not_in(in_rooms)).execute()

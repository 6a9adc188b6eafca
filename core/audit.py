"""Append to and read the audit record: security events and staff actions, hash-chained.

Every event is written in the caller's transaction (a savepoint when one is open), so an action and
its record commit or roll back together. Events hold ids, kinds and the client address, never
personal data such as an email address or an answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import peewee
from flask import has_request_context, request

from core.db import database, utcnow
from core.models.audit import AuditEvent

GENESIS = "0" * 64
CHAIN_LOCK_KEY = 730_514_159  # PostgreSQL advisory lock that serialises appends to the chain

# The actions core records; plugins may record others (a short lower_snake_case name).
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
ACCOUNT_LOCKED = "account_locked"
ACCOUNT_UNLOCKED = "account_unlocked"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET_REQUESTED = "password_reset_requested"
EMAIL_CHANGED = "email_changed"
ROLE_CHANGED = "role_changed"
SESSION_REVOKED = "session_revoked"
SESSIONS_REVOKED = "sessions_revoked"
MFA_ENROLLED = "mfa_enrolled"
MFA_REMOVED = "mfa_removed"
MFA_RESET = "mfa_reset"
MFA_FAILED = "mfa_failed"
RECOVERY_CODE_USED = "recovery_code_used"
RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
PASSKEY_ADDED = "passkey_added"
PASSKEY_REMOVED = "passkey_removed"
SUSPENDED = "suspended"
REINSTATED = "reinstated"
REAUTHENTICATED = "reauthenticated"


def client_address() -> str:
    """The requesting client's address ('' outside a request)."""
    if not has_request_context():
        return ""
    return (request.remote_addr or "")[:45]


def record_event(action: str, *, actor_id: int | None = None, subject_id: int | None = None,
                 details: dict[str, Any] | None = None, ip_address: str | None = None) -> AuditEvent:
    """Append one event to the audit record, in the caller's transaction.

    `actor_id` is who acted (None for the system or an anonymous visitor), `subject_id` whose account
    it concerns; `details` holds ids and kinds only (never an email, a name or free text).
    """
    with database.atomic():
        _lock_chain()
        last = AuditEvent.select(AuditEvent.record_hash).order_by(AuditEvent.id.desc()).first()
        event = AuditEvent(created_at=utcnow().replace(microsecond=0), action=action, actor_id=actor_id,
                           subject_id=subject_id, ip_address=client_address() if ip_address is None else ip_address,
                           details=details or None, previous_hash=last.record_hash if last else GENESIS)
        event.record_hash = event_hash(event)
        event.save(force_insert=True)
    return event


def event_hash(event: AuditEvent) -> str:
    """The SHA-256 of an event's content and its predecessor's hash."""
    content = {
        "created_at": event.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "action": event.action,
        "actor_id": event.actor_id,
        "subject_id": event.subject_id,
        "ip_address": event.ip_address,
        "details": event.details,
        "previous_hash": event.previous_hash,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_chain() -> int | None:
    """None when the whole record is intact; else the id of the first event whose hash or link is wrong."""
    expected_previous = GENESIS
    for event in AuditEvent.select().order_by(AuditEvent.id).iterator():
        if event.previous_hash != expected_previous or event_hash(event) != event.record_hash:
            return event.id
        expected_previous = event.record_hash
    return None


def events_for(user_id: int, limit: int = 200) -> Iterator[AuditEvent]:
    """The newest events a person did or was the subject of."""
    query = (AuditEvent.select()
             .where((AuditEvent.actor_id == user_id) | (AuditEvent.subject_id == user_id))
             .order_by(AuditEvent.id.desc()).limit(limit))
    return iter(query)


def _lock_chain() -> None:
    """Serialise appends so two events never claim the same predecessor (SQLite's IMMEDIATE
    transactions already do; PostgreSQL takes a transaction-scoped advisory lock)."""
    real = database.obj
    if real is not None and not isinstance(real, peewee.SqliteDatabase):
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_KEY,))

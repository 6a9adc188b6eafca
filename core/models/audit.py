"""The audit record: an append-only, hash-chained list of security events and staff actions."""

from __future__ import annotations

import peewee

from core.db import BaseModel, JSONField, UTCDateTimeField, utcnow


class AuditEvent(BaseModel):
    """One security event or staff action: who did what to whom, when and from which address.

    It holds ids and kinds, never personal data itself (no email, no answer, no message text).
    `previous_hash` is the `record_hash` of the event before it, so a removed or edited row breaks
    the chain (`core.audit.verify_chain`).
    """

    created_at = UTCDateTimeField(default=utcnow, index=True)
    action = peewee.CharField(max_length=60, index=True)
    actor_id = peewee.IntegerField(null=True, index=True)
    subject_id = peewee.IntegerField(null=True, index=True)
    ip_address = peewee.CharField(max_length=45, default="")
    details = JSONField(null=True)
    previous_hash = peewee.CharField(max_length=64)
    record_hash = peewee.CharField(max_length=64, unique=True)

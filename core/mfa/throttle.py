"""The lock after too many wrong second-factor codes in a row (per account, whatever the address)."""

from __future__ import annotations

import datetime as dt

from core import audit
from core.db import database, utcnow
from core.models import SecondFactorThrottle, User


def locked_until(user: User) -> dt.datetime | None:
    """When the account's second step unlocks, or None when it is not locked now."""
    row = SecondFactorThrottle.get_or_none(SecondFactorThrottle.user == user)
    if row is None or row.locked_until is None or row.locked_until <= utcnow():
        return None
    return row.locked_until


def record_failure(user: User, kind: str, max_failures: int, lock_minutes: int) -> dt.datetime | None:
    """Count one wrong code of `kind` (totp, recovery_code, passkey) and write it to the audit record;
    at `max_failures` in a row the second step locks for `lock_minutes`. The lock's end, if it locked."""
    with database.atomic():
        row, _ = SecondFactorThrottle.get_or_create(user=user)
        failures = row.failures + 1
        until = None
        if failures >= max_failures:
            until = utcnow() + dt.timedelta(minutes=lock_minutes)
            failures = 0
        SecondFactorThrottle.update(failures=failures, locked_until=until or row.locked_until).where(
            SecondFactorThrottle.id == row.id).execute()
        audit.record_event(audit.MFA_FAILED, subject_id=user.id, details={"factor": kind})
        if until is not None:
            audit.record_event(audit.ACCOUNT_LOCKED, subject_id=user.id,
                               details={"reason": "second_factor", "minutes": lock_minutes})
    return until


def clear(user: User) -> None:
    """Forget the wrong codes after a correct one (or a reset)."""
    SecondFactorThrottle.delete().where(SecondFactorThrottle.user == user).execute()

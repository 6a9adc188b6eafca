"""Throttling: failed sign-ins and wrong event codes per account and per client address, and account locks.

Keys are keyed hashes (HMAC with the instance secret) of what they count, so the tables hold no email
address or client address in the clear, and an address nobody has an account for is counted the same way.
"""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow


class ThrottleFailure(BaseModel):
    """One failed attempt under one scope: `account` and `address` for sign-ins, `code_user` and
    `code_address` for cohort event codes. A sign-in attempt is written before the password is checked
    and removed again if it succeeds, so parallel attempts cannot slip past the count."""

    scope = peewee.CharField(max_length=20)
    key = peewee.CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "throttle_failure"
        indexes = ((("scope", "key", "created_at"), False),)


class AccountLock(BaseModel):
    """A temporary lock of an account (by its key) after too many failed sign-ins.

    `user_id` is the account's id when the address has one (its owner is emailed an unlock link); a
    lock on an address without an account looks the same from outside.
    """

    key = peewee.CharField(max_length=64, index=True)
    user_id = peewee.IntegerField(null=True, index=True)
    created_at = UTCDateTimeField(default=utcnow)
    locked_until = UTCDateTimeField()
    lifted_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "account_lock"

"""Second factors: an authenticator app (TOTP), single-use recovery codes, passkeys, and the lock after
too many wrong codes."""

from __future__ import annotations

import peewee

from core.db import BaseModel, JSONField, UTCDateTimeField, utcnow
from core.models.accounts import User


class TotpFactor(BaseModel):
    """A person's authenticator-app secret, sealed (core.mfa.sealing); active once `confirmed_at` is set
    (a code proved the setup).

    `last_step` is the 30-second time step of the last accepted code: a code of that step or an
    earlier one is refused, so every code works once.
    """

    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE", unique=True)
    secret = peewee.CharField(max_length=255)
    created_at = UTCDateTimeField(default=utcnow)
    confirmed_at = UTCDateTimeField(null=True)
    last_step = peewee.BigIntegerField(default=0)


class RecoveryCode(BaseModel):
    """One single-use recovery code; only its salted argon2id hash is stored."""

    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    code_hash = peewee.CharField(max_length=255)
    created_at = UTCDateTimeField(default=utcnow)
    used_at = UTCDateTimeField(null=True)


class PasskeyCredential(BaseModel):
    """A WebAuthn credential (passkey) a person registered: its id and public key, base64url-encoded."""

    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    credential_id = peewee.CharField(max_length=1400, unique=True)
    public_key = peewee.TextField()
    sign_count = peewee.BigIntegerField(default=0)
    transports = JSONField(null=True)
    name = peewee.CharField(max_length=60, default="Passkey")
    created_at = UTCDateTimeField(default=utcnow)
    last_used_at = UTCDateTimeField(null=True)


class SecondFactorThrottle(BaseModel):
    """Wrong second-factor codes in a row for one account, and until when its second step is locked."""

    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE", unique=True)
    failures = peewee.IntegerField(default=0)
    locked_until = UTCDateTimeField(null=True)

"""Server-side sign-in sessions (one row per signed-in device) and the Socket.IO connections they opened."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User


class UserSession(BaseModel):
    """A sign-in on one device. The browser holds a random key (in the signed session cookie); the row
    holds only its SHA-256, the idle and absolute expiry, and a coarse description of the device.

    A remembered device also holds a "keep me signed in" token: a selector (looked up) and the hash of
    a validator that changes every time the token is used; the previous hash is kept to recognise a
    replayed (stolen) token. Deleting the row signs the device out, its sockets included.
    """

    key_hash = peewee.CharField(max_length=64, unique=True)
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    session_version = peewee.IntegerField(default=1)
    created_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)
    authenticated_at = UTCDateTimeField(null=True)  # the sign-in, or the last "Confirm it's you" (core.reauth)
    idle_expires_at = UTCDateTimeField()
    absolute_expires_at = UTCDateTimeField(index=True)
    device = peewee.CharField(max_length=80, default="")
    place = peewee.CharField(max_length=64, default="")
    remember_selector = peewee.CharField(max_length=32, unique=True, null=True)
    remember_hash = peewee.CharField(max_length=64, null=True)
    remember_previous_hash = peewee.CharField(max_length=64, null=True)
    remember_rotated_at = UTCDateTimeField(null=True)
    remember_expires_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "user_session"


class SessionSocket(BaseModel):
    """An open Socket.IO connection and the session that opened it (removed when it closes)."""

    sid = peewee.CharField(max_length=64, unique=True)
    session = peewee.ForeignKeyField(UserSession, backref="+", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    connected_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "session_socket"

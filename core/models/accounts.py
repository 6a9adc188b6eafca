"""Accounts: people who sign in, and single-use tokens sent to them by email."""

from __future__ import annotations

from typing import Any

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow

ROLES = ("participant", "facilitator", "admin")


class User(BaseModel):
    """A person with an account: participant, facilitator or admin."""

    email = peewee.CharField(max_length=254, unique=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    role = peewee.CharField(max_length=20, default="participant", index=True)
    display_name = peewee.CharField(max_length=120, default="")
    time_zone = peewee.CharField(max_length=64, null=True)
    is_active = peewee.BooleanField(default=True)
    session_version = peewee.IntegerField(default=1)
    email_verified_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(null=True)

    # Flask-Login protocol -------------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The session identity; bumping session_version signs the user out everywhere."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def has_role(self, *roles: str) -> bool:
        """True when the user holds one of `roles` (admins hold every role)."""
        return self.role == "admin" or self.role in roles

    @classmethod
    def by_email(cls, email: str) -> User | None:
        """The user with this address (case-insensitive), or None."""
        return cls.get_or_none(cls.email == normalise_email(email))

    @classmethod
    def from_session_id(cls, session_id: str) -> User | None:
        """Resolve a Flask-Login id `ID:VERSION`; stale versions and inactive users resolve to None."""
        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = cls.get_or_none(cls.id == int(user_id))
        if user is None or not user.is_active or user.session_version != int(version):
            return None
        return user


class AuthToken(BaseModel):
    """A single-use token (verify email, reset password, magic link); only its hash is stored."""

    user = peewee.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    purpose = peewee.CharField(max_length=20)
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)

    @staticmethod
    def hash(token: str) -> str:
        """The stored form of a token."""
        from core.security import token_digest

        return token_digest(token)


def normalise_email(email: Any) -> str:
    """Addresses are compared trimmed and lower-cased."""
    return str(email or "").strip().lower()

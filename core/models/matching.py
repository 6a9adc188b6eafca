"""Matching: invitations between participants, the matches they lead to, and "not for me" choices."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User

INVITATION_STATES = ("open", "accepted", "declined", "expired", "cancelled")
INVITATION_SOURCES = ("suggestion", "auto", "cohort")


class Cohort(BaseModel):
    """A group for a partner event: participants join with its code; an admin pairs it at once."""

    code = peewee.CharField(max_length=40, unique=True)
    name = peewee.CharField(max_length=120)
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="cohorts_created")
    created_at = UTCDateTimeField(default=utcnow)
    paired_at = UTCDateTimeField(null=True)


class CohortMember(BaseModel):
    """A participant who joined a cohort."""

    cohort = peewee.ForeignKeyField(Cohort, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="cohort_memberships", on_delete="CASCADE")
    joined_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("cohort", "user"), True),)


class CohortPair(BaseModel):
    """A pair proposed for a cohort; an admin may edit the proposal before confirming it."""

    cohort = peewee.ForeignKeyField(Cohort, backref="pairs", on_delete="CASCADE")
    a = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    b = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    score = peewee.FloatField(default=0.0)
    status = peewee.CharField(max_length=12, default="proposed")  # proposed | confirmed
    created_at = UTCDateTimeField(default=utcnow)


class Invitation(BaseModel):
    """One participant asks another to talk; open until accepted, declined, expired or cancelled."""

    inviter = peewee.ForeignKeyField(User, backref="invitations_sent", on_delete="CASCADE")
    invitee = peewee.ForeignKeyField(User, backref="invitations_received", on_delete="CASCADE")
    status = peewee.CharField(max_length=12, default="open", index=True)
    source = peewee.CharField(max_length=12, default="suggestion")
    cohort = peewee.ForeignKeyField(Cohort, null=True, on_delete="SET NULL", backref="invitations")
    reason = peewee.TextField(default="")
    score = peewee.FloatField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField(index=True)
    responded_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("inviter", "invitee"), False), (("invitee", "status"), False))


class Match(BaseModel):
    """Two participants who agreed to talk (user a has the lower id); scheduling starts from here."""

    a = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    b = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    invitation = peewee.ForeignKeyField(Invitation, null=True, on_delete="SET NULL", backref="matches")
    cohort = peewee.ForeignKeyField(Cohort, null=True, on_delete="SET NULL", backref="matches")
    status = peewee.CharField(max_length=20, default="matched", index=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("a", "b"), False),)


class Dismissal(BaseModel):
    """"Not for me": a suggestion the participant hid."""

    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="dismissals")
    dismissed = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "dismissed"), True),)

"""The archive: each participant's decisions about a recording, the description both approve, the
deposits at each destination, and the site's own publications."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User
from core.models.scheduling import Conversation

DEPOSIT_STATUSES = ("pending", "running", "deposited", "failed", "withdrawn")
"""pending: waits for a worker; running: a worker holds the lease; deposited: the destination holds the
package named by `package_sha256`; failed: see error, retried at next_attempt_at; withdrawn: removed."""

PROPOSAL_STATUSES = ("proposed", "approved", "declined", "superseded")


class ArchiveConsent(BaseModel):
    """One decision of one participant about one recording; the newest row per person stands.

    Rows are never changed: a change of mind, or a withdrawal, is a new row, so the bag's consent
    record shows every decision with its release version, the text's SHA-256 and the time.
    """

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    deposit = peewee.BooleanField(default=False)
    public = peewee.BooleanField(default=False)
    broadcast = peewee.BooleanField(default=False)
    release_version = peewee.CharField(max_length=40)
    release_sha256 = peewee.CharField(max_length=64)
    decided_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "archive_consent"
        indexes = ((("conversation", "user", "decided_at"), False),)


class DescriptionProposal(BaseModel):
    """A title, summary and keywords one participant proposes for the recording; the other approves."""

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE")
    proposer = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    status = peewee.CharField(max_length=12, default="proposed")
    title = peewee.CharField(max_length=200)
    summary = peewee.TextField()
    keywords = peewee.TextField(default="[]")       # JSON lists of strings
    people = peewee.TextField(default="[]")
    places = peewee.TextField(default="[]")
    organisations = peewee.TextField(default="[]")
    languages = peewee.TextField(default="[]")      # ISO 639 codes
    location = peewee.CharField(max_length=200, default="")
    created_at = UTCDateTimeField(default=utcnow)
    decided_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    decided_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "description_proposal"


class Deposit(BaseModel):
    """A conversation's package at one destination: a small state machine, one row per pair."""

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE")
    destination = peewee.CharField(max_length=60)
    status = peewee.CharField(max_length=12, default="pending")
    package_sha256 = peewee.CharField(max_length=64, null=True)
    package_size = peewee.BigIntegerField(null=True)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(null=True)
    lease_owner = peewee.CharField(max_length=200, null=True)
    lease_until = UTCDateTimeField(null=True)
    progress = peewee.FloatField(default=0.0)
    progress_label = peewee.CharField(max_length=200, default="")
    receipt = peewee.TextField(null=True)           # JSON from the destination
    error = peewee.TextField(null=True)
    wanted = peewee.BooleanField(default=True)      # False once consent is gone: withdraw, never deposit
    held = peewee.BooleanField(default=False)       # an admin withdrew it: stays withdrawn until released
    by_hand = peewee.TextField(null=True)           # withdrawn here, but the institution must be told
    told_at = UTCDateTimeField(null=True)
    told_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    deposited_at = UTCDateTimeField(null=True)
    withdrawn_at = UTCDateTimeField(null=True)
    checked_at = UTCDateTimeField(null=True)
    check_ok = peewee.BooleanField(null=True)

    class Meta:
        table_name = "deposit"
        indexes = ((("conversation", "destination"), True),)


class Publication(BaseModel):
    """A conversation on the site's public archive ("Hear real conversations"), under a random slug."""

    conversation = peewee.ForeignKeyField(Conversation, backref="+", on_delete="CASCADE", unique=True)
    slug = peewee.CharField(max_length=40, unique=True)
    blob_key = peewee.CharField(max_length=300)
    content_type = peewee.CharField(max_length=60)
    size = peewee.BigIntegerField()
    sha256 = peewee.CharField(max_length=64)
    duration_seconds = peewee.FloatField(null=True)
    package_sha256 = peewee.CharField(max_length=64, null=True)
    published_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "publication"

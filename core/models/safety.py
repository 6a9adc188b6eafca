"""Safety: blocks (both ways, for good), reports, and what moderators did about them."""

from __future__ import annotations

import peewee

from core.db import BaseModel, UTCDateTimeField, utcnow
from core.models.accounts import User

REPORT_STATES = ("open", "dismissed", "warned", "suspended")
MODERATION_ACTIONS = ("dismiss", "warn", "suspend", "reinstate")


class Block(BaseModel):
    """`blocker` never wants to see `blocked` again; it hides each from the other."""

    blocker = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="blocks_made")
    blocked = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("blocker", "blocked"), True),)


class Report(BaseModel):
    """A participant reported another; it waits in the moderation queue until an admin acts."""

    reporter = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="reports_made")
    reported = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="reports_received")
    reason = peewee.CharField(max_length=40)
    details = peewee.TextField(default="")
    context = peewee.CharField(max_length=40, default="profile")
    status = peewee.CharField(max_length=12, default="open", index=True)
    created_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True)
    resolved_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")


class ModerationAction(BaseModel):
    """What an admin did about a participant (and the report that led to it)."""

    subject = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="moderation_history")
    admin = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    report = peewee.ForeignKeyField(Report, null=True, on_delete="SET NULL", backref="actions")
    action = peewee.CharField(max_length=12)
    note = peewee.TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)

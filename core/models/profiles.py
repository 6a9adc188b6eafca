"""Profiles: a participant's questionnaire answers (kept by question id and version) and consents."""

from __future__ import annotations

import peewee

from core.db import BaseModel, JSONField, UTCDateTimeField, utcnow
from core.models.accounts import User


class Profile(BaseModel):
    """One participant's questionnaire progress; `completed_at` is set while nothing is missing."""

    user = peewee.ForeignKeyField(User, unique=True, backref="profiles", on_delete="CASCADE")
    questionnaire_id = peewee.CharField(max_length=60)
    completed_version = peewee.IntegerField(null=True)
    completed_at = UTCDateTimeField(null=True, index=True)
    updated_at = UTCDateTimeField(default=utcnow)
    source = peewee.CharField(max_length=60, default="web")


class Answer(BaseModel):
    """One answer to one question, as given under one questionnaire version.

    `value` is None when the participant saw an optional question and left it blank. Answers of
    older versions are kept: the current answer is the row with the highest version.
    """

    user = peewee.ForeignKeyField(User, backref="answers", on_delete="CASCADE")
    questionnaire_id = peewee.CharField(max_length=60)
    question_id = peewee.CharField(max_length=60)
    version = peewee.IntegerField()
    value = JSONField(null=True)
    visibility = peewee.CharField(max_length=10, default="private")
    answered_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "questionnaire_id", "question_id", "version"), True),)


class Consent(BaseModel):
    """An explicit consent (e.g. to process political views), with the text's version and hash."""

    user = peewee.ForeignKeyField(User, backref="consents", on_delete="CASCADE")
    purpose = peewee.CharField(max_length=40, index=True)
    document_version = peewee.CharField(max_length=40)
    text_sha256 = peewee.CharField(max_length=64)
    given_at = UTCDateTimeField(default=utcnow)
    withdrawn_at = UTCDateTimeField(null=True)

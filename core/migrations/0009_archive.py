"""The archive: consent decisions, description proposals, deposits and publications."""

import datetime

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    now = datetime.datetime.utcnow

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class Conversation(Base):
        class Meta:
            table_name = "conversation"

    class ArchiveConsent(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        deposit = BooleanField(default=False)
        public = BooleanField(default=False)
        broadcast = BooleanField(default=False)
        release_version = CharField(max_length=40)
        release_sha256 = CharField(max_length=64)
        decided_at = DateTimeField(default=now)

        class Meta:
            table_name = "archive_consent"
            indexes = ((("conversation", "user", "decided_at"), False),)

    class DescriptionProposal(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        proposer = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        status = CharField(max_length=12, default="proposed")
        title = CharField(max_length=200)
        summary = TextField()
        keywords = TextField(default="[]")
        people = TextField(default="[]")
        places = TextField(default="[]")
        organisations = TextField(default="[]")
        languages = TextField(default="[]")
        location = CharField(max_length=200, default="")
        created_at = DateTimeField(default=now)
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        decided_at = DateTimeField(null=True)

        class Meta:
            table_name = "description_proposal"

    class Deposit(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        destination = CharField(max_length=60)
        status = CharField(max_length=12, default="pending")
        package_sha256 = CharField(max_length=64, null=True)
        package_size = BigIntegerField(null=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(null=True)
        lease_owner = CharField(max_length=200, null=True)
        lease_until = DateTimeField(null=True)
        progress = FloatField(default=0.0)
        progress_label = CharField(max_length=200, default="")
        receipt = TextField(null=True)
        error = TextField(null=True)
        wanted = BooleanField(default=True)
        held = BooleanField(default=False)
        by_hand = TextField(null=True)
        told_at = DateTimeField(null=True)
        told_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        created_at = DateTimeField(default=now)
        updated_at = DateTimeField(default=now)
        deposited_at = DateTimeField(null=True)
        withdrawn_at = DateTimeField(null=True)
        checked_at = DateTimeField(null=True)
        check_ok = BooleanField(null=True)

        class Meta:
            table_name = "deposit"
            indexes = ((("conversation", "destination"), True),)

    class Publication(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+", unique=True)
        slug = CharField(max_length=40, unique=True)
        blob_key = CharField(max_length=300)
        content_type = CharField(max_length=60)
        size = BigIntegerField()
        sha256 = CharField(max_length=64)
        duration_seconds = FloatField(null=True)
        package_sha256 = CharField(max_length=64, null=True)
        published_at = DateTimeField(default=now)

        class Meta:
            table_name = "publication"

    db.create_tables([ArchiveConsent, DescriptionProposal, Deposit, Publication])


def down(migrator, db):
    for table in ("publication", "deposit", "description_proposal", "archive_consent"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

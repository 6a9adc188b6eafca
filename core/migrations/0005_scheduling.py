"""Scheduling: conversations, proposed times, messages, agreements, reminders, no-shows, standby, live sessions."""

import datetime

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    now = datetime.datetime.utcnow

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class Cohort(Base):
        class Meta:
            table_name = "cohort"

    class Match(Base):
        class Meta:
            table_name = "match"

    class LiveSession(Base):
        title = CharField(max_length=120)
        starts_at = DateTimeField(index=True)
        region = CharField(max_length=80, default="")
        cohort = ForeignKeyField(Cohort, null=True, on_delete="SET NULL", backref="+")
        status = CharField(max_length=12, default="open")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        created_at = DateTimeField(default=now)
        paired_at = DateTimeField(null=True)

        class Meta:
            table_name = "live_session"

    class LiveRsvp(Base):
        session = ForeignKeyField(LiveSession, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        created_at = DateTimeField(default=now)
        present_at = DateTimeField(null=True)
        outcome = CharField(max_length=12, default="")

        class Meta:
            table_name = "live_rsvp"
            indexes = ((("session", "user"), True),)

    class Conversation(Base):
        match = ForeignKeyField(Match, null=True, on_delete="SET NULL", backref="+")
        a = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        b = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        status = CharField(max_length=12, default="proposing", index=True)
        starts_at = DateTimeField(null=True, index=True)
        duration_minutes = IntegerField(default=75)
        uid = CharField(max_length=120, unique=True)
        sequence = IntegerField(default=0)
        source = CharField(max_length=12, default="match")
        live_session = ForeignKeyField(LiveSession, null=True, on_delete="SET NULL", backref="+")
        facilitator = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        created_at = DateTimeField(default=now)
        updated_at = DateTimeField(default=now)

        class Meta:
            table_name = "conversation"

    class SlotProposal(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        proposer = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        starts_at = DateTimeField()
        status = CharField(max_length=12, default="proposed")
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "slot_proposal"

    class Message(Base):
        match = ForeignKeyField(Match, on_delete="CASCADE", backref="+")
        sender = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        body = TextField()
        masked = BooleanField(default=False)
        created_at = DateTimeField(default=now, index=True)

        class Meta:
            table_name = "message"

    class AgreementAcceptance(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        version = CharField(max_length=40)
        text_sha256 = CharField(max_length=64)
        accepted_at = DateTimeField(default=now)

        class Meta:
            table_name = "agreement_acceptance"
            indexes = ((("conversation", "user", "version"), True),)

    class ReminderSent(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        minutes_before = IntegerField()
        starts_at = DateTimeField()
        sent_at = DateTimeField(default=now)

        class Meta:
            table_name = "reminder_sent"
            indexes = ((("conversation", "user", "minutes_before", "starts_at"), True),)

    class NoShow(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        reporter = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        absent = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "no_show"
            indexes = ((("conversation", "absent"), True),)

    class Standby(Base):
        user = ForeignKeyField(User, on_delete="CASCADE", unique=True, backref="+")
        since = DateTimeField(default=now)
        until = DateTimeField(index=True)

        class Meta:
            table_name = "standby"

    db.create_tables([LiveSession, LiveRsvp, Conversation, SlotProposal, Message, AgreementAcceptance, ReminderSent,
                      NoShow, Standby])


def down(migrator, db):
    for table in ("standby", "no_show", "reminder_sent", "agreement_acceptance", "message", "slot_proposal",
                  "conversation", "live_rsvp", "live_session"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

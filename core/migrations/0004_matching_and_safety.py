"""Matching (cohorts, invitations, matches, dismissals) and safety (blocks, reports, moderation)."""

import datetime

from peewee import CharField, DateTimeField, FloatField, ForeignKeyField, Model, TextField


def up(migrator, db):
    now = datetime.datetime.utcnow

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class Cohort(Base):
        code = CharField(max_length=40, unique=True)
        name = CharField(max_length=120)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        created_at = DateTimeField(default=now)
        paired_at = DateTimeField(null=True)

        class Meta:
            table_name = "cohort"

    class CohortMember(Base):
        cohort = ForeignKeyField(Cohort, on_delete="CASCADE")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        joined_at = DateTimeField(default=now)

        class Meta:
            table_name = "cohort_member"
            indexes = ((("cohort", "user"), True),)

    class CohortPair(Base):
        cohort = ForeignKeyField(Cohort, on_delete="CASCADE")
        a = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        b = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        score = FloatField(default=0.0)
        status = CharField(max_length=12, default="proposed")
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "cohort_pair"

    class Invitation(Base):
        inviter = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        invitee = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        status = CharField(max_length=12, default="open", index=True)
        source = CharField(max_length=12, default="suggestion")
        cohort = ForeignKeyField(Cohort, null=True, on_delete="SET NULL", backref="+")
        reason = TextField(default="")
        score = FloatField(null=True)
        created_at = DateTimeField(default=now)
        expires_at = DateTimeField(index=True)
        responded_at = DateTimeField(null=True)

        class Meta:
            table_name = "invitation"
            indexes = ((("inviter", "invitee"), False), (("invitee", "status"), False))

    class Match(Base):
        a = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        b = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        invitation = ForeignKeyField(Invitation, null=True, on_delete="SET NULL")
        cohort = ForeignKeyField(Cohort, null=True, on_delete="SET NULL", backref="+")
        status = CharField(max_length=20, default="matched", index=True)
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "match"
            indexes = ((("a", "b"), False),)

    class Dismissal(Base):
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        dismissed = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "dismissal"
            indexes = ((("user", "dismissed"), True),)

    class Block(Base):
        blocker = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        blocked = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "block"
            indexes = ((("blocker", "blocked"), True),)

    class Report(Base):
        reporter = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        reported = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        reason = CharField(max_length=40)
        details = TextField(default="")
        context = CharField(max_length=40, default="profile")
        status = CharField(max_length=12, default="open", index=True)
        created_at = DateTimeField(default=now)
        resolved_at = DateTimeField(null=True)
        resolved_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")

        class Meta:
            table_name = "report"

    class ModerationAction(Base):
        subject = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        admin = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        report = ForeignKeyField(Report, null=True, on_delete="SET NULL")
        action = CharField(max_length=12)
        note = TextField(default="")
        created_at = DateTimeField(default=now)

        class Meta:
            table_name = "moderation_action"

    db.create_tables([Cohort, CohortMember, CohortPair, Invitation, Match, Dismissal, Block, Report,
                      ModerationAction])


def down(migrator, db):
    for table in ("moderation_action", "report", "block", "dismissal", "match", "invitation", "cohort_pair",
                  "cohort_member", "cohort"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

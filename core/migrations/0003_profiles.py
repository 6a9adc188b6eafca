"""Questionnaire profiles, answers by question id and version, and consents."""

import datetime

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Profile(Model):
        user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        questionnaire_id = CharField(max_length=60)
        completed_version = IntegerField(null=True)
        completed_at = DateTimeField(null=True, index=True)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)
        source = CharField(max_length=60, default="web")

        class Meta:
            database = db
            table_name = "profile"

    class Answer(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        questionnaire_id = CharField(max_length=60)
        question_id = CharField(max_length=60)
        version = IntegerField()
        value = TextField(null=True)
        visibility = CharField(max_length=10, default="private")
        answered_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "answer"
            indexes = ((("user", "questionnaire_id", "question_id", "version"), True),)

    class Consent(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        purpose = CharField(max_length=40, index=True)
        document_version = CharField(max_length=40)
        text_sha256 = CharField(max_length=64)
        given_at = DateTimeField(default=datetime.datetime.utcnow)
        withdrawn_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "consent"

    db.create_tables([Profile, Answer, Consent])


def down(migrator, db):
    for table in ("consent", "answer", "profile"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

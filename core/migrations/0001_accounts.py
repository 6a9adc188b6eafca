"""Accounts and single-use tokens."""

import datetime

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class User(Model):
        email = CharField(max_length=254, unique=True)
        password_hash = CharField(max_length=255, null=True)
        role = CharField(max_length=20, default="participant", index=True)
        display_name = CharField(max_length=120, default="")
        is_active = BooleanField(default=True)
        session_version = IntegerField(default=1)
        email_verified_at = DateTimeField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        last_login_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "user"

    class AuthToken(Model):
        user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
        purpose = CharField(max_length=20)
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "auth_token"

    db.create_tables([User, AuthToken])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "auth_token"')
    db.execute_sql('DROP TABLE IF EXISTS "user"')

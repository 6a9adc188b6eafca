"""Server-side sessions: one row per signed-in device, and the Socket.IO connections each opened."""

import datetime

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    now = datetime.datetime.utcnow

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class UserSession(Base):
        key_hash = CharField(max_length=64, unique=True)
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        session_version = IntegerField(default=1)
        created_at = DateTimeField(default=now)
        last_seen_at = DateTimeField(default=now)
        idle_expires_at = DateTimeField()
        absolute_expires_at = DateTimeField(index=True)
        device = CharField(max_length=80, default="")
        place = CharField(max_length=64, default="")
        remember_selector = CharField(max_length=32, unique=True, null=True)
        remember_hash = CharField(max_length=64, null=True)
        remember_previous_hash = CharField(max_length=64, null=True)
        remember_rotated_at = DateTimeField(null=True)
        remember_expires_at = DateTimeField(null=True)

        class Meta:
            table_name = "user_session"

    class SessionSocket(Base):
        sid = CharField(max_length=64, unique=True)
        session = ForeignKeyField(UserSession, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        connected_at = DateTimeField(default=now)

        class Meta:
            table_name = "session_socket"

    db.create_tables([UserSession, SessionSocket])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "session_socket"')
    db.execute_sql('DROP TABLE IF EXISTS "user_session"')

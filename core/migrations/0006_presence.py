"""Presence: when each participant opened a conversation's join page."""

import datetime

from peewee import DateTimeField, ForeignKeyField, Model


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

    class ConversationPresence(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE", backref="+")
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        first_seen_at = DateTimeField(default=now)
        last_seen_at = DateTimeField(default=now)

        class Meta:
            table_name = "conversation_presence"
            indexes = ((("conversation", "user"), True),)

    db.create_tables([ConversationPresence])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "conversation_presence"')

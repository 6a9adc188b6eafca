"""testkit_notes: the note table."""

import datetime

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    class TestkitNote(Model):
        text = CharField(max_length=200)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "testkit_note"

    db.create_tables([TestkitNote])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "testkit_note"')

"""The newsletter list, and each user's own time zone."""

import datetime

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    class NewsletterSubscriber(Model):
        email = CharField(max_length=254, unique=True)
        token_hash = CharField(max_length=64, index=True)
        privacy_version = CharField(max_length=40)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        confirmed_at = DateTimeField(null=True)
        unsubscribed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "newsletter_subscriber"

    db.create_tables([NewsletterSubscriber])
    migrator.migrate(migrator.add_column("user", "time_zone", CharField(max_length=64, null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("user", "time_zone"))
    db.execute_sql('DROP TABLE IF EXISTS "newsletter_subscriber"')

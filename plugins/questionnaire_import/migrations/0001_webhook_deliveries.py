"""questionnaire_import: the webhook deliveries seen recently (replay protection)."""

import datetime

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    class WebhookDelivery(Model):
        delivery_id = CharField(max_length=100, unique=True)
        received_at = DateTimeField(default=datetime.datetime.utcnow, index=True)

        class Meta:
            database = db
            table_name = "questionnaire_import_delivery"

    db.create_tables([WebhookDelivery])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "questionnaire_import_delivery"')

"""The audit record: append-only, hash-chained security events and staff actions."""

import datetime

from peewee import CharField, DateTimeField, IntegerField, Model, TextField


def up(migrator, db):
    class AuditEvent(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow, index=True)
        action = CharField(max_length=60, index=True)
        actor_id = IntegerField(null=True, index=True)
        subject_id = IntegerField(null=True, index=True)
        ip_address = CharField(max_length=45, default="")
        details = TextField(null=True)
        previous_hash = CharField(max_length=64)
        record_hash = CharField(max_length=64, unique=True)

        class Meta:
            database = db
            table_name = "audit_event"

    db.create_tables([AuditEvent])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "audit_event"')

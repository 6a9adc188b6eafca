"""Throttling: failed sign-ins and wrong event codes per account and per address, and account locks."""

import datetime

from peewee import CharField, DateTimeField, IntegerField, Model


def up(migrator, db):
    now = datetime.datetime.utcnow

    class ThrottleFailure(Model):
        scope = CharField(max_length=20)
        key = CharField(max_length=64)
        created_at = DateTimeField(default=now)

        class Meta:
            database = db
            table_name = "throttle_failure"
            indexes = ((("scope", "key", "created_at"), False),)

    class AccountLock(Model):
        key = CharField(max_length=64, index=True)
        user_id = IntegerField(null=True, index=True)
        created_at = DateTimeField(default=now)
        locked_until = DateTimeField()
        lifted_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "account_lock"

    db.create_tables([ThrottleFailure, AccountLock])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "throttle_failure"')
    db.execute_sql('DROP TABLE IF EXISTS "account_lock"')

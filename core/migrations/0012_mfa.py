"""Two-factor sign-in: authenticator-app secrets, recovery codes, passkeys and the wrong-code lock."""

import datetime

from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    now = datetime.datetime.utcnow

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class TotpFactor(Base):
        user = ForeignKeyField(User, on_delete="CASCADE", unique=True, backref="+")
        secret = CharField(max_length=255)
        created_at = DateTimeField(default=now)
        confirmed_at = DateTimeField(null=True)
        last_step = BigIntegerField(default=0)

        class Meta:
            table_name = "totp_factor"

    class RecoveryCode(Base):
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        code_hash = CharField(max_length=255)
        created_at = DateTimeField(default=now)
        used_at = DateTimeField(null=True)

        class Meta:
            table_name = "recovery_code"

    class PasskeyCredential(Base):
        user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        credential_id = CharField(max_length=1400, unique=True)
        public_key = TextField()
        sign_count = BigIntegerField(default=0)
        transports = TextField(null=True)
        name = CharField(max_length=60, default="Passkey")
        created_at = DateTimeField(default=now)
        last_used_at = DateTimeField(null=True)

        class Meta:
            table_name = "passkey_credential"

    class SecondFactorThrottle(Base):
        user = ForeignKeyField(User, on_delete="CASCADE", unique=True, backref="+")
        failures = IntegerField(default=0)
        locked_until = DateTimeField(null=True)

        class Meta:
            table_name = "second_factor_throttle"

    db.create_tables([TotpFactor, RecoveryCode, PasskeyCredential, SecondFactorThrottle])


def down(migrator, db):
    for table in ("second_factor_throttle", "passkey_credential", "recovery_code", "totp_factor"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')

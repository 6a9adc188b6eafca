"""Re-authentication: when each session last proved who is using it (sign-in or "Confirm it's you")."""

from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column("user_session", "authenticated_at", DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("user_session", "authenticated_at"))

"""The database: a peewee proxy bound at start-up to SQLite (default) or PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
from playhouse import db_url

from core.plugins_loader import StartupError

database = peewee.DatabaseProxy()

# Every SQLite transaction peewee opens (atomic(), transaction(), also through the proxy) begins
# IMMEDIATE: it takes the write lock at BEGIN, so a concurrent writer makes it wait (busy_timeout). A
# deferred transaction that reads and then writes fails at once with "database is locked" when another
# connection committed since its read (WAL cannot upgrade a stale snapshot). Nested levels are savepoints.
SQLITE_OPTIONS = {"lock_type": "IMMEDIATE", "check_same_thread": False}
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


class BaseModel(peewee.Model):
    """Base for every core and plugin model: bound to the instance database."""

    class Meta:
        database = database
        legacy_table_names = False


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """Use the open connection, or open one for the duration (and only then close it).

    Unlike peewee's `connection_context`, it never closes a connection somebody else opened, so a
    job that runs in-line inside a request (the immediate queue) leaves the request's transaction alone.
    """
    opened = database.is_closed()
    if opened:
        database.connect()
    try:
        yield
    finally:
        if opened and not database.is_closed():
            database.close()


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime; every stored timestamp is UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTimeField(peewee.DateTimeField):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime."""

    def db_value(self, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class JSONField(peewee.TextField):
    """A JSON value stored as text (portable across SQLite and PostgreSQL); None stays NULL."""

    def db_value(self, value: Any) -> Any:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)


def hide_password(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_database(url: str, instance_path: Path) -> peewee.Database:
    """A peewee database for `url`; relative SQLite paths live in the instance folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        relative = url[len("sqlite:///"):]
        path = (instance_path / relative).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, **SQLITE_OPTIONS)
    if url.startswith("sqlite:"):
        return db_url.connect(url, pragmas=SQLITE_PRAGMAS, **SQLITE_OPTIONS)
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return db_url.connect(url)


def bind_database(url: str, instance_path: Path, *, check: bool = True) -> peewee.Database:
    """Bind the proxy to the database at `url`; with `check`, fail clearly if it cannot be reached."""
    real = open_database(url, instance_path)
    database.initialize(real)
    if check:
        try:
            real.connect(reuse_if_open=True)
            real.execute_sql("SELECT 1")
        except Exception as error:  # driver errors differ; all mean "cannot reach it"
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StartupError(
                f"cannot connect to the database at {hide_password(url)}: {reason}; check database.url "
                "in the config and that the database server is running and accepts connections") from error
        finally:
            if not real.is_closed():
                real.close()
    return real

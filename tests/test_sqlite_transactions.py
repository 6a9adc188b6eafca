"""SQLite transactions begin IMMEDIATE: a transaction that reads, then writes after another connection
committed, waits for the lock instead of failing with "database is locked" (core.db.SQLITE_OPTIONS)."""

from __future__ import annotations

import threading
from pathlib import Path

import peewee

from core.db import open_database


def proxied(db: peewee.Database) -> peewee.DatabaseProxy:
    """The database behind a proxy, as the app uses it (core.db.database)."""
    proxy = peewee.DatabaseProxy()
    proxy.initialize(db)
    return proxy


def test_a_read_then_write_transaction_survives_a_concurrent_writer(tmp_path: Path) -> None:
    db = proxied(open_database("sqlite:///test.sqlite3", tmp_path))
    db.execute_sql("CREATE TABLE visit (who TEXT)")
    reader_has_read, writer_is_writing = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def read_then_write() -> None:  # like record_presence: look for the row, then write
        try:
            with db.connection_context(), db.atomic():
                db.execute_sql("SELECT count(*) FROM visit").fetchone()
                reader_has_read.set()
                writer_is_writing.wait(5)
                threading.Event().wait(0.3)  # the other write has been tried by now
                db.execute_sql("INSERT INTO visit VALUES ('reader')")
        except BaseException as error:
            errors.append(error)

    def write() -> None:
        try:
            reader_has_read.wait(5)
            with db.connection_context():
                writer_is_writing.set()
                db.execute_sql("INSERT INTO visit VALUES ('writer')")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read_then_write), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == [], errors
    with db.connection_context():
        assert sorted(row[0] for row in db.execute_sql("SELECT who FROM visit")) == ["reader", "writer"]


def test_a_nested_atomic_is_a_savepoint(tmp_path: Path) -> None:
    db = proxied(open_database("sqlite:///test.sqlite3", tmp_path))
    db.execute_sql("CREATE TABLE visit (who TEXT)")
    with db.connection_context(), db.atomic():
        db.execute_sql("INSERT INTO visit VALUES ('kept')")
        try:
            with db.atomic():
                db.execute_sql("INSERT INTO visit VALUES ('rolled back')")
                raise peewee.IntegrityError("stop")
        except peewee.IntegrityError:
            pass
    with db.connection_context():
        assert [row[0] for row in db.execute_sql("SELECT who FROM visit")] == ["kept"]

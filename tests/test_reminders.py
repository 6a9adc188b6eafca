"""Reminders: which one is due when (pinned times), and each goes out exactly once, also when the worker
is killed (kill -9) in the middle of sending and restarted."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import core.testing
from core.db import database, utcnow
from tests.conftest import free_port
from tests.test_jobs import EXECUTABLE, REDIS_BASE, WAIT, redis_db_for_worker, wait_until

START = dt.datetime(2026, 5, 4, 18, 0, tzinfo=dt.UTC)
REMINDERS = [1440, 15]


# --- which reminder is due (pure) -----------------------------------------------------------------

@pytest.mark.parametrize("minutes_before_start, expected", [
    (2000, None),        # too early for any
    (1440, 1440),        # exactly 24 hours before
    (1000, 1440),        # booked 16 hours ahead: the day-before reminder at once
    (16, 1440),          # still the day-before one until the 15-minute window opens
    (15, 15),            # the 15-minute one
    (10, 15),            # booked 10 minutes ahead: only the 15-minute one (the 24-hour one was overtaken)
    (0, None),           # started: nothing
    (-5, None),
])
def test_the_nearest_due_reminder(minutes_before_start, expected):
    from core.scheduling.reminders import due_reminder

    now = START - dt.timedelta(minutes=minutes_before_start)
    assert due_reminder(START, now, REMINDERS) == expected


def test_no_reminders_configured_means_none_due():
    from core.scheduling.reminders import due_reminder

    assert due_reminder(START, START - dt.timedelta(minutes=5), []) is None


# --- sending with pinned times (in-line jobs, outbox) ---------------------------------------------

def make_pair(make_user: Any) -> tuple[Any, Any]:
    return make_user("ana@example.org"), make_user("ben@example.org")


def schedule(app: Any, a: Any, b: Any, starts_at: dt.datetime = START) -> Any:
    from core.scheduling.conversations import create_conversation

    with app.app_context(), database.connection_context():
        return create_conversation(a.id, b.id, starts_at=starts_at)


def run(app: Any, now: dt.datetime) -> int:
    from core.scheduling.reminders import send_due_reminders

    with app.app_context(), database.connection_context():
        return send_due_reminders(now)


def test_each_reminder_once_per_person_with_the_links(app, make_user, outbox):
    a, b = make_pair(make_user)
    conversation = schedule(app, a, b)
    assert run(app, START - dt.timedelta(minutes=1441)) == 0
    assert run(app, START - dt.timedelta(minutes=1440)) == 2
    assert run(app, START - dt.timedelta(minutes=1439)) == 0  # the next minute: sent already
    assert run(app, START - dt.timedelta(minutes=15)) == 2
    assert run(app, START - dt.timedelta(minutes=10)) == 0
    assert run(app, START + dt.timedelta(minutes=1)) == 0
    for address in ("ana@example.org", "ben@example.org"):
        messages = outbox.to(address)
        assert len(messages) == 2, [message.subject for message in messages]
        assert all(message.subject.startswith("Reminder") for message in messages)
        assert "about 24 hours" in messages[0].subject and "15 minutes" in messages[1].subject
        for message in messages:
            assert f"/conversations/{conversation.id}" in message.text and "/tech-check" in message.text
    assert "ben@example.org" not in outbox.last_to("ana@example.org").text


def test_booked_ten_minutes_ahead_gets_only_the_last_reminder(app, make_user, outbox):
    a, b = make_pair(make_user)
    schedule(app, a, b)
    assert run(app, START - dt.timedelta(minutes=10)) == 2
    assert run(app, START - dt.timedelta(minutes=9)) == 0
    assert [message.subject for message in outbox.to("ana@example.org")] == [
        "Reminder: your conversation with A participant starts in 10 minutes"]


def test_a_moved_conversation_gets_fresh_reminders_and_a_cancelled_one_none(app, make_user, outbox):
    from core.models import Conversation, ReminderSent

    a, b = make_pair(make_user)
    conversation = schedule(app, a, b)
    assert run(app, START - dt.timedelta(minutes=15)) == 2
    later = START + dt.timedelta(days=2)
    with database.connection_context():
        Conversation.update(starts_at=later, sequence=1).where(Conversation.id == conversation.id).execute()
    assert run(app, later - dt.timedelta(minutes=1440)) == 2
    assert run(app, later - dt.timedelta(minutes=15)) == 2
    with database.connection_context():
        assert ReminderSent.select().count() == 6
        Conversation.update(status="cancelled").where(Conversation.id == conversation.id).execute()
        ReminderSent.delete().execute()
    assert run(app, later - dt.timedelta(minutes=10)) == 0
    assert len(outbox.to("ana@example.org")) == 3


def test_the_message_id_is_fixed_by_the_reminder(app):
    from core.scheduling.reminders import reminder_message_id

    with app.app_context():
        first = reminder_message_id(1, 2, 15, START)
        assert first == reminder_message_id(1, 2, 15, START.replace(tzinfo=None))
        assert first != reminder_message_id(1, 2, 15, START + dt.timedelta(minutes=1))
        assert first != reminder_message_id(1, 2, 1440, START) != reminder_message_id(1, 3, 15, START)


# --- exactly once with a real worker killed mid-send ----------------------------------------------

class StallingSmtp:
    """A real SMTP server (aiosmtpd) that stalls on the first message's DATA until told to refuse it."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.accepted: list[Any] = []
        self.stalled: list[Any] = []
        self.stalling = threading.Event()
        self.release = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if not self.stalled:
            self.stalled.append(message)
            self.stalling.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 aborted by the test"
        self.accepted.append(message)
        return "250 OK"

    def reminders_to(self, address: str) -> list[Any]:
        return [message for message in self.accepted if message["To"] == address
                and str(message["Subject"]).startswith("Reminder")]


@pytest.fixture
def smtp() -> Iterator[StallingSmtp]:
    server = StallingSmtp()
    server.controller.start()
    yield server
    server.release.set()
    server.controller.stop()


def start_worker(config: Path, log: Path) -> subprocess.Popen:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    with log.open("ab") as output:
        return subprocess.Popen([str(EXECUTABLE), "worker", "--config", str(config)], env=environment,
                                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


@pytest.fixture(params=["sqlite", "redis"])
def queue_settings(request: Any) -> Iterator[dict[str, Any]]:
    """The SQLite queue, and a real Redis (skipped without one, failing under CI=true)."""
    if request.param == "sqlite":
        yield {"backend": "sqlite", "workers": 1}
        return
    import redis

    url = f"{REDIS_BASE}/{redis_db_for_worker()}"
    connection = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        connection.flushdb()
    except redis.RedisError as error:
        core.testing.require_service("Redis", f"{url}: {error}")
    yield {"backend": "redis", "redis_url": url, "workers": 1}
    connection.flushdb()
    connection.close()


def test_each_reminder_exactly_once_when_the_worker_is_killed_mid_send(tmp_path, database_url, smtp,
                                                                         queue_settings):
    from core.api import create_user
    from core.app import create_app
    from core.models import ReminderSent
    from core.scheduling.conversations import create_conversation
    from core.scheduling.reminders import SEND_REMINDERS_NOW_JOB
    from core.testing import empty_tables

    config = tmp_path / "oss-connect.yaml"
    settings = core.testing.base_test_config(database_url, tmp_path, {
        "jobs": queue_settings,
        "mail": {"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": smtp.port, "use_tls": False,
                                             "timeout": 60}}})
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    site = create_app(config)
    jobs = site.extensions["oss_connect"].jobs
    log = tmp_path / "worker.log"
    try:
        with site.app_context(), database.connection_context():
            ana = create_user("ana@example.org", "correct horse battery", verified=True)
            ben = create_user("ben@example.org", "correct horse battery", verified=True)
            starts = utcnow() + dt.timedelta(minutes=10)  # the 15-minute reminder is due
            create_conversation(ana.id, ben.id, starts_at=starts)
        jobs.enqueue(SEND_REMINDERS_NOW_JOB)  # enqueued while no consumer runs

        worker = start_worker(config, log)
        try:
            assert smtp.stalling.wait(WAIT), log.read_text(errors="replace")
            worker.kill()  # kill -9 between the claim and the send's acknowledgement
            worker.wait(timeout=WAIT)
        finally:
            if worker.poll() is None:
                worker.kill()
        smtp.release.set()
        with database.connection_context():
            assert ReminderSent.select().count() == 0, "the killed worker's claim must roll back"
        assert smtp.accepted == []

        worker = start_worker(config, log)  # restarted; the next run (a tick, or this job) sends
        try:
            jobs.enqueue(SEND_REMINDERS_NOW_JOB)
            wait_until(lambda: len(smtp.accepted) >= 2, "both reminders after the restart")
            jobs.enqueue(SEND_REMINDERS_NOW_JOB)  # a later run sends nothing more
            wait_until(lambda: jobs.pending_count() == 0, "the second run")
            time.sleep(1.5)
        finally:
            stop(worker)

        for address in ("ana@example.org", "ben@example.org"):
            assert len(smtp.reminders_to(address)) == 1, [m["Subject"] for m in smtp.accepted]
        assert len(smtp.accepted) == 2
        resent = next(m for m in smtp.accepted if m["To"] == smtp.stalled[0]["To"])
        assert resent["Message-ID"] == smtp.stalled[0]["Message-ID"]  # the same message, not a second one
        with database.connection_context():
            assert ReminderSent.select().count() == 2
    finally:
        with database.connection_context():
            empty_tables()

"""Background jobs on huey: queued by the site, run by a real consumer (in-process or `oss-connect worker`).

The SQLite queue is the default; the Redis queue runs against a real Redis server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

import core.testing
from core.api import hookimpl
from core.mail import SEND_EMAIL_JOB
from core.testing import require_service
from tests.conftest import csrf_token_from

WAIT = 30  # seconds: the bound on every wait for a job (a busy CI machine is slow, a broken queue never arrives)
EXECUTABLE = Path(sys.executable).parent / "oss-connect"
REDIS_BASE = "redis://127.0.0.1:6379"


class FlakyJobs:
    """A test plugin with one job that fails on its first attempt and succeeds on the second."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.succeeded = threading.Event()

    @hookimpl
    def register_jobs(self, queue: Any) -> None:
        @queue.task("flaky_job", retries=1, retry_delay=0)
        def flaky_job(token: str) -> str:
            self.attempts.append(token)
            if len(self.attempts) == 1:
                raise RuntimeError("the first attempt fails on purpose")
            self.succeeded.set()
            return token


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"jobs": {"backend": "sqlite", "workers": 1}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"flaky_jobs": FlakyJobs()}


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it is true, at most WAIT seconds (then fail naming `what`)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {WAIT}s")


@contextmanager
def running_consumer(app: Any) -> Iterator[Any]:
    """The app's own job consumer with one worker thread, stopped at the end."""
    consumer = app.extensions["oss_connect"].jobs.consumer(1)
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)


def sign_up(client: Any, email: str) -> None:
    """Sign up through the real form (which queues the verification email)."""
    token = csrf_token_from(client.get("/signup").get_data(as_text=True))
    response = client.post("/signup", data={"email": email, "password": "correct horse battery",
                                            "confirm": "correct horse battery", "csrf_token": token})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


# --- the SQLite queue (the default) ---------------------------------------------------------------

def test_signup_email_waits_in_the_queue_until_a_consumer_runs(app, client, outbox):
    sign_up(client, "queued@example.org")
    assert outbox.to("queued@example.org") == []
    assert app.extensions["oss_connect"].jobs.pending_count() == 1


def test_consumer_sends_the_queued_signup_email(app, client, outbox):
    sign_up(client, "queued@example.org")
    with running_consumer(app):
        message = wait_until(lambda: outbox.to("queued@example.org"), "the verification email")[0]
    assert "Confirm your email address" in message.subject
    waiting = [task.name for task in app.extensions["oss_connect"].jobs.huey.pending()]
    assert "send_email" not in waiting  # periodic jobs the consumer scheduled may still wait; the email may not


def test_failing_job_is_retried(app, oss_connect_plugins):
    plugin = oss_connect_plugins["flaky_jobs"]
    app.extensions["oss_connect"].jobs.enqueue("flaky_job", "order-17")
    with running_consumer(app):
        assert plugin.succeeded.wait(WAIT), f"no successful retry; attempts: {plugin.attempts}"
    assert plugin.attempts == ["order-17", "order-17"]


def test_unknown_job_name_is_refused_with_the_known_names(app):
    with pytest.raises(LookupError, match=r"no job named 'nope'.*flaky_job.*send_email"):
        app.extensions["oss_connect"].jobs.enqueue("nope")


# --- the Redis queue ------------------------------------------------------------------------------

def redis_db_for_worker() -> int:
    """A Redis database of this xdist worker's own for the job queue, flushed before and after use."""
    from core.testing import redis_test_db

    return redis_test_db("jobs")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """An empty Redis database for the queue (skips, or fails on CI, without Redis)."""
    import redis

    url = f"{REDIS_BASE}/{redis_db_for_worker()}"
    connection = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        connection.flushdb()
    except redis.RedisError as error:
        require_service("Redis", f"{url}: {error}")
    yield url
    connection.flushdb()
    connection.close()


class TestRedisQueue:
    """jobs.backend: redis."""

    @pytest.fixture
    def oss_connect_settings(self, redis_url: str) -> dict[str, Any]:
        return {"jobs": {"backend": "redis", "redis_url": redis_url, "workers": 1}}

    def test_queued_job_is_stored_in_redis(self, app, client, redis_url):
        import redis

        sign_up(client, "redis@example.org")
        assert app.extensions["oss_connect"].jobs.pending_count() == 1
        assert redis.Redis.from_url(redis_url).dbsize() > 0

    def test_consumer_sends_the_email_queued_in_redis(self, app, client, outbox):
        sign_up(client, "redis@example.org")
        with running_consumer(app):
            wait_until(lambda: outbox.to("redis@example.org"), "the verification email")
        # Periodic jobs (reminders, live pairing) may be queued by the consumer's clock meanwhile;
        # the email job itself must be gone from Redis.
        pending = [task.name for task in app.extensions["oss_connect"].jobs.huey.pending()]
        assert SEND_EMAIL_JOB not in pending, pending


# --- `oss-connect worker` -------------------------------------------------------------------------

def test_worker_command_runs_a_queued_job_and_stops_cleanly_on_sigterm(tmp_path, database_url):
    from core.app import create_app
    from core.testing import Outbox

    config = tmp_path / "oss-connect.yaml"
    settings = core.testing.base_test_config(database_url, tmp_path, {"jobs": {"backend": "sqlite"}})
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    site = create_app(config)
    site.extensions["oss_connect"].jobs.enqueue(SEND_EMAIL_JOB, {
        "to": "worker@example.org", "subject": "Sent by the worker", "text": "Hello.",
        "html": "<p>Hello.</p>", "message_id": "<worker-test@localhost>"})
    outbox = Outbox(Path(site.config["OSS_CONNECT_OUTBOX"]))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}

    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen([str(EXECUTABLE), "worker", "--config", str(config)], env=environment,
                                  stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: outbox.to("worker@example.org") or worker.poll() is not None, "the worker's email")
        assert worker.poll() is None, log.read_text(errors="replace")
        worker.send_signal(signal.SIGTERM)
        exit_code = worker.wait(timeout=WAIT)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    assert outbox.last_to("worker@example.org").subject == "Sent by the worker"
    assert exit_code == 0, log.read_text(errors="replace")
    assert "stopping: finishing the jobs in progress" in log.read_text(errors="replace")

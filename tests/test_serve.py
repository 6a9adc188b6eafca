"""`oss-connect serve`: the production server (gunicorn, one worker, many threads) as a real process.

The site answers, a signed-in Socket.IO client connects over WebSocket through gunicorn, an
anonymous one is refused, and SIGTERM stops gunicorn cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import socketio
import yaml

import core.testing
from tests.conftest import csrf_token_from, free_port
from tests.test_realtime import PASSWORD, open_socket, sign_in

EXECUTABLE = Path(sys.executable).parent / "oss-connect"
START_TIMEOUT = 60  # seconds: a bound on gunicorn's start, not an expectation
STOP_TIMEOUT = 40  # gunicorn's graceful timeout is 30 s
LOGIN_LIMIT = 3


@dataclass
class Served:
    """A running `oss-connect serve` process and its address."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_serve(folder: Path, database_url: str) -> Served:
    """Write an instance config for a free port and start `oss-connect serve` on it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "oss-connect.yaml"
    settings = core.testing.base_test_config(database_url, folder, {
        "site": {"base_url": url}, "jobs": {"backend": "sqlite"},
        "accounts": {"rate_limits": {"login": f"{LOGIN_LIMIT} per minute"}}})
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    log = folder / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen([str(EXECUTABLE), "serve", "--config", str(config), "--bind",
                                    f"127.0.0.1:{port}", "--threads", "16"], cwd=folder, env=environment,
                                   stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # its own group: a kill reaches the worker too
    served = Served(url, process, log)
    try:
        wait_until_up(served)
    except BaseException:
        stop(process)
        raise
    return served


def wait_until_up(served: Served) -> None:
    """Poll until gunicorn answers (bounded); fail with its output if it never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"serve exited with {served.process.returncode}:\n{served.output()}")
        try:
            requests.get(served.url + "/", timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer within {START_TIMEOUT}s:\n{served.output()}")


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (gunicorn's graceful stop); kill only if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(process)
    return process.returncode


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the master and its worker (they share the process group started for them)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Served]:
    """One gunicorn for the module, with a participant account in its database."""
    from core.api import create_user
    from core.db import database
    from core.testing import empty_tables

    with database.connection_context():
        create_user("gunicorn.user@example.org", PASSWORD)
    running = start_serve(tmp_path_factory.mktemp("serve"), database_url)
    try:
        yield running
    finally:
        stop(running.process)
        with database.connection_context():
            empty_tables()


def test_serve_runs_one_gunicorn_worker_with_threads(served):
    output = served.output()
    assert "--workers 1 --worker-class gthread --threads 16" in output
    assert output.count("Booting worker with pid") == 1


def test_serve_answers_200_on_the_landing_page(served):
    response = requests.get(served.url + "/", timeout=10)
    assert response.status_code == 200
    assert "Test Conversations" in response.text


def test_signed_in_socket_connects_over_websocket_through_gunicorn(served):
    client = open_socket(served.url, "websocket", sign_in(served.url, "gunicorn.user@example.org"))
    try:
        assert client.connected
        assert client.transport() == "websocket"
    finally:
        client.disconnect()


def test_anonymous_socket_is_refused_through_gunicorn(served):
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(served.url, "websocket")


def failed_logins(url: str, client_address: str, attempts: int) -> list[int]:
    """Status codes of wrong-password log-ins from one client, as nginx forwards them (each client tries an
    address of its own, so the per-account throttle of core.throttle does not join in)."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = client_address
    statuses = []
    for _ in range(attempts):
        token = csrf_token_from(session.get(url + "/login", timeout=10).text)
        answer = session.post(url + "/login", data={"email": f"nobody-{client_address}@example.org",
                                                    "password": "wrong password", "csrf_token": token}, timeout=30)
        statuses.append(answer.status_code)
    return statuses


def test_rate_limits_count_each_client_behind_a_local_proxy(served):
    assert failed_logins(served.url, "198.51.100.7", LOGIN_LIMIT + 1)[-1] == 429
    assert failed_logins(served.url, "198.51.100.8", 1) == [400]


def test_sigterm_stops_serve_cleanly(tmp_path, database_url):
    running = start_serve(tmp_path / "instance", database_url)
    try:
        exit_code = stop(running.process)
    finally:
        if running.process.poll() is None:
            kill_group(running.process)
    assert exit_code == 0, running.output()
    assert "Shutting down: Master" in running.output()

"""Link tokens never reach a server log: `oss-connect run` (werkzeug) and `serve` (gunicorn) write
/verify/[redacted] where a request was for /verify/TOKEN. Both servers run as real processes."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

import core.testing
from core.logging_redaction import REDACTED, TOKEN_PATHS, TokenRedactingFilter, redact
from core.testing import require_service
from tests.conftest import free_port
from tests.test_serve import EXECUTABLE, START_TIMEOUT, start_serve, stop

TOKEN = "Zq3v9-SECRET-TOKEN_x8Kp2mW4nB7cD1eF5gH0jL6"
LINKS = ["/verify/{}", "/reset/{}", "/magic/{}", "/welcome/{}", "/unlock/{}", "/newsletter/confirm/{}",
         "/newsletter/unsubscribe/{}"]


def test_every_route_with_a_token_is_redacted(app):
    token_routes = [rule.rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]

    assert token_routes, "no route takes a token?"
    for rule in token_routes:
        path = rule.replace("<token>", TOKEN)
        assert TOKEN not in redact(f'"GET {path} HTTP/1.1" 200'), rule


def test_redaction_keeps_the_rest_of_the_line():
    line = f'127.0.0.1 - - [07/Dec/2026 12:00:00] "POST /reset/{TOKEN}?next=/account HTTP/1.1" 302 -'

    assert redact(line) == '127.0.0.1 - - [07/Dec/2026 12:00:00] "POST /reset/[redacted]?next=/account HTTP/1.1" 302 -'
    assert redact('"GET /verify/resend HTTP/1.1" 200') == '"GET /verify/resend HTTP/1.1" 200'
    assert redact('"GET /reset HTTP/1.1" 200') == '"GET /reset HTTP/1.1" 200'


def test_the_filter_rewrites_a_record_with_arguments():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s', ("127.0.0.1",
                               f"GET /magic/{TOKEN} HTTP/1.1", 200), None)

    assert TokenRedactingFilter().filter(record) is True
    assert record.getMessage() == '127.0.0.1 - - "GET /magic/[redacted] HTTP/1.1" 200'


def request_every_link(base_url: str) -> None:
    """Open every kind of emailed link with the token (it is unknown to the site: the log line is the same)."""
    for link in LINKS:
        requests.get(base_url + link.format(TOKEN), timeout=10)
    requests.post(base_url + f"/verify/{TOKEN}", data={"csrf_token": "x"}, timeout=10)


def assert_redacted(output: str) -> None:
    assert TOKEN not in output, output[-3000:]
    assert TOKEN[:12] not in output
    for link in LINKS:
        assert link.format(REDACTED) in output, (link, output[-3000:])


def test_gunicorn_access_log_holds_no_token(tmp_path, database_url):
    served = start_serve(tmp_path / "serve", database_url)
    try:
        request_every_link(served.url)
        time.sleep(0.5)  # gunicorn writes the access line after the response
    finally:
        stop(served.process)

    assert_redacted(served.output())


def test_development_server_log_holds_no_token(tmp_path, database_url):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "oss-connect.yaml"
    config.write_text(yaml.safe_dump(core.testing.base_test_config(database_url, tmp_path, {
        "site": {"base_url": url}})), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen([str(EXECUTABLE), "run", "--config", str(config), "--port", str(port),
                                    "--no-worker"], cwd=tmp_path, env=environment, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(url, process, log)
        request_every_link(url)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    assert_redacted(log.read_text(errors="replace"))


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until the server answers (bounded)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            requests.get(url + "/", timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    pytest.fail(f"the development server did not answer within {START_TIMEOUT}s")


def test_a_link_page_sends_no_referer(client):
    for link in LINKS:
        assert client.get(link.format(TOKEN)).headers["Referrer-Policy"] == "no-referrer", link
    assert client.get("/reset").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def nginx_snippet() -> str:
    """The nginx lines that docs/deployment.md gives for redacting link tokens."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text(encoding="utf-8")
    section = text.split("### Keep link tokens out of nginx's log", 1)[1]
    return section.split("```nginx\n", 1)[1].split("```", 1)[0]


def test_the_documented_nginx_lines_cover_every_token_path():
    snippet = nginx_snippet()

    for path in TOKEN_PATHS:
        assert f"|{path}|" in snippet or f"(?:{path}|" in snippet or f"|{path})" in snippet, path


def test_the_documented_nginx_lines_redact_its_access_log(tmp_path):
    executable = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(executable).exists():
        require_service("nginx", "install it with `apt-get install -y nginx-light` (make test does)")
    port = free_port()
    (tmp_path / "logs").mkdir()
    config = tmp_path / "nginx.conf"
    config.write_text(f"""
worker_processes 1;
error_log {tmp_path}/logs/error.log;
pid {tmp_path}/nginx.pid;
events {{ worker_connections 16; }}
http {{
{nginx_snippet()}
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    server {{
        listen 127.0.0.1:{port};
        access_log {tmp_path}/logs/talk.access.log talk;
        location / {{ return 200 "ok"; }}
    }}
}}
""", encoding="utf-8")
    subprocess.run([executable, "-c", str(config), "-p", str(tmp_path)], check=True, capture_output=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for link in LINKS:
            requests.get(url + link.format(TOKEN) + "?next=/x", timeout=10,
                         headers={"Referer": f"https://talk.example.org/welcome/{TOKEN}"})
        requests.get(url + "/verify/resend", timeout=10)
    finally:
        subprocess.run([executable, "-c", str(config), "-p", str(tmp_path), "-s", "stop"], check=False,
                       capture_output=True)
    log = (tmp_path / "logs" / "talk.access.log").read_text(encoding="utf-8")

    assert TOKEN not in log, log
    for link in LINKS:
        assert link.format(REDACTED) + "?next=/x" in log, link
    assert '"https://talk.example.org/welcome/[redacted]"' in log
    assert "GET /verify/resend " in log


def test_the_apps_own_log_redacts_tokens(app, caplog):
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        app.logger.error("Exception on %s [%s]", f"/reset/{TOKEN}", "POST")

    assert caplog.records and TOKEN not in caplog.text
    assert "Exception on /reset/[redacted] [POST]" in caplog.text

"""Project fixtures: a live server in a thread, real headless Chromium, and account helpers.

The general fixtures (database, instance, app, client, outbox) come from core.testing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.testing import base_test_config, deep_merge, require_service

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / ".artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
    # The fake camera at 10 frames a second instead of 20: half the video to encode and decode, so calls
    # of three browsers still show frames at once when both test passes load the 2 cores.
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=fps=10",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    """The app served over real HTTP (and WebSocket) on 127.0.0.1."""

    url: str
    app: Any
    instance: Path


def start_live_server(instance: Path, database_url: str, settings: dict[str, Any],
                      plugins: dict[str, Any], host_name: str = "127.0.0.1") -> tuple[LiveServer, Any]:
    """Write a config for a free port, build the app, and serve it from a thread on 127.0.0.1.

    `host_name` is the name the site is reached by (e.g. localhost, which WebAuthn accepts and an IP
    address is not)."""
    from werkzeug.serving import make_server

    from core.app import create_app
    from core.config import load_config

    port = free_port()
    url = f"http://{host_name}:{port}"
    config = base_test_config(database_url, instance, deep_merge({"site": {"base_url": url}}, settings))
    config["plugins"] = {**(config.get("plugins") or {}), **{name: None for name in plugins
                                                              if name not in (config.get("plugins") or {})}}
    (instance / "oss-connect.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    app = create_app(load_config(instance / "oss-connect.yaml", extra_plugins=plugins), testing=True)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return LiveServer(url, app, instance), server


@pytest.fixture
def live_server(tmp_path: Path, database_url: str, oss_connect_settings: dict[str, Any],
                oss_connect_plugins: dict[str, Any]) -> Iterator[LiveServer]:
    """A live server on its own port, with the test's settings and plugins."""
    from core.db import database
    from core.testing import empty_tables

    live, server = start_live_server(tmp_path, database_url, oss_connect_settings, oss_connect_plugins)
    yield live
    server.shutdown()
    with database.connection_context():
        empty_tables()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        require_service("Chromium", "install it with `apt-get install -y chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def make_user(app: Any) -> Any:
    """Create a verified account: make_user(email, password='correct horse battery', role='participant')."""
    from core.api import create_user
    from core.db import database

    def make(email: str, password: str = "correct horse battery", role: str = "participant",
             verified: bool = True) -> Any:
        with database.connection_context():
            return create_user(email, password, role=role, verified=verified)

    return make


@pytest.fixture
def login(client: Any) -> Any:
    """Sign the test client in through the real form."""

    def sign_in(email: str, password: str = "correct horse battery", test_client: Any = None) -> Any:
        target = test_client or client
        page = target.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        response = target.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return sign_in


SIGNED_TOKEN = re.compile(r"[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{20,}")
"""A CSRF token wherever a page carries it (a form field, a data attribute, a meta tag): signed and
timestamped, so two renderings of one page a second apart differ there."""


def without_csrf(html: str) -> str:
    """A page's HTML with every CSRF token replaced by "CSRF", for comparing two answers."""
    return SIGNED_TOKEN.sub("CSRF", html)


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form in a page."""
    import re

    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


@pytest.fixture(scope="session", autouse=True)
def _artifacts_folder() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OSS_CONNECT_TEST_ARTIFACTS", str(ARTIFACTS))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's) on a free port, for this test process; its address."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_bucket(endpoint: str, name: str) -> str:
    """Create the bucket `name` on the S3 server at `endpoint` (if it is not there yet); returns `endpoint`."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    if name not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=name)
    return endpoint

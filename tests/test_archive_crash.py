"""kill -9 of the worker during a deposit, then a restart: exactly one deposit (a real `oss-connect
deposit` process, the real `archive_bagit` destination, a bag big enough to be caught part-way)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.db import database
from core.testing import deep_merge
from tests.archive_helpers import choose, describe, processed
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

EXECUTABLE = Path(sys.executable).parent / "oss-connect"
pytestmark = pytest.mark.database


@pytest.fixture
def outbox_folder(tmp_path: Path) -> Path:
    return tmp_path / "pickup"


@pytest.fixture
def oss_connect_settings(outbox_folder: Path) -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, {"plugins": {"archive_bagit": {"folder": str(outbox_folder)}}})


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


def test_killed_with_sigkill_during_a_deposit_a_restart_deposits_exactly_once(
        app, make_user, instance, outbox_folder):
    import bagit

    from core.models.archive import Deposit

    cast = people(app, make_user)
    conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=80)
    processed(app, conversation, seconds=300)                 # a 5-minute master: about 86 MB
    describe(app, conversation, cast["ann"], cast["ben"])
    choose(app, conversation, cast["ann"], deposit=True)
    choose(app, conversation, cast["ben"], deposit=True)
    with app.app_context(), database.connection_context():
        # what plan() records; the work itself is left to the command below (in-line jobs would do it here)
        Deposit.create(conversation=conversation.id, destination="bagit", status="pending")
    settings = yaml.safe_load((instance / "oss-connect.yaml").read_text())
    settings["plugins"] = {"archive_bagit": {"folder": str(outbox_folder)}}   # the test's fakes are not installed
    config = instance / "cli.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    command = [str(EXECUTABLE), "deposit", str(conversation.id), "--config", str(config)]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if outbox_folder.exists() and any(path.name.startswith(".partial-") for path in outbox_folder.iterdir()):
            break                                                     # the copy into the pickup folder began
        time.sleep(0.001)
    assert first.poll() is None, "the deposit ended before it could be killed: " + first.stdout.read().decode()
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    with app.app_context(), database.connection_context():
        interrupted = Deposit.get(Deposit.conversation == conversation.id)
    assert interrupted.status == "running" and interrupted.receipt is None, "killed part-way, lease still held"

    second = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "bagit: Deposited" in second.stdout
    with app.app_context(), database.connection_context():
        done = Deposit.get(Deposit.conversation == conversation.id)
    assert done.status == "deposited" and done.package_sha256 and done.lease_owner is None
    entries = sorted(path.name for path in outbox_folder.iterdir() if path.name != ".lock")
    assert len(entries) == 1 and not entries[0].startswith("."), f"exactly one bag, no leftovers: {entries}"
    bag = bagit.Bag(str(outbox_folder / entries[0]))
    bag.validate()
    assert bag.info["External-Identifier"] == entries[0]
    third = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert third.returncode == 0
    assert sorted(path.name for path in outbox_folder.iterdir() if path.name != ".lock") == entries

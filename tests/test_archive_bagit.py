"""The archive_bagit plugin: bags in a pickup folder (real files, real bagit validation) and over SFTP to a
real SFTP server on loopback (asyncssh in a thread; paramiko checks its host key against known_hosts)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bagit
import pytest
import yaml

import plugins.archive_bagit
from core.api import DepositError
from core.archive_contract import make_test_package
from core.config import ConfigError, load_config
from plugins.archive_bagit import BagitDestination, BagitSettings
from plugins.archive_bagit.folder import PARTIAL
from tests.test_example_config import EXAMPLE, REFERENCE, documented_keys, option_paths

IDENTIFIER = "oss-connect-contract-0001"
SITE_SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
SFTP_USER = "archive"
SFTP_PASSWORD = "sftp-test-password-0123"


def folder_destination(tmp_path: Path, **settings: Any) -> BagitDestination:
    """A bagit destination writing to tmp_path/instance/archive/outbox (the default folder)."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    return BagitDestination(BagitSettings.model_validate(settings), instance_folder=instance)


def files_under(folder: Path) -> list[str]:
    """Every file under `folder` (hidden ones included), relative; the lock file left out."""
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() and path.name != ".lock")


# --- a real SFTP server -------------------------------------------------------------------------

@dataclass
class SftpServer:
    """An asyncssh SFTP server on 127.0.0.1 serving `root` (chrooted) to one user."""

    root: Path
    folder: Path  # for known_hosts and keys
    port: int = 0
    host_key: Any = None
    client_keys: list[bytes] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    server: Any = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the server in a thread of its own with a fresh ed25519 host key."""
        import asyncssh

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        owner = self

        class Accounts(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == SFTP_USER and password == SFTP_PASSWORD

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: Any) -> bool:
                return username == SFTP_USER and key.public_data in owner.client_keys

        async def listen() -> Any:
            return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[self.host_key],
                                         server_factory=Accounts,
                                         sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root)),
                                         allow_scp=False)

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(timeout=30)
        self.port = self.server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the server and its loop."""
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)

    def known_hosts(self, name: str = "known_hosts", key: Any = None) -> Path:
        """A known_hosts file naming this server with `key` (default: its real host key)."""
        public = (key or self.host_key).export_public_key("openssh").decode().strip()
        path = self.folder / name
        path.write_text(f"[127.0.0.1]:{self.port} {public}\n", encoding="utf-8")
        return path

    def client_key(self) -> Path:
        """A new ed25519 client key the server accepts; the private key file (OpenSSH format)."""
        import asyncssh

        key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_keys.append(key.public_data)
        path = self.folder / f"client_key_{len(self.client_keys)}"
        key.write_private_key(str(path), format_name="openssh")
        return path

    def settings(self, **changes: Any) -> dict[str, Any]:
        """archive_bagit settings delivering to this server with the password."""
        sftp = {"host": "127.0.0.1", "port": self.port, "username": SFTP_USER, "password": SFTP_PASSWORD,
                "known_hosts_file": str(self.known_hosts()), "remote_folder": "/incoming", **changes}
        return {"sftp": {key: value for key, value in sftp.items() if value is not None}}


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    """A fresh SFTP server whose files are under tmp_path/sftp-root."""
    root, folder = tmp_path / "sftp-root", tmp_path / "sftp-client"
    root.mkdir()
    folder.mkdir()
    server = SftpServer(root=root, folder=folder)
    server.start()
    yield server
    server.stop()


def sftp_destination(server: SftpServer, tmp_path: Path, **changes: Any) -> BagitDestination:
    """A bagit destination delivering to `server`."""
    return folder_destination(tmp_path, **server.settings(**changes))


# --- the folder ---------------------------------------------------------------------------------

def test_a_deposit_puts_a_valid_bag_in_the_folder_named_by_its_identifier(tmp_path):
    destination = folder_destination(tmp_path)
    package = make_test_package(tmp_path / "build")
    seen: list[tuple[float, str]] = []
    package.progress = lambda fraction, label: seen.append((fraction, label))
    receipt = destination.deposit(package)
    outbox = tmp_path / "instance" / "archive" / "outbox"
    bag = outbox / IDENTIFIER
    bagit.Bag(str(bag)).validate()
    assert files_under(outbox) == [f"{IDENTIFIER}/{name}" for name in package.files]
    assert receipt == {"destination": "bagit", "delivery": "folder", "where": str(bag), "identifier": IDENTIFIER,
                       "checksum": package.checksum, "files": 9, "bytes": package.size,
                       "deposited_at": receipt["deposited_at"]}
    assert receipt["deposited_at"].endswith("Z")
    assert seen[0][0] == 0.0 and seen[-1] == (1.0, "in the folder")
    assert [fraction for fraction, _ in seen] == sorted(fraction for fraction, _ in seen)
    assert destination.check(receipt).ok


def test_depositing_again_copies_nothing_and_gives_the_same_receipt(tmp_path):
    destination = folder_destination(tmp_path)
    receipt = destination.deposit(make_test_package(tmp_path / "one"))
    bag = Path(receipt["where"])
    before = {name: (bag / name).stat().st_ino for name in files_under(bag)}
    rebuilt = make_test_package(tmp_path / "two")
    assert destination.deposit(rebuilt) == receipt
    assert {name: (bag / name).stat().st_ino for name in files_under(bag)} == before


def test_a_new_version_replaces_the_bag(tmp_path):
    destination = folder_destination(tmp_path)
    destination.deposit(make_test_package(tmp_path / "one", version=1))
    new = make_test_package(tmp_path / "two", version=2)
    receipt = destination.deposit(new)
    bag = Path(receipt["where"])
    assert hashlib.sha256((bag / "manifest-sha256.txt").read_bytes()).hexdigest() == new.checksum
    assert b"version 2" in (bag / "data" / "metadata" / "record.json").read_bytes()
    assert files_under(bag.parent) == [f"{IDENTIFIER}/{name}" for name in new.files]
    bagit.Bag(str(bag)).validate()


def test_partial_folders_left_by_a_killed_deposit_are_cleaned_and_one_bag_remains(tmp_path):
    """A killed run leaves its hidden partial copy (half the files); the next deposit leaves exactly one bag."""
    destination = folder_destination(tmp_path)
    package = make_test_package(tmp_path / "build")
    outbox = tmp_path / "instance" / "archive" / "outbox"
    partial = outbox / f"{PARTIAL}{IDENTIFIER}-{package.checksum[:16]}"
    (partial / "data" / "audio").mkdir(parents=True)
    (partial / "bagit.txt").write_bytes((package.path / "bagit.txt").read_bytes())
    (partial / "data" / "audio" / "access.opus").write_bytes(b"only the first bytes")
    stale = outbox / f"{PARTIAL}{IDENTIFIER}-0123456789abcdef"
    stale.mkdir()
    (stale / "bag-info.txt").write_text("an older killed run\n", encoding="utf-8")
    receipt = destination.deposit(package)
    assert files_under(outbox) == [f"{IDENTIFIER}/{name}" for name in package.files]
    assert [entry.name for entry in outbox.iterdir() if entry.name != ".lock"] == [IDENTIFIER]
    assert destination.check(receipt).ok


def test_a_killed_run_after_the_copy_but_before_the_rename_is_completed(tmp_path):
    """A complete copy in the partial folder is not trusted either: it is removed and copied again."""
    destination = folder_destination(tmp_path)
    package = make_test_package(tmp_path / "build")
    outbox = tmp_path / "instance" / "archive" / "outbox"
    outbox.mkdir(parents=True)
    import shutil

    shutil.copytree(package.path, outbox / f"{PARTIAL}{IDENTIFIER}-{package.checksum[:16]}")
    (outbox / f"{PARTIAL}{IDENTIFIER}-{package.checksum[:16]}" / "data" / "consent.json").write_text("torn")
    destination.deposit(package)
    assert files_under(outbox) == [f"{IDENTIFIER}/{name}" for name in package.files]
    bagit.Bag(str(outbox / IDENTIFIER)).validate()


def test_the_folder_is_relative_to_the_instance_and_may_be_absolute(tmp_path):
    package = make_test_package(tmp_path / "build")
    assert folder_destination(tmp_path, folder="bags").deposit(package)["where"] == str(
        tmp_path / "instance" / "bags" / IDENTIFIER)
    elsewhere = tmp_path / "elsewhere"
    assert folder_destination(tmp_path, folder=str(elsewhere)).deposit(package)["where"] == str(elsewhere / IDENTIFIER)


def test_a_folder_that_cannot_be_made_is_named_with_the_fix(tmp_path):
    blocker = tmp_path / "instance" / "archive"
    blocker.parent.mkdir()
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DepositError) as caught:
        folder_destination(tmp_path).deposit(make_test_package(tmp_path / "build"))
    assert caught.value.retry is False
    assert str(blocker) in str(caught.value) and "plugins.archive_bagit.folder" in str(caught.value)


def test_a_folder_without_write_access_is_named_with_the_fix(tmp_path):
    """The tests run as root, who may write anywhere: the translation of EACCES is checked on its own."""
    from plugins.archive_bagit.folder import FolderDelivery

    outbox = tmp_path / "outbox"
    error = FolderDelivery(outbox)._error(PermissionError(13, "Permission denied", str(outbox / ".lock")),
                                          "deposit x")
    assert error.retry is False
    assert str(error) == (f"cannot deposit x: {outbox / '.lock'} is not writable for this process (uid "
                          f"{os.geteuid()}); give it write access to {outbox} (chown/chmod), or set "
                          "plugins.archive_bagit.folder to a writable folder")


def test_check_validates_every_checksum(tmp_path):
    destination = folder_destination(tmp_path)
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    audio = Path(receipt["where"]) / "data" / "audio" / "access.opus"
    data = bytearray(audio.read_bytes())
    data[100] ^= 0xFF  # same size, one bit pattern changed: only a checksum notices
    audio.write_bytes(bytes(data))
    result = destination.check(receipt)
    assert not result.ok and "not a valid bag" in result.message


def test_withdraw_removes_the_bag_and_asks_to_tell_the_institution(tmp_path):
    destination = folder_destination(tmp_path, institution={"name": "County Historical Society",
                                                            "contact": "Dana, +1 555 0100"})
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    result = destination.withdraw(receipt)
    assert not result.removed
    assert result.message == (f"removed {IDENTIFIER} from {Path(receipt['where']).parent}; it may have been collected "
                              "already: tell County Historical Society (Dana, +1 555 0100) that the deposit "
                              f"{IDENTIFIER} is withdrawn and must be deleted.")
    assert not Path(receipt["where"]).exists()
    again = destination.withdraw(receipt)
    assert not again.removed and again.message.startswith(f"{IDENTIFIER} was no longer in ")
    assert destination.institution == "County Historical Society"


def test_without_tell_on_withdraw_a_removed_bag_is_withdrawn(tmp_path):
    destination = folder_destination(tmp_path, tell_on_withdraw=False)
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    assert destination.withdraw(receipt).removed
    assert files_under(Path(receipt["where"]).parent) == []


# --- SFTP ---------------------------------------------------------------------------------------

def test_a_deposit_over_sftp_delivers_a_valid_bag(sftp_server, tmp_path):
    destination = sftp_destination(sftp_server, tmp_path)
    package = make_test_package(tmp_path / "build")
    receipt = destination.deposit(package)
    delivered = sftp_server.root / "incoming" / IDENTIFIER
    bagit.Bag(str(delivered)).validate()
    assert files_under(sftp_server.root) == [f"incoming/{IDENTIFIER}/{name}" for name in package.files]
    assert receipt["delivery"] == "sftp"
    assert receipt["where"] == f"sftp://127.0.0.1:{sftp_server.port}/incoming/{IDENTIFIER}"
    assert SFTP_USER not in str(receipt)
    assert destination.check(receipt).ok


def test_depositing_again_over_sftp_uploads_nothing(sftp_server, tmp_path):
    destination = sftp_destination(sftp_server, tmp_path)
    receipt = destination.deposit(make_test_package(tmp_path / "one"))
    bag = sftp_server.root / "incoming" / IDENTIFIER
    before = {name: (bag / name).stat().st_ino for name in files_under(bag)}
    assert destination.deposit(make_test_package(tmp_path / "two")) == receipt
    assert {name: (bag / name).stat().st_ino for name in files_under(bag)} == before
    new = make_test_package(tmp_path / "three", version=2)
    destination.deposit(new)
    assert hashlib.sha256((bag / "manifest-sha256.txt").read_bytes()).hexdigest() == new.checksum
    assert files_under(sftp_server.root) == [f"incoming/{IDENTIFIER}/{name}" for name in new.files]


def test_remote_leftovers_of_a_killed_run_are_removed(sftp_server, tmp_path):
    package = make_test_package(tmp_path / "build")
    leftover = sftp_server.root / "incoming" / f"{PARTIAL}{IDENTIFIER}-{package.checksum[:16]}" / "data"
    leftover.mkdir(parents=True)
    (leftover / "half.opus").write_bytes(b"half")
    sftp_destination(sftp_server, tmp_path).deposit(package)
    assert files_under(sftp_server.root) == [f"incoming/{IDENTIFIER}/{name}" for name in package.files]


def test_a_private_key_logs_in_too(sftp_server, tmp_path):
    key = sftp_server.client_key()
    destination = sftp_destination(sftp_server, tmp_path, password=None, private_key_file=str(key))
    assert destination.check(destination.deposit(make_test_package(tmp_path / "build"))).ok


def test_an_unknown_host_key_is_refused_for_good(sftp_server, tmp_path):
    import asyncssh

    other = sftp_server.known_hosts("other_known_hosts", asyncssh.generate_private_key("ssh-ed25519"))
    with pytest.raises(DepositError) as caught:
        sftp_destination(sftp_server, tmp_path, known_hosts_file=str(other)).deposit(
            make_test_package(tmp_path / "build"))
    assert caught.value.retry is False
    assert "showed another host key" in str(caught.value) and "ssh-keyscan -p" in str(caught.value)
    empty = sftp_server.folder / "empty_known_hosts"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DepositError) as caught:
        sftp_destination(sftp_server, tmp_path, known_hosts_file=str(empty)).deposit(
            make_test_package(tmp_path / "build2"))
    assert caught.value.retry is False
    assert str(caught.value).startswith(f"the SFTP server 127.0.0.1:{sftp_server.port} is not in {empty}")
    assert f"ssh-keyscan -p {sftp_server.port} 127.0.0.1 > {empty}" in str(caught.value)
    assert files_under(sftp_server.root) == []


def test_a_missing_known_hosts_file_is_refused_with_the_command_to_make_it(sftp_server, tmp_path):
    with pytest.raises(DepositError, match=r"the known_hosts file .*missing_hosts does not exist; make it with "
                                           r"`ssh-keyscan") as caught:
        sftp_destination(sftp_server, tmp_path, known_hosts_file="missing_hosts").deposit(
            make_test_package(tmp_path / "build"))
    assert caught.value.retry is False


def test_a_wrong_password_is_refused_for_good(sftp_server, tmp_path):
    with pytest.raises(DepositError, match=r"refused the login of 'archive'") as caught:
        sftp_destination(sftp_server, tmp_path, password="not-the-password").deposit(
            make_test_package(tmp_path / "build"))
    assert caught.value.retry is False
    assert "not-the-password" not in str(caught.value)


def test_an_unreachable_server_is_retried(sftp_server, tmp_path):
    from tests.conftest import free_port

    with pytest.raises(DepositError, match=r"cannot reach the SFTP server 127.0.0.1:\d+") as caught:
        sftp_destination(sftp_server, tmp_path, port=free_port()).deposit(make_test_package(tmp_path / "build"))
    assert caught.value.retry is True


def test_sftp_check_and_withdraw(sftp_server, tmp_path):
    destination = sftp_destination(sftp_server, tmp_path)
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    audio = sftp_server.root / "incoming" / IDENTIFIER / "data" / "audio" / "access.opus"
    audio.write_bytes(audio.read_bytes()[:-10])
    result = destination.check(receipt)
    assert not result.ok and "bytes" in result.message
    withdrawn = destination.withdraw(receipt)
    assert not withdrawn.removed and IDENTIFIER in withdrawn.message
    assert files_under(sftp_server.root) == []


# --- settings -----------------------------------------------------------------------------------

def write_config(folder: Path, plugin: dict[str, Any]) -> Path:
    """An instance config enabling archive_bagit with `plugin`."""
    config = folder / "oss-connect.yaml"
    config.write_text(yaml.safe_dump({"site": {"secret_key": SITE_SECRET}, "plugins": {"archive_bagit": plugin}}),
                      encoding="utf-8")
    return config


def test_the_defaults_are_a_folder_in_the_instance(tmp_path):
    loaded = load_config(write_config(tmp_path, None), environ={},
                         extra_plugins={"archive_bagit": plugins.archive_bagit})
    settings = loaded.plugin_settings("archive_bagit")
    assert (settings.folder, settings.tell_on_withdraw, settings.sftp) == ("archive/outbox", True, None)


def test_sftp_without_known_hosts_or_credential_is_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, {"sftp": {"host": "sftp.example.org", "username": "oss",
                                                     "remote_folder": "incoming"}}),
                    environ={}, extra_plugins={"archive_bagit": plugins.archive_bagit})
    assert "plugins.archive_bagit.sftp.known_hosts_file: a required key is missing" in str(caught.value)
    with pytest.raises(ConfigError, match=r"sftp needs a credential: set private_key_file \(preferred\) or password"):
        load_config(write_config(tmp_path, {"sftp": {"host": "sftp.example.org", "username": "oss",
                                                     "known_hosts_file": "known_hosts", "remote_folder": "incoming"}}),
                    environ={}, extra_plugins={"archive_bagit": plugins.archive_bagit})


def test_a_url_for_the_sftp_host_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"a host name is expected, not a URL or user@host"):
        load_config(write_config(tmp_path, {"sftp": {"host": "sftp://oss@sftp.example.org", "username": "oss",
                                                     "password": "x", "known_hosts_file": "known_hosts",
                                                     "remote_folder": "incoming"}}),
                    environ={}, extra_plugins={"archive_bagit": plugins.archive_bagit})


@pytest.mark.parametrize(("oss_connect_settings", "oss_connect_plugins"),
                         [({"plugins": {"archive_bagit": {"institution": {"name": "County Historical Society"}}}},
                           {"archive_bagit": plugins.archive_bagit})], ids=["archive_bagit"])
def test_the_enabled_plugin_registers_the_destination_with_the_instance_folder(app, instance, tmp_path):
    destination = app.extensions["oss_connect"].provider("archive_destination", "bagit")
    with app.app_context():
        assert destination.institution == "County Historical Society"
        receipt = destination.deposit(make_test_package(tmp_path / "build"))
    assert receipt["where"] == str(instance / "archive" / "outbox" / IDENTIFIER)
    assert os.path.isdir(receipt["where"])


@pytest.mark.parametrize("option", option_paths(BagitSettings))
def test_every_option_is_in_the_example_and_the_reference(option):
    """config/oss-connect.example.yaml shows it (live or commented out); docs/configuration.md describes it."""
    path = f"plugins.archive_bagit.{option}"
    assert path in documented_keys(EXAMPLE.read_text(encoding="utf-8")), f"{path} is missing from the example"
    assert f"`{path}`" in REFERENCE.read_text(encoding="utf-8"), f"{path} is missing from docs/configuration.md"
    assert f"`{option.rsplit('.', 1)[-1]}`" in (REFERENCE.parent / "archive-bagit.md").read_text(encoding="utf-8")


KILLED_DEPOSIT = '''
import sys, time
from pathlib import Path
from core.archive_contract import make_test_package
from plugins.archive_bagit import BagitDestination, BagitSettings

base = Path(sys.argv[1])
package = make_test_package(base / "build", audio_bytes=8 * 1024 * 1024)
def progress(fraction, label):
    if fraction > 0.05:
        (base / "copying").touch()
        time.sleep(3600)  # killed here, half-way through the copy
package.progress = progress
BagitDestination(BagitSettings(), instance_folder=base / "instance").deposit(package)
'''


def test_kill_9_during_a_deposit_then_a_new_deposit_leaves_exactly_one_bag(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "instance").mkdir()
    worker = subprocess.Popen([sys.executable, "-c", KILLED_DEPOSIT, str(tmp_path)], cwd=Path(__file__).parent.parent)
    try:
        for _ in range(600):  # wait (up to a minute) until it is copying
            if (tmp_path / "copying").exists() or worker.poll() is not None:
                break
            time.sleep(0.1)
        assert (tmp_path / "copying").exists(), "the worker never started copying"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    outbox = tmp_path / "instance" / "archive" / "outbox"
    assert [entry.name for entry in outbox.iterdir() if entry.name.startswith(PARTIAL)], "no partial copy was left"
    package = make_test_package(tmp_path / "again", audio_bytes=8 * 1024 * 1024)
    receipt = BagitDestination(BagitSettings(), instance_folder=tmp_path / "instance").deposit(package)
    assert files_under(outbox) == [f"{IDENTIFIER}/{name}" for name in package.files]
    bagit.Bag(receipt["where"]).validate()

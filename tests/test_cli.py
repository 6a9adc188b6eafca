"""The `oss-connect` command end to end, as real subprocesses: init, run, db status, worker, errors.

With `--db postgresql` every instance created by `init` points at a fresh PostgreSQL database
through OSS_CONNECT__DATABASE__URL, so the same path is exercised on both databases.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee
import pytest
import requests
import yaml

import core.testing
from core import __version__
from core.db import open_database
from core.instance import EXAMPLE_CONFIG
from core.migrate import CORE_MIGRATIONS, MigrationSet, upgrade
from tests.conftest import free_port

EXECUTABLE = Path(sys.executable).parent / "oss-connect"
CORE_MIGRATION_NAMES = sorted(path.stem for path in CORE_MIGRATIONS.glob("[0-9]*.py"))
COMMAND_TIMEOUT = 120  # seconds: a bound, not an expectation (the CI machine may be busy)
START_TIMEOUT = 60
UNREACHABLE = "postgresql://u:secretpw@127.0.0.1:1/x"


@dataclass
class Cli:
    """Runs `oss-connect` in a clean environment (no OSS_CONNECT_* variables but `extra`)."""

    cwd: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        clean = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
        return {**clean, **self.extra}

    def with_env(self, **extra: str) -> Cli:
        """The same runner with more environment variables."""
        return Cli(self.cwd, {**self.extra, **extra})

    def __call__(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run a command to its end."""
        return subprocess.run([str(EXECUTABLE), *arguments], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)

    def start(self, *arguments: str, log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running command with its output in `log`."""
        with log.open("wb") as output:
            return subprocess.Popen([str(EXECUTABLE), *arguments], cwd=self.cwd, env=self.env,
                                    stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@dataclass
class Instance:
    """An instance folder made by `oss-connect init`, and where its database lives."""

    folder: Path
    database_url: str

    @property
    def config(self) -> Path:
        return self.folder / "oss-connect.yaml"

    def database(self) -> peewee.Database:
        """A connection of our own to the instance's database (not the global proxy)."""
        return open_database(self.database_url, self.folder)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """`oss-connect` in a temporary working folder."""
    return Cli(tmp_path)


def cli_for_new_instance(cli: Cli, request: pytest.FixtureRequest, test_databases: Any) -> Cli:
    """`cli`, pointed at a fresh PostgreSQL database when the run uses one (SQLite: the default file)."""
    if request.config.getoption("--db") == "postgresql":
        return cli.with_env(OSS_CONNECT__DATABASE__URL=test_databases.new_url())
    return cli


@pytest.fixture
def init_cli(cli: Cli, request: pytest.FixtureRequest, test_databases: Any) -> Cli:
    """A runner for a test that initialises its own instance."""
    return cli_for_new_instance(cli, request, test_databases)


@pytest.fixture(scope="module")
def initialised(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                test_databases: Any) -> tuple[Cli, Instance]:
    """One instance made by `oss-connect init`, shared by the tests that only look at it."""
    folder = tmp_path_factory.mktemp("initialised")
    runner = cli_for_new_instance(Cli(folder), request, test_databases)
    return runner, init_instance(runner, folder / "site")


def database_url_of(cli: Cli) -> str:
    """The database an instance initialised by `cli` uses."""
    return cli.extra.get("OSS_CONNECT__DATABASE__URL", "sqlite:///oss-connect.sqlite3")


def init_instance(cli: Cli, folder: Path, *options: str) -> Instance:
    """Run `oss-connect init` and check it succeeded."""
    result = cli("init", "--instance", str(folder), *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return Instance(folder, database_url_of(cli))


def rows(instance: Instance, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows a query returns on the instance's database (`?` marks a parameter)."""
    db = instance.database()
    with db.connection_context():
        return list(db.execute_sql(sql.replace("?", db.param), params).fetchall())


def write_config(folder: Path, database_url: str, **sections: Any) -> Path:
    """A test config (with a secret key) for `database_url`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "oss-connect.yaml"
    settings = core.testing.base_test_config(database_url, folder, sections)
    path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return path


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> requests.Response:
    """Poll `url` until it answers (bounded); fail with the server's output if it never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            return requests.get(url, timeout=5)
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            time.sleep(0.2)
    pytest.fail(f"nothing answered on {url} within {START_TIMEOUT}s:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; every one is stopped at the end, whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        stop(process)


# --- init --------------------------------------------------------------------------------------

def test_init_copies_the_example_config(initialised):
    _, instance = initialised
    assert instance.config.read_text(encoding="utf-8") == EXAMPLE_CONFIG.read_text(encoding="utf-8")


def test_init_writes_a_secret_key_only_the_owner_can_read(initialised):
    _, instance = initialised
    key = instance.folder / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text(encoding="utf-8").strip()) >= 32


def test_init_migrates_the_database(initialised):
    _, instance = initialised
    applied = [name for (name,) in rows(instance, 'SELECT name FROM "schema_migrations" ORDER BY name')]
    assert applied == CORE_MIGRATION_NAMES
    assert rows(instance, 'SELECT COUNT(*) FROM "user"') == [(0,)]


def test_initialised_instance_answers_200_on_the_landing_page(initialised, tmp_path, started):
    runner, instance = initialised
    port = free_port()
    log = tmp_path / "run.log"
    started.append(runner.start("run", "--config", str(instance.config), "--port", str(port), log=log))

    response = wait_until_up(f"http://127.0.0.1:{port}/", started[0], log)

    assert response.status_code == 200
    assert "Talk Across" in response.text  # the example config's site name


def test_init_twice_keeps_the_config_and_key_and_applies_nothing(init_cli, tmp_path):
    instance = init_instance(init_cli, tmp_path / "site")
    edited = instance.config.read_text(encoding="utf-8").replace('name: "Talk Across"', 'name: "Our Talks"')
    instance.config.write_text(edited, encoding="utf-8")
    key = (instance.folder / "secret_key").read_text(encoding="utf-8")

    again = init_cli("init", "--instance", str(instance.folder))

    assert again.returncode == 0, again.stderr
    assert "applied 0 migration(s)" in again.stdout
    assert instance.config.read_text(encoding="utf-8") == edited
    assert (instance.folder / "secret_key").read_text(encoding="utf-8") == key


def test_init_demo_creates_the_demo_accounts(init_cli, tmp_path):
    instance = init_instance(init_cli, tmp_path / "site", "--demo")
    accounts = dict(rows(instance, 'SELECT email, role FROM "user" WHERE email LIKE ?', "%@demo.example.org"))
    assert accounts["admin@demo.example.org"] == "admin"
    assert accounts["participant1@demo.example.org"] == "participant"
    assert len(accounts) == 13  # demo_data's default: 12 participants and an admin


# --- db ----------------------------------------------------------------------------------------

def test_db_status_lists_every_applied_migration(initialised):
    runner, instance = initialised
    result = runner("db", "status", "--config", str(instance.config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"[x] core/{name}" for name in CORE_MIGRATION_NAMES]


def test_run_refuses_to_start_while_migrations_are_pending(init_cli, tmp_path, test_databases):
    url = init_cli.extra.get("OSS_CONNECT__DATABASE__URL") or test_databases.new_url()
    old = open_database(url, tmp_path)
    with old.connection_context():
        upgrade(old, [MigrationSet("core", CORE_MIGRATIONS)], target=CORE_MIGRATION_NAMES[0])
    config = write_config(tmp_path / "site", url)

    result = init_cli("run", "--config", str(config), "--port", str(free_port()))

    assert result.returncode == 2
    assert f"core/{CORE_MIGRATION_NAMES[-1]}" in result.stderr
    assert f"run `oss-connect db upgrade --config {config}` first" in result.stderr
    assert "Traceback" not in result.stderr


# --- worker, help, version ---------------------------------------------------------------------

def test_worker_refuses_the_immediate_backend(cli, tmp_path, database_url):
    config = write_config(tmp_path / "site", database_url, jobs={"backend": "immediate"})
    result = cli("worker", "--config", str(config))
    assert result.returncode == 2
    assert "jobs.backend is immediate" in result.stderr


def test_version_prints_the_package_version(cli):
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"oss-connect, version {__version__}"


def test_help_lists_every_command(cli):
    from core.cli import cli as group

    result = cli("--help")
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == set(group.commands)
    assert {"init", "check", "run", "serve", "worker", "plugins", "db", "create-admin"} <= listed


# --- a database that cannot be reached ---------------------------------------------------------

@pytest.mark.parametrize("command", [["db", "status"], ["db", "upgrade"], ["run"], ["worker"]],
                         ids=" ".join)
def test_unreachable_database_is_one_clear_line_with_the_password_hidden(cli, tmp_path, database_url, command):
    config = write_config(tmp_path / "site", database_url, jobs={"backend": "sqlite"})

    result = cli.with_env(OSS_CONNECT__DATABASE__URL=UNREACHABLE)(*command, "--config", str(config))

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "cannot connect to the database at postgresql://u:***@127.0.0.1:1/x" in result.stderr
    assert "secretpw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr

"""A pytest plugin for oss-connect and its plugin authors (loaded through the `pytest11` entry point).

Fixtures:
- `oss_connect_settings`: a dict merged into the test config (override it in your conftest);
- `oss_connect_plugins`: a dict name -> plugin object enabled for the test, in priority order;
- `instance`: an instance folder with a config built from both; `app`, `client`, `runner`;
- `outbox`: the messages the app "sent", with their links.

The database comes from `--db sqlite|postgresql` (default sqlite) and `--pg-url`: each test run
creates its own database, migrates it once, empties it after every test and drops it at the end.
With CI=true a database that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
import yaml

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LINK = re.compile(r"https?://[^\s<>\"']+")


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing() -> Iterator[None]:
    """argon2id with its smallest cost inside the test process: a test signs in and creates accounts
    many times, and the production cost (about 0.3 s a hash) would dominate the suite. The algorithm,
    salts and verification are the real ones; `oss-connect` commands run as subprocesses keep the
    production cost, and hashes of either cost verify in both (the parameters travel in the hash)."""
    from argon2 import PasswordHasher

    from core import security

    production = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    security._hasher = production


def pytest_addoption(parser: pytest.Parser) -> None:
    """--db and --pg-url."""
    group = parser.getgroup("oss-connect")
    group.addoption("--db", default=os.environ.get("OSS_CONNECT_TEST_DB", "sqlite"),
                    choices=["sqlite", "postgresql"], help="Database to run the tests on.")
    group.addoption("--pg-url", default=os.environ.get("OSS_CONNECT_TEST_PG_URL", DEFAULT_PG_URL),
                    help="A PostgreSQL server URL (its database is used to create the test database).")


DATABASE_FIXTURES = frozenset({"database_url", "test_databases"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --db postgresql, keep only the tests that touch the run's database (through the
    database_url or test_databases fixtures, or marked `database`). The others (config files, audio,
    the blob store, the CLI's own SQLite files) do not depend on the database the run uses and ran in
    the SQLite pass already; running them twice costs minutes and proves nothing more. Browser tests
    in a theme other than the default are dropped for the same reason (see is_theme_variant).
    OSS_CONNECT_TEST_EVERYTHING=1 runs every test under PostgreSQL too."""
    if config.getoption("--db") != "postgresql" or os.environ.get("OSS_CONNECT_TEST_EVERYTHING") == "1":
        return
    keep, drop = [], []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        uses_database = DATABASE_FIXTURES & names or item.get_closest_marker("database")
        (keep if uses_database and not is_theme_variant(item) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def is_theme_variant(item: pytest.Item) -> bool:
    """A browser test run in a theme other than the default: the themes differ in templates and
    styles, never in queries, so the PostgreSQL pass runs each browser test in the default theme only
    (the SQLite pass runs every theme)."""
    callspec = getattr(item, "callspec", None)
    theme = callspec.params.get("theme_name") if callspec else None
    return theme is not None and theme != "default"


def in_ci() -> bool:
    """True on CI, where nothing may be skipped for a missing service."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def redis_test_db(purpose: str) -> int:
    """A Redis database number of this xdist worker's own for `purpose` ("jobs" or "realtime").

    The numbers come from OSS_CONNECT_TEST_REDIS_DBS ("LOW-HIGH", 4-15 by default), half for each
    purpose, so tests flush only their own database. `make test` gives its two concurrent passes
    (SQLite, PostgreSQL) separate ranges.
    """
    low, _, high = os.environ.get("OSS_CONNECT_TEST_REDIS_DBS", "4-15").partition("-")
    first, last = int(low), int(high or low)
    half = max(1, (last - first + 1) // 2)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    index = (int(worker.removeprefix("gw") or -1) + 1) % half
    return first + index + (half if purpose == "realtime" else 0)


def require_service(name: str, reason: str) -> None:
    """Fail on CI, skip elsewhere, when a service the test needs is missing."""
    message = f"{name} is not available: {reason}"
    if in_ci():
        pytest.fail(message + " (CI=true: services must be running)", pytrace=False)
    pytest.skip(message)


class TestDatabase:
    """Creates and drops databases for one test run (one per xdist worker)."""

    def __init__(self, kind: str, pg_url: str, base: Path, worker: str):
        self.kind = kind
        self.pg_url = pg_url
        self.base = base
        self.worker = worker
        self.created: list[str] = []

    def new_url(self) -> str:
        """A fresh, empty database; remembered for dropping."""
        name = f"oss_connect_test_{self.worker}_{uuid.uuid4().hex[:10]}"
        if self.kind == "sqlite":
            path = self.base / f"{name}.sqlite3"
            self.created.append(str(path))
            return f"sqlite:///{path}"
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.pg_url.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        """Drop every database this run created."""
        if self.kind == "sqlite":
            for path in self.created:
                for suffix in ("", "-wal", "-shm"):
                    Path(path + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True, connect_timeout=5) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def test_databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """The run's database factory (per xdist worker)."""
    kind = request.config.getoption("--db")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    manager = TestDatabase(kind, request.config.getoption("--pg-url"), tmp_path_factory.mktemp("databases"), worker)
    if kind == "postgresql":
        try:
            import psycopg

            psycopg.connect(manager.pg_url, connect_timeout=5).close()
        except Exception as error:
            require_service("PostgreSQL", f"{manager.pg_url}: {error}")
    yield manager
    manager.drop_all()


@pytest.fixture(scope="session")
def database_url(test_databases: TestDatabase) -> str:
    """The run's main database, migrated once."""
    from core.db import bind_database, database
    from core.migrate import CORE_MIGRATIONS, MigrationSet, upgrade

    url = test_databases.new_url()
    bind_database(url, Path.cwd())
    with database.connection_context():
        upgrade(database.obj, [MigrationSet("core", CORE_MIGRATIONS)])
    return url


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """Config sections merged over the test defaults; override this fixture to change them."""
    return {}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """Plugin objects enabled in priority order for the test (name -> module or object)."""
    return {}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` merged into a copy of `base`, mapping by mapping."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def base_test_config(database_url: str, instance_path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config a test instance starts from: the test database, in-line jobs, an outbox.

    No role is forced to set up a second factor (accounts.mfa.required_roles: []), so tests can sign staff
    in with a password alone; tests of two-factor sign-in set the roles they need.
    """
    base = {
        "site": {"name": "Test Conversations", "organisation": "Test Radio", "base_url": "http://localhost",
                 "secret_key": secrets.token_urlsafe(48)},
        "database": {"url": database_url},
        "jobs": {"backend": "immediate"},
        "mail": {"backend": "outbox", "outbox_folder": str(instance_path / "outbox")},
        "accounts": {"mfa": {"required_roles": []}},
    }
    return deep_merge(base, extra or {})


@pytest.fixture
def instance(tmp_path: Path, database_url: str, oss_connect_settings: dict[str, Any],
             oss_connect_plugins: dict[str, Any]) -> Path:
    """An instance folder whose oss-connect.yaml enables `oss_connect_plugins`."""
    config = base_test_config(database_url, tmp_path, oss_connect_settings)
    plugins = dict(config.get("plugins") or {})
    for name in oss_connect_plugins:
        plugins.setdefault(name, None)
    config["plugins"] = plugins
    (tmp_path / "oss-connect.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return tmp_path


def empty_tables() -> None:
    """Delete every row of every table except the migration history."""
    from core.db import database

    real = database.obj
    tables = [name for name in real.get_tables() if not name.startswith("schema_migrations")]
    if not tables:
        return
    if isinstance(real, peewee.PostgresqlDatabase):
        _empty_postgresql_tables(real, tables)
        return
    real.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        for name in tables:
            real.execute_sql(f'DELETE FROM "{name}"')
    finally:
        real.execute_sql("PRAGMA foreign_keys = ON")


def _empty_postgresql_tables(real: peewee.PostgresqlDatabase, tables: list[str]) -> None:
    """Delete the rows of the tables that have any and restart every sequence that was used, as
    TRUNCATE … RESTART IDENTITY would. TRUNCATE of every table took 126 ms a test; this takes a few."""
    probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables)
    filled = [row[0] for row in real.execute_sql(probe).fetchall()]
    with real.atomic():
        if filled:
            real.execute_sql("SET LOCAL session_replication_role = replica")  # no foreign-key order needed
            for name in filled:
                real.execute_sql(f'DELETE FROM "{name}"')
        real.execute_sql("SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, "
                         "1, false) FROM pg_sequences WHERE last_value IS NOT NULL")


@pytest.fixture
def app(instance: Path, oss_connect_plugins: dict[str, Any]) -> Iterator[Any]:
    """An app on the test database; every table is emptied after the test."""
    from core.app import create_app
    from core.config import load_config
    from core.db import database

    loaded = load_config(instance / "oss-connect.yaml", extra_plugins=oss_connect_plugins)
    application = create_app(loaded, testing=True)
    yield application
    with database.connection_context():
        empty_tables()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    """A click runner for `oss-connect` commands."""
    from click.testing import CliRunner

    return CliRunner()


class Outbox:
    """The messages an app wrote to its outbox folder, oldest first."""

    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self) -> list[Any]:
        from core.outbox import list_messages

        return list(reversed(list_messages(self.folder, limit=10_000)))

    def to(self, address: str) -> list[Any]:
        """Messages addressed to `address`."""
        return [message for message in self.messages() if address.lower() in message.to.lower()]

    def last_to(self, address: str) -> Any:
        """The newest message to `address` (fails the test if there is none)."""
        found = self.to(address)
        assert found, f"no message to {address} in the outbox ({len(self.messages())} messages)"
        return found[-1]

    @staticmethod
    def links(message: Any) -> list[str]:
        """Every link in the message's text part."""
        return LINK.findall(message.text)


@pytest.fixture
def outbox(app: Any) -> Outbox:
    """The app's outbox."""
    return Outbox(Path(app.config["OSS_CONNECT_OUTBOX"]))

"""Schema migrations: an upgrade from an older schema keeps the data, and plugins bring their own.

Each test starts from an empty database (SQLite or PostgreSQL, as the run chooses) and works through a
connection of its own, so the global database proxy keeps pointing at the run's main database.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
import yaml

import core.testing
from core.api import PluginModels, hookimpl
from core.db import open_database
from core.migrate import CORE_MIGRATIONS, MigrationSet, status, upgrade

CORE = [MigrationSet("core", CORE_MIGRATIONS)]
CORE_NAMES = sorted(path.stem for path in CORE_MIGRATIONS.glob("[0-9]*.py"))
FIRST = CORE_NAMES[0]
EXECUTABLE = Path(sys.executable).parent / "oss-connect"
OLD_USER_COLUMNS = ("email", "password_hash", "role", "display_name", "is_active", "session_version",
                    "email_verified_at", "created_at", "last_login_at")
OLD_USER = ("early.bird@example.org", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g", "facilitator",
            "Early Bird", True, 3, dt.datetime(2025, 1, 2, 3, 4, 5), dt.datetime(2025, 1, 1, 12, 0, 0), None)

NOTE_MIGRATION = '''
    """A test plugin's first migration: its own notes table."""

    from peewee import CharField, IntegerField, Model


    def up(migrator, db):
        class Note(Model):
            user_id = IntegerField(index=True)
            text = CharField(max_length=200)

            class Meta:
                database = db
                table_name = "migration_test_note"

        db.create_tables([Note])


    def down(migrator, db):
        db.execute_sql('DROP TABLE IF EXISTS "migration_test_note"')
'''


@pytest.fixture(scope="module")
def module_pg_url(request: pytest.FixtureRequest, test_databases: Any) -> str | None:
    """On PostgreSQL, one database for the module, emptied before each test (dropping is slow)."""
    return test_databases.new_url() if request.config.getoption("--db") == "postgresql" else None


@pytest.fixture
def empty_database_url(test_databases: Any, module_pg_url: str | None) -> str:
    """An empty database: a new SQLite file, or the module's PostgreSQL database with no tables."""
    if module_pg_url is None:
        return test_databases.new_url()
    import psycopg

    with psycopg.connect(module_pg_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return module_pg_url


@pytest.fixture
def database_url_at_first_migration(empty_database_url: str, tmp_path: Path) -> str:
    """A database migrated only up to core's first migration, with one user in it."""
    url = empty_database_url
    db = open_database(url, tmp_path)
    with db.connection_context():
        assert upgrade(db, CORE, target=FIRST) == [f"core/{FIRST}"]
        insert_old_user(db)
    db.close()
    return url


@pytest.fixture
def old_db(database_url_at_first_migration: str, tmp_path: Path) -> Iterator[peewee.Database]:
    """An open connection to that older database."""
    db = open_database(database_url_at_first_migration, tmp_path)
    db.connect()
    yield db
    db.close()


def insert_old_user(db: peewee.Database) -> None:
    """Insert a user the way the 0001 schema stores one (raw SQL: today's model has more columns)."""
    columns = ", ".join(f'"{name}"' for name in OLD_USER_COLUMNS)
    marks = ", ".join([db.param] * len(OLD_USER_COLUMNS))
    db.execute_sql(f'INSERT INTO "user" ({columns}) VALUES ({marks})', OLD_USER)


def old_user_row(db: peewee.Database) -> tuple[Any, ...]:
    """The old user's row, column by column as written (booleans and times normalised)."""
    columns = ", ".join(f'"{name}"' for name in OLD_USER_COLUMNS)
    row = db.execute_sql(f'SELECT {columns} FROM "user" WHERE "email" = {db.param}', (OLD_USER[0],)).fetchone()
    assert row is not None, "the old user is gone"
    return tuple(normalise(value) for value in row)


def normalise(value: Any) -> Any:
    """SQLite hands back booleans as 1/0 and times as text; compare as Python values."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return dt.datetime.fromisoformat(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def expected_old_user() -> tuple[Any, ...]:
    return tuple(normalise(value) for value in OLD_USER)


# --- core: from 0001 to head ---------------------------------------------------------------------

def test_upgrade_keeps_the_existing_user_intact(old_db):
    upgrade(old_db, CORE)
    assert old_user_row(old_db) == expected_old_user()


def test_upgraded_user_loads_through_todays_model(old_db):
    from core.models import User

    upgrade(old_db, CORE)
    with User.bind_ctx(old_db):
        user = User.get(User.email == OLD_USER[0])
    assert (user.role, user.display_name, user.session_version) == ("facilitator", "Early Bird", 3)
    assert user.time_zone is None


def test_upgrade_adds_time_zone_empty_for_old_rows(old_db):
    assert "time_zone" not in {column.name for column in old_db.get_columns("user")}
    upgrade(old_db, CORE)
    assert "time_zone" in {column.name for column in old_db.get_columns("user")}
    assert old_db.execute_sql('SELECT "time_zone" FROM "user"').fetchall() == [(None,)]


def test_upgrade_creates_the_newsletter_table(old_db):
    assert "newsletter_subscriber" not in old_db.get_tables()
    upgrade(old_db, CORE)
    assert "newsletter_subscriber" in old_db.get_tables()


def test_upgrade_applies_exactly_the_pending_migrations(old_db):
    assert upgrade(old_db, CORE) == [f"core/{name}" for name in CORE_NAMES[1:]]


def test_upgrading_again_applies_nothing(old_db):
    upgrade(old_db, CORE)
    assert upgrade(old_db, CORE) == []


def test_status_shows_every_migration_applied_after_upgrade(old_db):
    assert [done for _, _, done in status(old_db, CORE)] == [True] + [False] * (len(CORE_NAMES) - 1)
    upgrade(old_db, CORE)
    assert status(old_db, CORE) == [("core", name, True) for name in CORE_NAMES]


# --- the same upgrade through the real command ------------------------------------------------------

def oss_connect(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `oss-connect` command."""
    return subprocess.run([str(EXECUTABLE), *arguments], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_db_upgrade_command_brings_an_old_database_to_head_and_keeps_its_data(
        database_url_at_first_migration, tmp_path):
    config = tmp_path / "oss-connect.yaml"
    settings = core.testing.base_test_config(database_url_at_first_migration, tmp_path)
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    before = oss_connect("db", "status", "--config", str(config))
    upgraded = oss_connect("db", "upgrade", "--config", str(config))
    after = oss_connect("db", "status", "--config", str(config))

    assert before.stdout.splitlines() == [f"[x] core/{FIRST}"] + [f"[ ] core/{name}" for name in CORE_NAMES[1:]]
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"applied {len(CORE_NAMES) - 1} migration(s)" in upgraded.stdout
    assert after.stdout.splitlines() == [f"[x] core/{name}" for name in CORE_NAMES]
    db = open_database(database_url_at_first_migration, tmp_path)
    with db.connection_context():
        assert old_user_row(db) == expected_old_user()


# --- a plugin's own migrations ---------------------------------------------------------------------

class NotesPlugin:
    """A tiny plugin whose register_models declares a migrations folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    @hookimpl
    def register_models(self) -> PluginModels:
        return PluginModels(migrations=self.folder)


@pytest.fixture
def plugin_migration_sets(tmp_path: Path, database_url: str) -> list[MigrationSet]:
    """The migration sets the platform builds when the notes plugin is enabled (core's first)."""
    from core.config import load_config
    from core.migrate import migration_sets
    from core.plugins_loader import build_plugin_manager, call_each

    folder = tmp_path / "notes_migrations"
    folder.mkdir()
    (folder / "0001_create_note.py").write_text(textwrap.dedent(NOTE_MIGRATION), encoding="utf-8")
    config = tmp_path / "oss-connect.yaml"
    settings = core.testing.base_test_config(database_url, tmp_path, {"plugins": {"notes": None}})
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    loaded = load_config(config, extra_plugins={"notes": NotesPlugin(folder)})
    return migration_sets(call_each(build_plugin_manager(loaded.plugins), "register_models"))


def test_plugin_migrations_run_after_cores(old_db, plugin_migration_sets):
    applied = upgrade(old_db, plugin_migration_sets)
    assert applied == [f"core/{name}" for name in CORE_NAMES[1:]] + ["notes/0001_create_note"]
    assert "migration_test_note" in old_db.get_tables()


def test_plugin_migrations_have_their_own_history_table(old_db, plugin_migration_sets):
    upgrade(old_db, plugin_migration_sets)
    core_history = [name for (name,) in old_db.execute_sql('SELECT "name" FROM "schema_migrations"')]
    plugin_history = [name for (name,) in old_db.execute_sql('SELECT "name" FROM "schema_migrations_notes"')]
    assert sorted(core_history) == CORE_NAMES
    assert plugin_history == ["0001_create_note"]


def test_plugin_migrations_are_applied_once(old_db, plugin_migration_sets):
    upgrade(old_db, plugin_migration_sets)
    assert upgrade(old_db, plugin_migration_sets) == []
    assert ("notes", "0001_create_note", True) in status(old_db, plugin_migration_sets)

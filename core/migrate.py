"""Versioned schema migrations for core and for every enabled plugin (peewee's runner)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee
from playhouse.migrations import Runner

CORE_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class PluginModels:
    """What a plugin's `register_models` returns: its models and its migrations folder."""

    models: list[type[peewee.Model]] = field(default_factory=list)
    migrations: Path | None = None


@dataclass
class MigrationSet:
    """One owner's migrations (core, or a plugin) with its own history table."""

    owner: str
    directory: Path

    def runner(self, db: peewee.Database) -> Runner:
        """peewee's migration runner over this set."""
        table = "schema_migrations" if self.owner == "core" else f"schema_migrations_{self.owner}"
        return Runner(db, directory=str(self.directory), table_name=table)


def migration_sets(plugin_models: list[tuple[str, Any]]) -> list[MigrationSet]:
    """Core's set first, then one per plugin that declared a migrations folder."""
    sets = [MigrationSet("core", CORE_MIGRATIONS)]
    for plugin_name, declared in plugin_models:
        items = declared if isinstance(declared, list | tuple) else [declared]
        for item in items:
            if getattr(item, "migrations", None):
                sets.append(MigrationSet(plugin_name, Path(item.migrations)))
    return sets


def upgrade(db: peewee.Database, sets: list[MigrationSet], target: str | None = None) -> list[str]:
    """Apply every pending migration, core first; return the names applied as OWNER/NAME."""
    applied: list[str] = []
    for migration_set in sets:
        for name in migration_set.runner(db).up(target if migration_set.owner == "core" else None):
            applied.append(f"{migration_set.owner}/{name}")
    return applied


def status(db: peewee.Database, sets: list[MigrationSet]) -> list[tuple[str, str, bool]]:
    """(owner, migration name, applied?) for every known migration."""
    rows = []
    for migration_set in sets:
        for migration in migration_set.runner(db).status():
            rows.append((migration_set.owner, migration.name, migration.applied is not None))
    return rows


def pending(db: peewee.Database, sets: list[MigrationSet]) -> list[str]:
    """Names of migrations not yet applied."""
    return [f"{owner}/{name}" for owner, name, done in status(db, sets) if not done]

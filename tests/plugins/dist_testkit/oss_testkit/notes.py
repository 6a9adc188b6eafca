"""testkit_notes: a plugin with its own table, created by its own migrations folder."""

from __future__ import annotations

from pathlib import Path

import peewee

from core.api import BaseModel, PluginModels, UTCDateTimeField, hookimpl, utcnow


class TestkitNote(BaseModel):
    """A note, stored in the plugin's own table `testkit_note`."""

    text = peewee.CharField(max_length=200)
    created_at = UTCDateTimeField(default=utcnow)


@hookimpl
def register_models() -> PluginModels:
    """The plugin's model and the folder of its migrations."""
    return PluginModels(models=[TestkitNote], migrations=Path(__file__).parent / "migrations")

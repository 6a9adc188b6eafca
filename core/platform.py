"""The per-app `Platform`: everything a request, job or plugin needs, reachable as core.api.platform()."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import current_app

from core.access_policy import AccessTables
from core.config.loader import LoadedConfig
from core.jobs import JobQueue
from core.migrate import MigrationSet
from core.themes import ActiveTheme


@dataclass
class Platform:
    """One app instance's configuration, plugins, theme, providers and queues."""

    config: LoadedConfig
    plugins: pluggy.PluginManager
    theme: ActiveTheme
    jobs: JobQueue
    migrations: list[MigrationSet]
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: AccessTables | None = None  # who may use each route and event: core's and the plugins' (set at start-up)

    @functools.cached_property
    def blobs(self) -> Any:
        """The blob store of `storage:` (a local folder or an S3 bucket); built on first use."""
        from core.blobs import blob_store_from_settings

        return blob_store_from_settings(self.settings.storage, self.config.instance_file)

    @property
    def hook(self) -> Any:
        """Shortcut for `plugins.hook`."""
        return self.plugins.hook

    @property
    def settings(self) -> Any:
        """The validated core settings."""
        return self.config.settings

    def provider(self, kind: str, name: str) -> Any:
        """A registered provider by kind (e.g. 'call_provider') and name, or LookupError."""
        try:
            return self.providers[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.providers.get(kind, {}))) or "none"
            raise LookupError(f"no {kind.replace('_', ' ')} named '{name}' (registered: {known})") from None


def platform() -> Platform:
    """The running instance's `Platform`: core's own modules reach it here, plugins through core.api."""
    return current_app.extensions["oss_connect"]

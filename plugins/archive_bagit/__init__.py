"""archive_bagit: each deposit as a BagIt bag in a pickup folder, or on the institution's SFTP server.

Enable it under `plugins: archive_bagit:`; its settings and the institution's side: docs/archive-bagit.md.
"""

from __future__ import annotations

from typing import Any

from core.api import hookimpl

from .destination import BagitDestination
from .settings import BagitSettings

__all__ = ["BagitDestination", "BagitSettings"]


@hookimpl
def register_config_schema() -> type[BagitSettings]:
    """archive_bagit's settings."""
    return BagitSettings


@hookimpl
def register_archive_destinations() -> list[Any]:
    """The "bagit" destination."""
    return [BagitDestination()]

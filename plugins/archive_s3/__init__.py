"""archive_s3: each deposit as the files of a BagIt bag in an S3-compatible bucket (AWS, MinIO, Ceph, Garage ...).

Enable it under `plugins: archive_s3:`; its settings and the bucket's side: docs/archive-s3.md.
"""

from __future__ import annotations

from typing import Any

from core.api import hookimpl

from .destination import S3Destination
from .settings import S3ArchiveSettings

__all__ = ["S3ArchiveSettings", "S3Destination"]


@hookimpl
def register_config_schema() -> type[S3ArchiveSettings]:
    """archive_s3's settings."""
    return S3ArchiveSettings


@hookimpl
def register_archive_destinations() -> list[Any]:
    """The "s3" destination."""
    return [S3Destination()]

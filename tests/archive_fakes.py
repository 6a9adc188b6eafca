"""A small real archive destination for the pipeline's tests: it keeps each package's files on a shelf
(a folder), counts its calls, and can be told to fail."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core.api import ArchiveDestination, CheckResult, DepositError, WithdrawalResult, hookimpl


class ShelfDestination(ArchiveDestination):
    """Copies each bag to `folder/<identifier>` and remembers what it was asked."""

    name = "shelf"
    label = "The Shelf Archive"

    def __init__(self, folder: Path):
        self.folder = folder
        self.deposits: list[str] = []          # package checksums, one per deposit() call
        self.withdrawals: list[dict[str, Any]] = []
        self.failures: list[DepositError | Exception] = []   # raised (and removed) one per call first
        self.removes = True
        self.packages: list[Any] = []

    @property
    def contact(self) -> str:
        """The archivist to write to."""
        return "Pat Archivist, archive@shelf.example"

    def deposit(self, package: Any) -> dict[str, Any]:
        """Copy the bag, or raise the next planned failure."""
        if self.failures:
            raise self.failures.pop(0)
        target = self.folder / package.identifier
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(package.path, target)
        self.deposits.append(package.checksum)
        self.packages.append(package)
        return {"path": str(target), "checksum": package.checksum, "files": len(package.files)}

    def withdraw(self, receipt: dict[str, Any]) -> WithdrawalResult:
        """Remove the copy; say the institution must be told when `removes` is False."""
        if self.failures:
            raise self.failures.pop(0)
        self.withdrawals.append(receipt)
        shutil.rmtree(receipt["path"], ignore_errors=True)
        if self.removes:
            return WithdrawalResult(removed=True, message="Removed from the shelf.")
        return WithdrawalResult(removed=False, message="The shelf keeps paper copies: write to the archivist.")

    def check(self, receipt: dict[str, Any]) -> CheckResult:
        """The copy is still there."""
        there = Path(receipt["path"], "manifest-sha256.txt").exists()
        return CheckResult(ok=there, message="on the shelf" if there else "gone from the shelf")


class ShelfPlugin:
    """Registers one ShelfDestination (kept on the plugin so tests can look at it)."""

    def __init__(self, folder: Path):
        self.destination = ShelfDestination(folder)
        self.archived: list[tuple[int, str]] = []

    @hookimpl
    def register_archive_destinations(self) -> list[Any]:
        return [self.destination]

    @hookimpl
    def item_archived(self, conversation: Any, destination: str, receipt: Any) -> None:
        self.archived.append((conversation.id, destination))

    @hookimpl
    def before_archive(self, package: Any) -> dict[str, Any]:
        return {"partner_programme": "Shelf test programme"}

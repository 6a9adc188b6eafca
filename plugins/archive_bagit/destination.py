"""The "bagit" archive destination: finished bags in a pickup folder, or on the institution's SFTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.api import ArchiveDestination, ArchivePackage, CheckResult, WithdrawalResult, platform, plugin_settings

from .folder import FolderDelivery, iso
from .settings import BagitSettings
from .sftp import SftpDelivery

DEFAULT_INSTITUTION = "the archive collecting the BagIt bags"


class BagitDestination(ArchiveDestination):
    """Deposits each package as a BagIt bag folder named by its identifier (docs/archive-bagit.md)."""

    name = "bagit"
    label = "BagIt bags (pickup folder or SFTP)"
    consent = "deposit"

    def __init__(self, settings: BagitSettings | None = None, instance_folder: Path | None = None) -> None:
        """Without arguments the enabled plugin's settings and the instance folder are used (inside the app)."""
        self._settings = settings
        self._instance_folder = instance_folder

    @property
    def settings(self) -> BagitSettings:
        """The settings given, or the enabled plugin's."""
        if self._settings is not None:
            return self._settings
        return plugin_settings("archive_bagit") or BagitSettings()

    def resolve(self, relative: str) -> Path:
        """A path from the settings, relative to the instance folder."""
        if self._instance_folder is not None:
            candidate = Path(relative)
            return candidate if candidate.is_absolute() else self._instance_folder / candidate
        return Path(platform().config.instance_file(relative))

    @property
    def institution(self) -> str:
        """The institution's name from the settings."""
        return self.settings.institution.name or DEFAULT_INSTITUTION

    @property
    def contact(self) -> str:
        """Whom admins contact at the institution (admins only; never in receipts)."""
        return self.settings.institution.contact

    def delivery(self) -> FolderDelivery | SftpDelivery:
        """SFTP when configured, else the local folder."""
        settings = self.settings
        if settings.sftp is not None:
            return SftpDelivery(settings.sftp, self.resolve)
        return FolderDelivery(self.resolve(settings.folder))

    def deposit(self, package: ArchivePackage) -> dict[str, Any]:
        """Deliver the bag once (a repeat with the same checksum copies nothing); the receipt."""
        delivery = self.delivery()
        package.progress(0.0, f"delivering to {delivery.describe()}")
        location, delivered = delivery.deposit(package)
        kind = "sftp" if isinstance(delivery, SftpDelivery) else "folder"
        where = f"{delivery.describe()}/{package.identifier}" if kind == "sftp" else str(location)
        return {"destination": self.name, "delivery": kind, "where": where, "identifier": package.identifier,
                "checksum": package.checksum, "files": len(package.files), "bytes": package.size,
                "deposited_at": iso(delivered)}

    def withdraw(self, receipt: dict[str, Any]) -> WithdrawalResult:
        """Remove the bag if it is still there; with tell_on_withdraw, ask the admin to tell the institution."""
        identifier = receipt["identifier"]
        delivery = self.delivery()
        removed = delivery.remove(identifier)
        place = delivery.describe()
        found = f"removed {identifier} from {place}" if removed else f"{identifier} was no longer in {place}"
        if not self.settings.tell_on_withdraw:
            return WithdrawalResult(True, f"{found}.")
        contact = self.settings.institution.contact
        return WithdrawalResult(False, f"{found}; it may have been collected already: tell {self.institution}"
                                       f"{' (' + contact + ')' if contact else ''} that the deposit {identifier} "
                                       "is withdrawn and must be deleted.")

    def check(self, receipt: dict[str, Any]) -> CheckResult:
        """Full BagIt validation in the folder; presence and sizes on the SFTP server."""
        return self.delivery().check(receipt)

"""Delivery into a local pickup folder: copy into a hidden partial folder, fsync, rename into place.

Layout: `<folder>/<identifier>/` holds a finished bag; `<folder>/.partial-<identifier>-<checksum>/` is
a copy in progress (or the old version being removed). A lock file keeps two deposits from working in
the folder at once; it is released by the kernel when a process dies, so a killed run never blocks the
next one, which removes what the killed run left.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit

from core.api import ArchivePackage, CheckResult, DepositError

PARTIAL = ".partial-"
LOCK = ".lock"
CHUNK = 1024 * 1024
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def manifest_checksum(bag: Path) -> str | None:
    """SHA-256 of the bag's manifest-sha256.txt (the package checksum), or None if there is none."""
    try:
        return hashlib.sha256((bag / "manifest-sha256.txt").read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None


def fsync_folder(folder: Path) -> None:
    """Make new entries and renames in `folder` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def iso(timestamp: float) -> str:
    """A POSIX time as ISO 8601 UTC, to the second."""
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).isoformat().replace("+00:00", "Z")


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name, use_errno=True) if name else None
    function = getattr(libc, "renameat2", None)
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first))


class FolderDelivery:
    """Bags in a local folder that the institution collects from."""

    def __init__(self, root: Path, setting: str = "plugins.archive_bagit.folder") -> None:
        self.root = root
        self.setting = setting

    def describe(self) -> str:
        """Where the bags go, for messages and receipts."""
        return str(self.root)

    # --- errors ------------------------------------------------------------------------------

    def _error(self, error: OSError, doing: str) -> DepositError:
        """An OSError as a sentence saying which folder and how to fix it."""
        place = error.filename or self.root
        if isinstance(error, PermissionError) or error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return DepositError(f"cannot {doing}: {place} is not writable for this process (uid {os.geteuid()}); "
                                f"give it write access to {self.root} (chown/chmod), or set {self.setting} to a "
                                "writable folder", retry=False)
        if error.errno == errno.ENOSPC:
            return DepositError(f"cannot {doing}: the disk holding {self.root} is full; free space or set "
                                f"{self.setting} to a folder on a larger disk")
        if error.errno in (errno.ENOTDIR, errno.EEXIST) and not Path(place).is_dir():
            return DepositError(f"cannot {doing}: {place} is a file where a folder is needed; move it away or "
                                f"set {self.setting} to another folder", retry=False)
        return DepositError(f"cannot {doing} in {self.root}: {error.strerror or error}; check the folder and its "
                            "disk")

    @contextlib.contextmanager
    def _locked(self, doing: str) -> Iterator[None]:
        """Create the folder, hold its lock file, and translate OSErrors."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / LOCK, "a+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield
        except OSError as error:
            raise self._error(error, doing) from error

    def _clean_leftovers(self) -> None:
        """Remove partial folders left by a killed or failed run (under the lock: nobody else is copying)."""
        for entry in self.root.iterdir():
            if entry.name.startswith(PARTIAL):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()

    # --- deposit -----------------------------------------------------------------------------

    def deposit(self, package: ArchivePackage) -> tuple[Path, float]:
        """Put the bag at `<root>/<identifier>/` once; its path and delivery time (the folder's mtime)."""
        final = self.root / package.identifier
        with self._locked(f"deposit {package.identifier}"):
            self._clean_leftovers()
            if manifest_checksum(final) == package.checksum:
                package.progress(1.0, "already in the folder")
                return final, final.stat().st_mtime
            partial = self.root / f"{PARTIAL}{package.identifier}-{package.checksum[:16]}"
            self._copy(package, partial)
            stamp = float(int(dt.datetime.now(dt.UTC).timestamp()))
            os.utime(partial, (stamp, stamp))
            self._put_in_place(partial, final)
            fsync_folder(self.root)
            package.progress(1.0, "in the folder")
            return final, final.stat().st_mtime

    def _copy(self, package: ArchivePackage, partial: Path) -> None:
        """Copy every file of the bag into `partial`, each fsynced, reporting progress by bytes."""
        partial.mkdir()
        total = max(package.size, 1)
        done = 0
        folders = {partial}
        for relative in package.files:
            source, target = package.path / relative, partial / relative
            if target.parent not in folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                folders.update([target.parent, *target.parent.parents])
            with open(source, "rb") as reader, open(target, "wb") as writer:
                while chunk := reader.read(CHUNK):
                    writer.write(chunk)
                    done += len(chunk)
                    package.progress(min(done / total, 1.0) * 0.95, f"copying {relative}")
                writer.flush()
                os.fsync(writer.fileno())
        for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
            if folder.is_relative_to(partial):
                fsync_folder(folder)

    def _put_in_place(self, partial: Path, final: Path) -> None:
        """Rename the finished copy to its name; a different version there is swapped out atomically."""
        if not final.exists():
            os.rename(partial, final)
            return
        if _exchange(partial, final):
            fsync_folder(self.root)
            shutil.rmtree(partial)  # now holds the old version
            return
        old = self.root / f"{PARTIAL}{final.name}-old"
        os.rename(final, old)
        os.rename(partial, final)
        fsync_folder(self.root)
        shutil.rmtree(old)

    # --- withdraw and check --------------------------------------------------------------------

    def remove(self, identifier: str) -> bool:
        """Remove the bag if it is there (renamed away first, so nobody collects half of it); True if it was."""
        final = self.root / identifier
        if not final.exists():
            return False
        with self._locked(f"withdraw {identifier}"):
            if not final.exists():
                return False
            away = self.root / f"{PARTIAL}{identifier}-withdrawn"
            os.rename(final, away)
            fsync_folder(self.root)
            shutil.rmtree(away)
            return True

    def check(self, receipt: dict[str, Any]) -> CheckResult:
        """Full BagIt validation of the delivered bag, and its checksum against the receipt."""
        final = self.root / receipt["identifier"]
        if not final.is_dir():
            return CheckResult(False, f"{final} is not there: collected by the institution, or removed")
        checksum = manifest_checksum(final)
        if checksum != receipt.get("checksum"):
            return CheckResult(False, f"{final} holds another version (manifest checksum {checksum}, the receipt "
                                      f"says {receipt.get('checksum')})")
        try:
            bagit.Bag(str(final)).validate(processes=1)
        except bagit.BagError as error:
            details = "; ".join(str(item) for item in getattr(error, "details", [])[:5])
            return CheckResult(False, f"{final} is not a valid bag: {error}{': ' + details if details else ''}")
        return CheckResult(True, f"{final} is a valid bag (every checksum verified)")

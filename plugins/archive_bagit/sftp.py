"""Delivery by SFTP (paramiko): upload into a hidden partial folder, then posix-rename into place.

The server's host key is always checked against `known_hosts_file`; an unknown or changed key stops
the deposit (retry=False) with the command that fixes it. Like the folder delivery, a bag whose
manifest-sha256.txt has the package's checksum is never uploaded twice, and partial folders left by
a killed run are removed by the next deposit.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko

from core.api import ArchivePackage, CheckResult, DepositError

from .settings import SftpSettings

PARTIAL = ".partial-"
SETTING = "plugins.archive_bagit.sftp"


class SftpDelivery:
    """Bags in a folder on the institution's SFTP server."""

    def __init__(self, settings: SftpSettings, resolve: Any) -> None:
        self.settings = settings
        self.resolve = resolve  # relative path -> Path in the instance folder

    def describe(self) -> str:
        """sftp://host:port/remote_folder (no user name: receipts and messages stay free of accounts)."""
        folder = self.settings.remote_folder.rstrip("/") or "/"
        slash = "" if folder.startswith("/") else "/~/"
        return f"sftp://{self.settings.host}:{self.settings.port}{slash}{folder.lstrip('/') if slash else folder}"

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.settings.remote_folder, *parts)

    # --- connecting --------------------------------------------------------------------------

    @contextlib.contextmanager
    def session(self) -> Iterator[paramiko.SFTPClient]:
        """An SFTP session with the host key checked; DepositError says what is wrong and how to fix it."""
        settings = self.settings
        where = f"{settings.host}:{settings.port}"
        known_hosts = self.resolve(settings.known_hosts_file)
        scan = f"ssh-keyscan -p {settings.port} {settings.host} > {known_hosts}"
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.load_host_keys(str(known_hosts))
        except FileNotFoundError:
            raise DepositError(f"the known_hosts file {known_hosts} does not exist; make it with `{scan}` and "
                               "compare the fingerprint with the one the institution gives you "
                               f"({SETTING}.known_hosts_file)", retry=False) from None
        except (OSError, paramiko.SSHException) as error:
            raise DepositError(f"cannot read the known_hosts file {known_hosts} ({error}); make it with `{scan}` "
                               f"({SETTING}.known_hosts_file)", retry=False) from error
        options: dict[str, Any] = {"hostname": settings.host, "port": settings.port, "username": settings.username,
                                   "timeout": settings.timeout_seconds, "banner_timeout": settings.timeout_seconds,
                                   "auth_timeout": settings.timeout_seconds, "allow_agent": False,
                                   "look_for_keys": False}
        if settings.password is not None:
            options["password"] = settings.password.get_secret_value()
        if settings.private_key_file:
            options["key_filename"] = str(self.resolve(settings.private_key_file))
            if settings.private_key_passphrase is not None:
                options["passphrase"] = settings.private_key_passphrase.get_secret_value()
        try:
            client.connect(**options)
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(settings.timeout_seconds)
        except paramiko.BadHostKeyException as error:
            client.close()
            raise DepositError(f"the SFTP server {where} showed another host key than the one in {known_hosts}; "
                               "this can be an attack. Ask the institution whether they changed the key; only then "
                               f"replace its line with `{scan}`", retry=False) from error
        except paramiko.AuthenticationException as error:
            client.close()
            raise DepositError(f"the SFTP server {where} refused the login of {settings.username!r} ({error}); check "
                               f"{SETTING}.username and password or private_key_file with the institution",
                               retry=False) from error
        except paramiko.SSHException as error:
            client.close()
            if "not found in known_hosts" in str(error):
                raise DepositError(f"the SFTP server {where} is not in {known_hosts}, so its identity cannot be "
                                   f"checked; add its key with `{scan}` and compare the fingerprint with the one "
                                   "the institution gives you", retry=False) from error
            raise DepositError(f"SFTP with {where} failed: {error}; it is tried again") from error
        except OSError as error:
            client.close()
            raise DepositError(f"cannot reach the SFTP server {where} ({error}); check {SETTING}.host and port and "
                               "that the server accepts connections from this machine") from error
        try:
            yield sftp
        except OSError as error:
            raise DepositError(f"SFTP on {where} failed: {error}; check that {settings.username!r} may write "
                               f"{settings.remote_folder}") from error
        finally:
            client.close()

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _is_dir(sftp: paramiko.SFTPClient, path: str) -> bool:
        try:
            return stat.S_ISDIR(sftp.stat(path).st_mode or 0)
        except FileNotFoundError:
            return False

    @staticmethod
    def _checksum(sftp: paramiko.SFTPClient, bag: str) -> str | None:
        """SHA-256 of the remote bag's manifest-sha256.txt, or None."""
        try:
            with sftp.open(posixpath.join(bag, "manifest-sha256.txt"), "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest()
        except FileNotFoundError:
            return None

    def _remove_tree(self, sftp: paramiko.SFTPClient, path: str) -> None:
        """Delete a remote folder and everything in it."""
        for entry in sftp.listdir_attr(path):
            child = posixpath.join(path, entry.filename)
            if stat.S_ISDIR(entry.st_mode or 0):
                self._remove_tree(sftp, child)
            else:
                sftp.remove(child)
        sftp.rmdir(path)

    def walk(self, sftp: paramiko.SFTPClient, path: str, prefix: str = "") -> dict[str, int]:
        """Every file under a remote folder: relative path -> size."""
        found: dict[str, int] = {}
        for entry in sftp.listdir_attr(path):
            relative = f"{prefix}{entry.filename}"
            if stat.S_ISDIR(entry.st_mode or 0):
                found.update(self.walk(sftp, posixpath.join(path, entry.filename), relative + "/"))
            else:
                found[relative] = entry.st_size or 0
        return found

    def _prepare(self, sftp: paramiko.SFTPClient) -> None:
        """The remote folder exists (created if missing); leftovers of killed runs are removed."""
        folder = self.settings.remote_folder
        if not self._is_dir(sftp, folder):
            try:
                sftp.mkdir(folder)
            except OSError as error:
                raise DepositError(f"the folder {folder} does not exist on {self.settings.host} and cannot be "
                                   f"created ({error}); ask the institution for the right folder and set "
                                   f"{SETTING}.remote_folder", retry=False) from error
        for entry in sftp.listdir_attr(folder):
            if entry.filename.startswith(PARTIAL):
                path = self._path(entry.filename)
                if stat.S_ISDIR(entry.st_mode or 0):
                    self._remove_tree(sftp, path)
                else:
                    sftp.remove(path)

    # --- deposit, withdraw, check ---------------------------------------------------------------

    def deposit(self, package: ArchivePackage) -> tuple[str, float]:
        """Upload the bag to `<remote_folder>/<identifier>/` once; its remote path and delivery time."""
        final = self._path(package.identifier)
        with self.session() as sftp:
            self._prepare(sftp)
            if self._checksum(sftp, final) == package.checksum:
                package.progress(1.0, "already on the SFTP server")
                return final, float(sftp.stat(final).st_mtime or 0)
            partial = self._path(f"{PARTIAL}{package.identifier}-{package.checksum[:16]}")
            self._upload(sftp, package, partial)
            stamp = float(int(time.time()))
            sftp.utime(partial, (stamp, stamp))
            if self._is_dir(sftp, final):
                old = self._path(f"{PARTIAL}{package.identifier}-old")
                sftp.posix_rename(final, old)
                sftp.posix_rename(partial, final)
                self._remove_tree(sftp, old)
            else:
                sftp.posix_rename(partial, final)
            package.progress(1.0, "on the SFTP server")
            return final, float(sftp.stat(final).st_mtime or stamp)

    def _upload(self, sftp: paramiko.SFTPClient, package: ArchivePackage, partial: str) -> None:
        """Upload every file into `partial`, each checked by size, reporting progress by bytes."""
        made = {partial}
        sftp.mkdir(partial)
        total, done = max(package.size, 1), 0
        for relative in package.files:
            target = posixpath.join(partial, relative)
            parent = posixpath.dirname(target)
            missing = []
            while parent not in made:
                missing.append(parent)
                parent = posixpath.dirname(parent)
            for folder in reversed(missing):
                sftp.mkdir(folder)
                made.add(folder)
            base = done

            def progress(sent: int, _size: int, base: int = base, relative: str = relative) -> None:
                package.progress(min((base + sent) / total, 1.0) * 0.95, f"uploading {relative}")

            sftp.put(str(Path(package.path) / relative), target, callback=progress, confirm=True)
            done += (Path(package.path) / relative).stat().st_size

    def remove(self, identifier: str) -> bool:
        """Remove the bag if it is there (renamed away first); True if it was."""
        final = self._path(identifier)
        with self.session() as sftp:
            if not self._is_dir(sftp, final):
                return False
            away = self._path(f"{PARTIAL}{identifier}-withdrawn")
            if self._is_dir(sftp, away):
                self._remove_tree(sftp, away)
            sftp.posix_rename(final, away)
            self._remove_tree(sftp, away)
            return True

    def check(self, receipt: dict[str, Any]) -> CheckResult:
        """The bag is there, with the receipt's manifest, every file of it, and the receipt's sizes."""
        final = self._path(receipt["identifier"])
        where = f"{self.describe()}/{receipt['identifier']}"
        with self.session() as sftp:
            if not self._is_dir(sftp, final):
                return CheckResult(False, f"{where} is not there: collected by the institution, or removed")
            checksum = self._checksum(sftp, final)
            if checksum != receipt.get("checksum"):
                return CheckResult(False, f"{where} holds another version (manifest checksum {checksum}, the receipt "
                                          f"says {receipt.get('checksum')})")
            files = self.walk(sftp, final)
            with sftp.open(posixpath.join(final, "manifest-sha256.txt"), "rb") as handle:
                listed = [line.split(maxsplit=1)[1] for line in handle.read().decode().splitlines() if line.strip()]
        missing = [name for name in listed if name not in files]
        if missing:
            return CheckResult(False, f"{where} lacks {len(missing)} payload file(s), e.g. {missing[0]}")
        size, count = sum(files.values()), len(files)
        if (count, size) != (receipt.get("files"), receipt.get("bytes")):
            return CheckResult(False, f"{where} holds {count} files of {size} bytes; the receipt says "
                                      f"{receipt.get('files')} files of {receipt.get('bytes')} bytes")
        return CheckResult(True, f"{where} holds every file with the deposited sizes")

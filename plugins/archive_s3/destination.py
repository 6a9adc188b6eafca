"""The "s3" archive destination: every file of a bag as an object under `<prefix><identifier>/`.

Each object carries its SHA-256 and the package checksum in its metadata. The payload goes first and
tagmanifest-sha256.txt last: that object marks a complete deposit, so a repeat with the same package
checksum uploads nothing, and a run killed half-way is completed by the next one (objects already
there with the right SHA-256 are kept).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from botocore import exceptions as boto_errors

from core.api import ArchiveDestination, ArchivePackage, CheckResult, DepositError, WithdrawalResult, plugin_settings

from .settings import S3ArchiveSettings

MARKER = "tagmanifest-sha256.txt"
SETTING = "plugins.archive_s3"
CHUNK = 1024 * 1024
_UNREACHABLE = (boto_errors.EndpointConnectionError, boto_errors.ConnectTimeoutError,
                boto_errors.ProxyConnectionError, boto_errors.SSLError, boto_errors.ConnectionClosedError,
                boto_errors.ReadTimeoutError)
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                    "InvalidClientTokenId", "TokenRefreshRequired", "UnrecognizedClientException"}
_PERMISSIONS = "s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def upload_order(files: tuple[str, ...] | list[str]) -> list[str]:
    """The payload first, then tag files, then the tag manifests, tagmanifest-sha256.txt last."""
    def rank(name: str) -> tuple[int, str]:
        if name == MARKER:
            return (3, name)
        if name.startswith("tagmanifest-"):
            return (2, name)
        return (0 if name.startswith("data/") else 1, name)

    return sorted(files, key=rank)


def _manifest_entries(text: str) -> dict[str, str]:
    """A BagIt manifest's lines as path -> checksum."""
    entries = {}
    for line in text.splitlines():
        if line.strip():
            checksum, _, path = line.partition(" ")
            entries[path.strip().lstrip("*")] = checksum.lower()
    return entries


class S3Destination(ArchiveDestination):
    """Deposits each package's bag into an S3-compatible bucket (docs/archive-s3.md)."""

    name = "s3"
    label = "S3 bucket (BagIt bag as objects)"
    consent = "deposit"

    def __init__(self, settings: S3ArchiveSettings | None = None, client: Any = None) -> None:
        """Without settings the enabled plugin's are used (inside the app)."""
        self._settings = settings
        self._client = client

    @property
    def settings(self) -> S3ArchiveSettings:
        """The settings given, or the enabled plugin's."""
        settings = self._settings or plugin_settings("archive_s3")
        if settings is None:
            raise DepositError("the archive_s3 plugin has no settings; add plugins: archive_s3: {bucket: ...}",
                               retry=False)
        return settings

    @property
    def institution(self) -> str:
        """The institution's name from the settings, or the bucket."""
        settings = self._settings or plugin_settings("archive_s3")
        if settings is None:
            return self.label
        return settings.institution.name or f"the archive's S3 bucket {settings.bucket}"

    @property
    def contact(self) -> str:
        """Whom admins contact at the institution (admins only; never in receipts)."""
        settings = self._settings or plugin_settings("archive_s3")
        return settings.institution.contact if settings is not None else ""

    # --- the client and its errors ---------------------------------------------------------------

    def client(self) -> Any:
        """A boto3 S3 client for the settings (path-style addressing for custom endpoints), made once."""
        if self._client is not None:
            return self._client
        import boto3
        from botocore.config import Config

        settings = self.settings
        options: dict[str, Any] = {"connect_timeout": 10, "read_timeout": 120,
                                   "retries": {"max_attempts": 3, "mode": "standard"},
                                   "signature_version": "s3v4", "user_agent_extra": "oss-connect-archive"}
        if settings.endpoint_url:
            options["s3"] = {"addressing_style": "path"}
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        key_id = settings.access_key_id.get_secret_value() if settings.access_key_id else None
        secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, aws_access_key_id=key_id,
            aws_secret_access_key=secret, config=Config(**options))
        return self._client

    def describe(self, identifier: str = "") -> str:
        """s3://bucket/prefix[identifier/]."""
        return f"s3://{self.settings.bucket}/{self.settings.prefix}{identifier + '/' if identifier else ''}"

    def _error(self, error: Exception, doing: str) -> DepositError:
        """A botocore error as a sentence naming the bucket and the fix; retry=False where retrying cannot help."""
        settings = self.settings
        endpoint = settings.endpoint_url or "AWS"
        where = f"the bucket '{settings.bucket}' at {endpoint}"
        if isinstance(error, _UNREACHABLE):
            return DepositError(f"cannot {doing}: the S3 endpoint {endpoint} cannot be reached or did not answer "
                                f"({error}); check {SETTING}.endpoint_url and that the service is running")
        if isinstance(error, (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError)):
            return DepositError(f"cannot {doing} in {where}: there are no S3 credentials; set {SETTING}."
                                "access_key_id: ${ARCHIVE_S3_ACCESS_KEY_ID} and secret_access_key: "
                                "${ARCHIVE_S3_SECRET_ACCESS_KEY} and those variables", retry=False)
        if not isinstance(error, boto_errors.ClientError):
            return DepositError(f"cannot {doing} in {where}: {error}")
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket", "404", "NotFound"):
            return DepositError(f"{where} does not exist: create it (or ask the institution for its name), or fix "
                                f"{SETTING}.bucket", retry=False)
        if code in _BAD_CREDENTIALS:
            return DepositError(f"cannot {doing} in {where}: the service refused the credentials ({code}); check "
                                f"{SETTING}.access_key_id and secret_access_key (and the variables they name)",
                                retry=False)
        if code in ("AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException") \
                or status == 301:
            return DepositError(f"cannot {doing} in {where}: the bucket is in another region or at another address "
                                f"({code or status}); set {SETTING}.region and check endpoint_url", retry=False)
        if code in ("AccessDenied", "403", "Forbidden") or status == 403:
            return DepositError(f"cannot {doing} in {where}: access denied; grant the credentials {_PERMISSIONS} "
                                "on the bucket", retry=False)
        return DepositError(f"cannot {doing} in {where}: {code or status} {details.get('Message') or ''}".rstrip())

    def _head(self, key: str) -> dict[str, Any] | None:
        """An object's HEAD answer, or None when it is not there (other errors raise)."""
        try:
            return self.client().head_object(Bucket=self.settings.bucket, Key=key)
        except boto_errors.ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def keys(self, prefix: str) -> list[tuple[str, int]]:
        """Every object under `prefix`, with its size."""
        found = []
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
            found += [(item["Key"], int(item["Size"])) for item in page.get("Contents", [])]
        return found

    def _read(self, key: str) -> bytes | None:
        try:
            return self.client().get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
        except boto_errors.ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    # --- deposit ---------------------------------------------------------------------------------

    def _receipt(self, package: ArchivePackage, deposited_at: str) -> dict[str, Any]:
        settings = self.settings
        return {"destination": self.name, "where": self.describe(package.identifier),
                "endpoint": settings.endpoint_url or "AWS", "bucket": settings.bucket,
                "key_prefix": f"{settings.prefix}{package.identifier}/", "identifier": package.identifier,
                "checksum": package.checksum, "files": len(package.files), "bytes": package.size,
                "deposited_at": deposited_at}

    def deposit(self, package: ArchivePackage) -> dict[str, Any]:
        """Upload the bag's files (payload first, the marker last) unless the same package is there already."""
        try:
            return self._deposit(package)
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as error:
            raise self._error(error, f"deposit {package.identifier}") from error

    def _deposit(self, package: ArchivePackage) -> dict[str, Any]:
        from boto3.s3.transfer import TransferConfig

        settings, client = self.settings, self.client()
        base = f"{settings.prefix}{package.identifier}/"
        package.progress(0.0, f"depositing to {self.describe(package.identifier)}")
        client.head_bucket(Bucket=settings.bucket)
        marker = self._head(base + MARKER)
        metadata = (marker or {}).get("Metadata", {})
        if metadata.get("package-checksum") == package.checksum:
            package.progress(1.0, "already in the bucket")
            return self._receipt(package, metadata.get("deposited-at", ""))
        if marker is not None:  # another version: it is no longer complete from now on
            client.delete_object(Bucket=settings.bucket, Key=base + MARKER)
        deposited_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        transfer = TransferConfig(multipart_threshold=64 * CHUNK, multipart_chunksize=64 * CHUNK, max_concurrency=4)
        total, done = max(package.size, 1), 0
        for relative in upload_order(package.files):
            path = Path(package.path) / relative
            size = path.stat().st_size
            digest = sha256_of(path)
            meta = {"sha256": digest, "package-checksum": package.checksum}
            if relative == MARKER:
                meta.update({"deposited-at": deposited_at, "identifier": package.identifier,
                             "files": str(len(package.files)), "bytes": str(package.size)})
            existing = None if relative == MARKER else self._head(base + relative)
            if existing is None or existing.get("Metadata") != meta or int(existing.get("ContentLength", -1)) != size:
                sent = [done]

                def progress(amount: int, relative: str = relative, sent: list[int] = sent) -> None:
                    sent[0] += amount
                    package.progress(min(sent[0] / total, 1.0) * 0.95, f"uploading {relative}")

                client.upload_file(str(path), settings.bucket, base + relative, Config=transfer, Callback=progress,
                                   ExtraArgs={"Metadata": meta})
            done += size
            package.progress(min(done / total, 1.0) * 0.95, f"uploaded {relative}")
        stale = [key for key, _size in self.keys(base) if key[len(base):] not in set(package.files)]
        self._delete(stale)
        package.progress(1.0, "in the bucket")
        return self._receipt(package, deposited_at)

    def _delete(self, keys: list[str]) -> None:
        """Delete objects, in batches of 1000."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start:start + 1000]]
            if batch:
                self.client().delete_objects(Bucket=self.settings.bucket, Delete={"Objects": batch, "Quiet": True})

    # --- withdraw and check ----------------------------------------------------------------------

    def withdraw(self, receipt: dict[str, Any]) -> WithdrawalResult:
        """Delete every object of the bag, the marker first; removed=True unless tell_on_withdraw."""
        identifier = receipt["identifier"]
        base = f"{self.settings.prefix}{identifier}/"
        try:
            keys = [key for key, _size in self.keys(base)]
            if base + MARKER in keys:
                self.client().delete_object(Bucket=self.settings.bucket, Key=base + MARKER)
            self._delete([key for key in keys if key != base + MARKER])
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as error:
            raise self._error(error, f"withdraw {identifier}") from error
        found = (f"deleted {len(keys)} objects of {identifier} from {self.describe()}" if keys
                 else f"{identifier} was no longer in {self.describe()}")
        if not self.settings.tell_on_withdraw:
            return WithdrawalResult(True, f"{found}.")
        contact = self.settings.institution.contact
        return WithdrawalResult(False, f"{found}; tell {self.institution}{' (' + contact + ')' if contact else ''} "
                                       f"that the deposit {identifier} is withdrawn and must be deleted from any copy.")

    def check(self, receipt: dict[str, Any]) -> CheckResult:
        """Every file of the bag is there with the SHA-256 its manifests give, and the receipt's count and bytes."""
        try:
            return self._check(receipt)
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as error:
            raise self._error(error, f"check {receipt.get('identifier')}") from error

    def _check(self, receipt: dict[str, Any]) -> CheckResult:
        base = f"{self.settings.prefix}{receipt['identifier']}/"
        where = self.describe(receipt["identifier"])
        marker = self._head(base + MARKER)
        if marker is None:
            return CheckResult(False, f"{where} has no {MARKER}: the deposit is incomplete or was removed")
        if marker.get("Metadata", {}).get("package-checksum") != receipt.get("checksum"):
            return CheckResult(False, f"{where} holds another version than the receipt's "
                                      f"({marker.get('Metadata', {}).get('package-checksum')})")
        manifest = self._read(base + "manifest-sha256.txt")
        if manifest is None or hashlib.sha256(manifest).hexdigest() != receipt.get("checksum"):
            return CheckResult(False, f"{where}manifest-sha256.txt is missing or differs from the deposited one")
        expected = _manifest_entries(manifest.decode("utf-8"))
        tags = self._read(base + MARKER) or b""
        expected.update(_manifest_entries(tags.decode("utf-8")))
        expected[MARKER] = hashlib.sha256(tags).hexdigest()
        held = dict(self.keys(base))
        for relative, checksum in sorted(expected.items()):
            head = self._head(base + relative) if base + relative in held else None
            if head is None:
                return CheckResult(False, f"{where}{relative} is missing")
            if head.get("Metadata", {}).get("sha256") != checksum:
                return CheckResult(False, f"{where}{relative} does not have the SHA-256 of the bag's manifest")
        for key in held:
            relative = key[len(base):]
            if relative not in expected:
                head = self._head(key) or {}
                if not head.get("Metadata", {}).get("sha256"):
                    return CheckResult(False, f"{where}{relative} has no SHA-256 in its metadata")
        count, size = len(held), sum(held.values())
        if (count, size) != (receipt.get("files"), receipt.get("bytes")):
            return CheckResult(False, f"{where} holds {count} objects of {size} bytes; the receipt says "
                                      f"{receipt.get('files')} files of {receipt.get('bytes')} bytes")
        return CheckResult(True, f"{where} holds every file with the SHA-256 of the bag's manifests")

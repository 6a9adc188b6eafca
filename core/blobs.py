"""The blob store: recording chunks, originals and masters in a local folder or an S3-compatible bucket.

Keys are made by core only (see core.recording.keys), e.g. ``recordings/12/tracks/34/chunks/000005``;
every key is validated before storage is touched, so no path ever comes from user input. Writes are
atomic: a reader sees the old object or the whole new one, never a part of it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore import exceptions as boto_errors

if TYPE_CHECKING:
    from core.config.schema import S3StorageSettings, StorageSettings

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 200
CHUNK_SIZE = 1024 * 1024
READ_AHEAD = 64 * 1024  # a BlobReader's pieces: small, so a short range fetches little
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*")
_SEGMENT = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_S3_PREFIX = re.compile(r"([a-z0-9][a-z0-9_.-]*/)*")
_PROBE = ".oss-connect-check-"
_S3_PERMISSIONS = "s3:PutObject, s3:GetObject, s3:DeleteObject and s3:ListBucket"


class BlobStoreError(Exception):
    """The blob store failed; the message says what failed and how to fix it."""


class BlobNotFound(BlobStoreError):  # noqa: N818 - the name reads as the condition, like FileNotFoundError
    """There is no blob under the key asked for."""


class BlobKeyError(ValueError):
    """A key that core must never make: rejected before storage is touched."""


def validate_key(key: str) -> str:
    """Return `key` if it is a well-formed blob key, else raise BlobKeyError.

    A key is lowercase segments of ``a-z 0-9 _ . -`` joined by ``/``, each starting with a letter or
    digit, at most 512 characters: no absolute paths, no ``..``, no empty segments, no hidden names.
    """
    if not isinstance(key, str):
        raise BlobKeyError(f"a blob key must be a string, not {type(key).__name__}")
    if not key:
        raise BlobKeyError("a blob key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise BlobKeyError(f"the blob key is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise BlobKeyError(f"the blob key {key!r} has an empty, '.' or '..' segment")
    if any(len(segment) > MAX_SEGMENT_LENGTH for segment in segments):
        raise BlobKeyError(f"the blob key {key!r} has a segment longer than {MAX_SEGMENT_LENGTH} characters")
    if not _KEY.fullmatch(key):
        raise BlobKeyError(f"the blob key {key!r} is not lowercase segments of a-z, 0-9, '_', '.', '-' "
                           "joined by '/', each starting with a letter or digit")
    return key


def validate_prefix(prefix: str) -> str:
    """Return `prefix` if it can start a key ('' for all keys, e.g. 'recordings/12/'), else BlobKeyError."""
    if prefix == "":
        return prefix
    if not isinstance(prefix, str):
        raise BlobKeyError(f"a blob key prefix must be a string, not {type(prefix).__name__}")
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def _is_key(name: str) -> bool:
    """Whether a stored name is a blob key (temporary and probe files are not)."""
    try:
        validate_key(name)
    except BlobKeyError:
        return False
    return True


class BlobStore(ABC):
    """Where blobs live. Public methods validate keys, then call the backend's `_` methods."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing any old blob atomically."""
        self._put_bytes(validate_key(key), bytes(data))

    def put_file(self, key: str, path: Path) -> None:
        """Store the local file `path` under `key`, replacing any old blob atomically."""
        validate_key(key)
        with Path(path).open("rb") as source:
            self._put_file(key, source)

    def get_bytes(self, key: str) -> bytes:
        """The whole blob under `key`; BlobNotFound when there is none."""
        return self._get_bytes(validate_key(key))

    def iter_bytes(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The blob under `key` in pieces of at most `chunk_size` bytes; BlobNotFound (raised at once) if none."""
        return self._iter_bytes(validate_key(key), chunk_size)

    def iter_range(self, key: str, start: int, end: int | None = None,
                   chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Bytes `start` up to `end` (exclusive; None: to the end) of the blob under `key`, in pieces.

        Only that part is read from storage (a ranged GET on S3). BlobNotFound is raised at once;
        a `start` at or past the end gives nothing.
        """
        validate_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"a byte range needs 0 <= start <= end, not start={start}, end={end}")
        if end == start:
            return iter(())
        return self._iter_range(key, start, end, chunk_size)

    def open(self, key: str) -> BlobReader:
        """A seekable, read-only file object over the blob under `key` that reads only what is asked for.

        For streaming HTTP range responses (`werkzeug.wsgi.wrap_file`) without holding the blob in memory.
        BlobNotFound when there is none.
        """
        return BlobReader(self, validate_key(key), self._size(key))

    def download(self, key: str, path: Path) -> None:
        """Copy the blob under `key` to the local file `path` atomically; BlobNotFound leaves `path` untouched."""
        chunks = self._iter_bytes(validate_key(key), CHUNK_SIZE)
        try:
            atomic_write(Path(path), lambda out: _write_chunks(out, chunks))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def exists(self, key: str) -> bool:
        """Whether there is a blob under `key`."""
        return self._exists(validate_key(key))

    def size(self, key: str) -> int:
        """The size in bytes of the blob under `key`; BlobNotFound when there is none."""
        return self._size(validate_key(key))

    def delete(self, key: str) -> None:
        """Remove the blob under `key`; a missing blob is fine."""
        self._delete(validate_key(key))

    def keys(self, prefix: str = "") -> list[str]:
        """Every key starting with `prefix` (plain string match, like S3), sorted."""
        return sorted(self._keys(validate_prefix(prefix)))

    def check(self) -> None:
        """Write, read back and delete a probe object; BlobStoreError says what is wrong and how to fix it."""
        self._prepare()
        name = f"{_PROBE}{uuid.uuid4().hex}"
        payload = f"oss-connect probe {name}".encode()
        self._put_bytes(name, payload)
        try:
            read = self._get_bytes(name)
            if read != payload:
                raise BlobStoreError(f"{self.describe()} returned other bytes than were written to it; "
                                     "check the storage service and its proxy")
        finally:
            self._delete(name)

    @abstractmethod
    def describe(self) -> str:
        """Where the blobs are, for messages: 'the folder /x/blobs' or 's3://bucket/prefix at http://...'."""

    @abstractmethod
    def _prepare(self) -> None:
        """Make sure the store can be used at all (folder exists, bucket reachable) before the probe."""

    @abstractmethod
    def _put_bytes(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def _put_file(self, name: str, source: BinaryIO) -> None: ...

    @abstractmethod
    def _get_bytes(self, name: str) -> bytes: ...

    @abstractmethod
    def _iter_bytes(self, name: str, chunk_size: int) -> Iterator[bytes]: ...

    @abstractmethod
    def _exists(self, name: str) -> bool: ...

    @abstractmethod
    def _size(self, name: str) -> int: ...

    @abstractmethod
    def _delete(self, name: str) -> None: ...

    @abstractmethod
    def _keys(self, prefix: str) -> Iterable[str]: ...

    def _iter_range(self, name: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        """Backends override this to read only the range; the fallback skips the bytes before `start`."""
        def chunks() -> Iterator[bytes]:
            position = 0
            for chunk in self._iter_bytes(name, chunk_size):
                low, high = max(start - position, 0), len(chunk) if end is None else min(end - position, len(chunk))
                if high > low:
                    yield chunk[low:high]
                position += len(chunk)
                if end is not None and position >= end:
                    return

        return chunks()

    def _not_found(self, name: str) -> BlobNotFound:
        return BlobNotFound(f"there is no blob '{name}' in {self.describe()}: it was never stored or was deleted")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _write_chunks(out: BinaryIO, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)


def _fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def atomic_write(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `target` through a temporary file beside it: fsync, rename over, fsync the folder.

    On any exception the temporary file is removed and `target` keeps its old content.
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(target.parent)


class LocalBlobStore(BlobStore):
    """Blobs as files under a folder: key 'a/b/c' is the file ROOT/a/b/c."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        """'the folder /abs/path'."""
        return f"the folder {self.root}"

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*name.split("/"))

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn an OSError into a BlobStoreError that says how to fix it."""
        try:
            yield
        except BlobStoreError:
            raise
        except OSError as error:
            raise self._translate(error, doing) from error

    def _translate(self, error: OSError, doing: str) -> BlobStoreError:
        where = self.describe()
        place = error.filename or self.root
        if error.errno == errno.EROFS:
            return BlobStoreError(f"cannot {doing} in {where}: {place} is on a read-only file system; "
                                  "mount it writable, or set storage.folder to a writable folder")
        if isinstance(error, PermissionError):
            return BlobStoreError(
                f"cannot {doing} in {where}: permission denied on {place}; give the user that runs oss-connect "
                f"(uid {os.geteuid()}) write access to {self.root}, or set storage.folder to a writable folder")
        if error.errno == errno.ENOSPC:
            return BlobStoreError(f"cannot {doing} in {where}: the disk is full; free space there, "
                                  "or set storage.folder to a folder on a larger disk")
        if isinstance(error, (NotADirectoryError, FileExistsError)):
            return BlobStoreError(f"cannot {doing} in {where}: {place} is a file where a folder is needed; "
                                  "move that file away, or set storage.folder to another folder")
        return BlobStoreError(f"cannot {doing} in {where}: {error.strerror or error}; "
                              "check the folder and its disk, or set storage.folder to another folder")

    def _make_folders(self, folder: Path) -> None:
        """Create `folder` and its missing parents, making each new entry durable."""
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                if not path.is_dir():
                    raise
            _fsync_folder(path.parent)

    def _write(self, name: str, write: Callable[[BinaryIO], None]) -> None:
        target = self._path(name)
        with self._errors(f"store '{name}'"):
            for attempt in range(3):
                self._make_folders(target.parent)
                try:
                    atomic_write(target, write)
                    return
                except FileNotFoundError:
                    if attempt == 2 or target.parent.is_dir():  # not a folder removed by a concurrent delete
                        raise

    def _put_bytes(self, name: str, data: bytes) -> None:
        self._write(name, lambda out: out.write(data))

    def _put_file(self, name: str, source: BinaryIO) -> None:
        def copy(out: BinaryIO) -> None:
            source.seek(0)
            shutil.copyfileobj(source, out, CHUNK_SIZE)

        self._write(name, copy)

    def _open(self, name: str) -> BinaryIO:
        path = self._path(name)
        try:
            return path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise self._not_found(name) from None
        except OSError as error:
            raise self._translate(error, f"read '{name}'") from error

    def _get_bytes(self, name: str) -> bytes:
        with self._open(name) as source, self._errors(f"read '{name}'"):
            return source.read()

    def _iter_bytes(self, name: str, chunk_size: int) -> Iterator[bytes]:
        source = self._open(name)

        def chunks() -> Iterator[bytes]:
            with source, self._errors(f"read '{name}'"):
                while chunk := source.read(chunk_size):
                    yield chunk

        return chunks()

    def _iter_range(self, name: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        source = self._open(name)

        def chunks() -> Iterator[bytes]:
            with source, self._errors(f"read '{name}'"):
                source.seek(start)
                left = None if end is None else end - start
                while left is None or left > 0:
                    chunk = source.read(chunk_size if left is None else min(chunk_size, left))
                    if not chunk:
                        return
                    if left is not None:
                        left -= len(chunk)
                    yield chunk

        return chunks()

    def _exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def _size(self, name: str) -> int:
        path = self._path(name)
        if not path.is_file():
            raise self._not_found(name)
        with self._errors(f"read the size of '{name}'"):
            return path.stat().st_size

    def _delete(self, name: str) -> None:
        path = self._path(name)
        with self._errors(f"delete '{name}'"):
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                return
            _fsync_folder(path.parent)
            folder = path.parent
            while folder != self.root and self.root in folder.parents:
                try:
                    folder.rmdir()
                except OSError:
                    break
                folder = folder.parent

    def _keys(self, prefix: str) -> Iterable[str]:
        base = prefix.rpartition("/")[0]
        start = self._path(base) if base else self.root
        if not start.is_dir():
            return []
        found: list[str] = []

        def fail(error: OSError) -> None:
            raise error

        with self._errors("list the blobs"):
            for folder, folders, files in os.walk(start, onerror=fail):
                folders[:] = [name for name in folders if _SEGMENT.fullmatch(name)]
                relative = Path(folder).relative_to(self.root).as_posix()
                for name in files:
                    key = name if relative == "." else f"{relative}/{name}"
                    if key.startswith(prefix) and _is_key(key):
                        found.append(key)
        return found

    def _prepare(self) -> None:
        with self._errors("write"):
            self._make_folders(self.root)


_UNREACHABLE = (boto_errors.EndpointConnectionError, boto_errors.ConnectTimeoutError,
                boto_errors.ProxyConnectionError, boto_errors.SSLError, boto_errors.ConnectionClosedError)
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                    "InvalidClientTokenId", "TokenRefreshRequired", "UnrecognizedClientException"}


class S3BlobStore(BlobStore):
    """Blobs as objects in an S3-compatible bucket: key 'a/b' is the object PREFIX + 'a/b'."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        if not _S3_PREFIX.fullmatch(prefix):
            raise BlobStoreError(f"the S3 prefix {prefix!r} must be lowercase folders ending with '/', "
                                 "e.g. oss-connect/, or empty; fix storage.s3.prefix")
        self.bucket = bucket
        self.prefix = prefix
        self.client = client

    @classmethod
    def from_settings(cls, settings: S3StorageSettings, *, connect_timeout: float = 5.0,
                      read_timeout: float = 60.0, max_attempts: int = 3) -> S3BlobStore:
        """A store with its own boto3 client for `storage.s3` (path-style addressing for custom endpoints)."""
        import boto3
        from botocore.config import Config

        key_id = settings.access_key_id.get_secret_value() if settings.access_key_id else None
        secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
        if bool(key_id) != bool(secret):
            raise BlobStoreError("storage.s3 has only one of access_key_id and secret_access_key; set both "
                                 "(e.g. ${S3_ACCESS_KEY_ID} and ${S3_SECRET_ACCESS_KEY}) or neither")
        options: dict[str, Any] = {
            "connect_timeout": connect_timeout, "read_timeout": read_timeout,
            "retries": {"max_attempts": max_attempts, "mode": "standard"},
            "signature_version": "s3v4", "user_agent_extra": "oss-connect",
        }
        if settings.endpoint_url:
            # MinIO, Garage, Ceph...: path-style bucket addresses, and no checksums they may not know.
            options["s3"] = {"addressing_style": "path"}
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        session = boto3.session.Session()
        client = session.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
                                aws_access_key_id=key_id or None, aws_secret_access_key=secret or None,
                                config=Config(**options))
        return cls(settings.bucket, settings.prefix, client)

    def describe(self) -> str:
        """'s3://bucket/prefix at https://endpoint'."""
        return f"s3://{self.bucket}/{self.prefix} at {self.client.meta.endpoint_url}"

    def _object(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @contextlib.contextmanager
    def _errors(self, doing: str, name: str | None = None) -> Iterator[None]:
        """Turn botocore's exceptions into BlobStoreError (BlobNotFound for a missing `name`)."""
        try:
            yield
        except BlobStoreError:
            raise
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as error:
            raise self._translate(error, doing, name) from error

    def _translate(self, error: Exception, doing: str, name: str | None) -> BlobStoreError:
        where = self.describe()
        endpoint = self.client.meta.endpoint_url
        if isinstance(error, _UNREACHABLE):
            return BlobStoreError(f"cannot {doing}: the S3 endpoint {endpoint} cannot be reached ({error}); "
                                  "check storage.s3.endpoint_url and that the service is running and reachable")
        if isinstance(error, boto_errors.ReadTimeoutError):
            return BlobStoreError(f"cannot {doing}: the S3 endpoint {endpoint} did not answer in time; "
                                  "check the service's health and the network")
        if isinstance(error, (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError)):
            return BlobStoreError(f"cannot {doing} in {where}: there are no S3 credentials; set "
                                  "storage.s3.access_key_id: ${S3_ACCESS_KEY_ID} and secret_access_key: "
                                  "${S3_SECRET_ACCESS_KEY} and those variables")
        if not isinstance(error, boto_errors.ClientError):
            return BlobStoreError(f"cannot {doing} in {where}: {error}")
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = details.get("Message") or ""
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or (code in ("404", "NotFound") and name is None):
            return BlobStoreError(f"the bucket '{self.bucket}' does not exist at {endpoint}: "
                                  "create it, or fix storage.s3.bucket")
        if code in ("NoSuchKey", "404", "NotFound") and name is not None:
            return self._not_found(name)
        if code in _BAD_CREDENTIALS:
            return BlobStoreError(f"cannot {doing} in {where}: the service rejected the credentials ({code}); "
                                  "check storage.s3.access_key_id and secret_access_key (and the variables "
                                  "they name)")
        if code in ("AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException") \
                or status == 301:
            return BlobStoreError(f"cannot {doing} in {where}: the bucket is in another region or at another "
                                  f"address ({code or status}); set storage.s3.region to the bucket's region "
                                  "and check storage.s3.endpoint_url")
        if code in ("AccessDenied", "403", "Forbidden") or status == 403:
            return BlobStoreError(f"cannot {doing} in {where}: access denied; check the credentials and grant "
                                  f"them {_S3_PERMISSIONS} on the bucket")
        return BlobStoreError(f"cannot {doing} in {where}: {code or status} {message}".rstrip()
                              + "; check the storage service's logs")

    def _put_bytes(self, name: str, data: bytes) -> None:
        with self._errors(f"store '{name}'"):
            self.client.put_object(Bucket=self.bucket, Key=self._object(name), Body=data)

    def _put_file(self, name: str, source: BinaryIO) -> None:
        from boto3.s3.transfer import TransferConfig

        # One PUT up to 64 MiB; larger files go in parts, which S3 assembles atomically on completion.
        config = TransferConfig(multipart_threshold=64 * CHUNK_SIZE, multipart_chunksize=64 * CHUNK_SIZE,
                                max_concurrency=4)
        with self._errors(f"store '{name}'"):
            self.client.upload_fileobj(source, self.bucket, self._object(name), Config=config)

    def _get_bytes(self, name: str) -> bytes:
        with self._errors(f"read '{name}'", name):
            response = self.client.get_object(Bucket=self.bucket, Key=self._object(name))
            with contextlib.closing(response["Body"]) as body:
                return body.read()

    def _iter_bytes(self, name: str, chunk_size: int) -> Iterator[bytes]:
        with self._errors(f"read '{name}'", name):
            body = self.client.get_object(Bucket=self.bucket, Key=self._object(name))["Body"]

        def chunks() -> Iterator[bytes]:
            with contextlib.closing(body), self._errors(f"read '{name}'", name):
                yield from body.iter_chunks(chunk_size)

        return chunks()

    def _iter_range(self, name: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        wanted = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        try:
            with self._errors(f"read '{name}'", name):
                body = self.client.get_object(Bucket=self.bucket, Key=self._object(name), Range=wanted)["Body"]
        except BlobStoreError as error:
            if isinstance(error.__cause__, boto_errors.ClientError) and \
                    error.__cause__.response.get("Error", {}).get("Code") == "InvalidRange":
                return iter(())  # the range starts at or past the end: nothing to read
            raise

        def chunks() -> Iterator[bytes]:
            with contextlib.closing(body), self._errors(f"read '{name}'", name):
                yield from body.iter_chunks(chunk_size)

        return chunks()

    def _head(self, name: str) -> dict[str, Any]:
        with self._errors(f"look up '{name}'", name):
            return self.client.head_object(Bucket=self.bucket, Key=self._object(name))

    def _exists(self, name: str) -> bool:
        try:
            self._head(name)
        except BlobNotFound:
            return False
        return True

    def _size(self, name: str) -> int:
        return int(self._head(name)["ContentLength"])

    def _delete(self, name: str) -> None:
        try:
            with self._errors(f"delete '{name}'", name):
                self.client.delete_object(Bucket=self.bucket, Key=self._object(name))
        except BlobNotFound:
            return

    def _keys(self, prefix: str) -> Iterable[str]:
        found: list[str] = []
        with self._errors("list the blobs"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._object(prefix))
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix):]
                    if _is_key(key):
                        found.append(key)
        return found

    def _prepare(self) -> None:
        # A listing (not head_bucket) because its error bodies tell a missing bucket, bad keys and denial apart.
        with self._errors("reach the bucket"):
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)


class BlobReader(io.RawIOBase):
    """A seekable, read-only view of one blob: each read continues one ranged stream from the position,
    and a seek elsewhere drops it, so only the bytes asked for are fetched and memory stays small."""

    def __init__(self, store: BlobStore, name: str, size: int) -> None:
        super().__init__()
        self.store = store
        self.name = name
        self.size = size
        self._position = 0
        self._chunks: Iterator[bytes] | None = None
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Always seekable."""
        return True

    def tell(self) -> int:
        """The current position in the blob."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to a new position (SEEK_SET, SEEK_CUR or SEEK_END); the next read starts there."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError(f"cannot seek to {position}, before the start of the blob")
        if position != self._position:
            self._drop()
            self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from the current position; 0 at the end of the blob."""
        if self.closed:
            raise ValueError("the blob reader is closed")
        if self._position >= self.size or len(buffer) == 0:
            return 0
        if not self._pending:
            if self._chunks is None:
                self._chunks = self.store._iter_range(self.name, self._position, None, READ_AHEAD)
            self._pending = memoryview(next(self._chunks, b""))
            if not self._pending:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._position += count
        return count

    def _drop(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._chunks = None
        self._pending = memoryview(b"")

    def close(self) -> None:
        """Release the open stream, if any."""
        self._drop()
        super().close()


def blob_store_from_settings(storage: StorageSettings, instance_file: Callable[[str], Path]) -> BlobStore:
    """The store `storage:` asks for; `instance_file` resolves storage.folder inside the instance folder."""
    if storage.backend == "s3":
        if storage.s3 is None:
            raise BlobStoreError("storage.backend is s3 but there is no storage.s3 section; add "
                                 "s3: {bucket: my-bucket, endpoint_url: https://s3.example.org}")
        return S3BlobStore.from_settings(storage.s3)
    return LocalBlobStore(Path(instance_file(storage.folder)).resolve())


def sha256_of_blob(store: BlobStore, key: str) -> str:
    """The SHA-256 hex digest of a blob, read in pieces (never the whole blob in memory)."""
    digest = hashlib.sha256()
    for chunk in store.iter_bytes(key, CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()

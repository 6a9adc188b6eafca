"""The blob store's contract, run against a local folder and a real S3-compatible server (moto)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from core.blobs import (
    BlobKeyError,
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    LocalBlobStore,
    S3BlobStore,
    blob_store_from_settings,
    sha256_of_blob,
    validate_key,
)
from core.config.schema import S3StorageSettings, StorageSettings
from tests.conftest import free_port, s3_bucket

BUCKET = "oss-connect-test"
BAD_KEYS = ["../x", "/abs", "a//b", "A", "a\\b", "a\x00b", ".hidden", "café", "a" * 513, "", "a/", "a/../b",
            "a/./b", "a\n", "x y", "recordings/Upper"]


@pytest.fixture(scope="module")
def s3_endpoint(s3_server: str) -> str:
    """The real S3-compatible server (moto), holding the bucket BUCKET."""
    return s3_bucket(s3_server, BUCKET)


def _s3_settings(endpoint: str, **changes: object) -> S3StorageSettings:
    values: dict[str, object] = {"bucket": BUCKET, "endpoint_url": endpoint, "access_key_id": "test",
                                 "secret_access_key": "test", "prefix": f"t{uuid.uuid4().hex[:12]}/"}
    return S3StorageSettings.model_validate({**values, **changes})


@pytest.fixture(scope="module")
def s3_client(s3_endpoint: str) -> object:
    """One boto3 client for the contract tests (clients are slow to make, and thread-safe)."""
    return S3BlobStore.from_settings(_s3_settings(s3_endpoint)).client


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """An empty store of each backend (S3: a fresh prefix in the shared bucket)."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return S3BlobStore(BUCKET, f"t{uuid.uuid4().hex[:12]}/", request.getfixturevalue("s3_client"))


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*") if path.name.startswith("."))


# ---- keys ----

def test_validate_key_accepts_core_keys():
    for key in ["recordings/12/tracks/34/chunks/000005", "recordings/1/master.wav", "a", "a_b-c.d/e9",
                "x" * 200, "/".join(["abc"] * 128)]:
        assert validate_key(key) == key


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_validate_key_rejects(key):
    with pytest.raises(BlobKeyError):
        validate_key(key)
    assert issubclass(BlobKeyError, ValueError)


def test_validate_key_rejects_non_strings():
    with pytest.raises(BlobKeyError):
        validate_key(b"abc")  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["local", "s3"])
def untouchable(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[BlobStore, Path]:
    """A store any storage access of which would fail loudly: a folder never created, or a closed port."""
    root = tmp_path_factory.mktemp("untouchable") / "never-created"
    if request.param == "local":
        return LocalBlobStore(root), root
    closed = f"http://127.0.0.1:{free_port()}"
    return S3BlobStore.from_settings(_s3_settings(closed), connect_timeout=0.5, max_attempts=1), root


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_keys_are_rejected_before_storage_is_touched(untouchable, key, tmp_path):
    store, root = untouchable
    source = tmp_path / "source"
    source.write_bytes(b"data")
    calls = [lambda: store.put_bytes(key, b"x"), lambda: store.put_file(key, source),
             lambda: store.get_bytes(key), lambda: store.download(key, tmp_path / "out"),
             lambda: store.exists(key), lambda: store.size(key), lambda: store.delete(key),
             lambda: store.iter_bytes(key), lambda: sha256_of_blob(store, key)]
    for call in calls:
        with pytest.raises(BlobKeyError):
            call()
    assert not root.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("prefix", ["../", "/", "A/", "a//", ".x"])
def test_bad_prefixes_are_rejected(untouchable, prefix):
    store, root = untouchable
    with pytest.raises(BlobKeyError):
        store.keys(prefix)
    assert not root.exists()


# ---- the contract, on both backends ----

def test_round_trip_bytes(store):
    key = "recordings/12/tracks/34/chunks/000005"
    assert not store.exists(key)
    store.put_bytes(key, b"\x00opus\xff" * 1000)
    assert store.exists(key)
    assert store.get_bytes(key) == b"\x00opus\xff" * 1000
    assert store.size(key) == 6000
    store.put_bytes("empty", b"")
    assert store.get_bytes("empty") == b""
    assert store.size("empty") == 0


def test_round_trip_files(store, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "in.wav"
    source.write_bytes(data)
    store.put_file("recordings/1/master.wav", source)
    target = tmp_path / "out" / "copy.wav"
    target.parent.mkdir()
    target.write_bytes(b"old content")
    store.download("recordings/1/master.wav", target)
    assert target.read_bytes() == data
    assert store.size("recordings/1/master.wav") == len(data)
    assert sha256_of_blob(store, "recordings/1/master.wav") == hashlib.sha256(data).hexdigest()
    assert len(list(store.iter_bytes("recordings/1/master.wav", chunk_size=1024 * 1024))) >= 4
    assert _leftovers(target.parent) == []


def test_overwrite_replaces(store, tmp_path):
    store.put_bytes("a/b", b"first")
    store.put_bytes("a/b", b"second, longer")
    assert store.get_bytes("a/b") == b"second, longer"
    source = tmp_path / "short"
    source.write_bytes(b"3")
    store.put_file("a/b", source)
    assert store.get_bytes("a/b") == b"3"
    assert store.keys("a/") == ["a/b"]


def test_failed_put_file_keeps_the_old_blob(store, tmp_path):
    store.put_bytes("a/b", b"old")
    with pytest.raises(FileNotFoundError):
        store.put_file("a/b", tmp_path / "missing")
    assert store.get_bytes("a/b") == b"old"
    assert store.keys() == ["a/b"]


def test_missing_keys_raise_blob_not_found(store, tmp_path):
    store.put_bytes("recordings/1/other", b"x")
    target = tmp_path / "target"
    target.write_bytes(b"keep me")
    for call in [lambda: store.get_bytes("recordings/1/missing"), lambda: store.size("recordings/1/missing"),
                 lambda: store.download("recordings/1/missing", target),
                 lambda: store.iter_bytes("recordings/1/missing"), lambda: store.get_bytes("recordings/1"),
                 lambda: store.size("recordings"), lambda: sha256_of_blob(store, "nothing")]:
        with pytest.raises(BlobNotFound, match="there is no blob") as raised:
            call()
        assert isinstance(raised.value, BlobStoreError)
    assert target.read_bytes() == b"keep me"
    assert _leftovers(tmp_path) == []
    assert not store.exists("recordings/1") and not store.exists("recordings/1/missing")


def test_keys_lists_by_prefix(store):
    assert store.keys() == []
    wanted = ["recordings/1/master.wav", "recordings/1/tracks/2/chunks/000001", "recordings/1/tracks/2/chunks/000002",
              "recordings/12/master.wav", "recordings/2/access.opus", "zzz"]
    for key in reversed(wanted):
        store.put_bytes(key, key.encode())
    assert store.keys() == wanted
    assert store.keys("") == wanted
    assert store.keys("recordings/1/") == wanted[:3]
    assert store.keys("recordings/1") == wanted[:4]
    assert store.keys("recordings/1/tracks/2/chunks/") == wanted[1:3]
    assert store.keys("recordings/3/") == []
    assert store.keys("nothing/here/") == []


def test_delete_is_idempotent(store):
    store.put_bytes("recordings/5/tracks/1/chunks/000001", b"x")
    store.put_bytes("recordings/5/master.wav", b"y")
    store.delete("recordings/5/tracks/1/chunks/000001")
    store.delete("recordings/5/tracks/1/chunks/000001")
    store.delete("never/stored")
    assert not store.exists("recordings/5/tracks/1/chunks/000001")
    assert store.keys() == ["recordings/5/master.wav"]
    store.put_bytes("recordings/5/tracks/1/chunks/000001", b"again")
    assert store.get_bytes("recordings/5/tracks/1/chunks/000001") == b"again"


def test_check_passes_and_leaves_nothing(store):
    store.check()
    store.check()
    assert store.keys() == []


def test_describe(store, s3_endpoint, tmp_path):
    if isinstance(store, LocalBlobStore):
        assert store.describe() == f"the folder {tmp_path / 'blobs'}"
    else:
        assert store.describe() == f"s3://{BUCKET}/{store.prefix} at {s3_endpoint}"


# ---- local atomicity ----

def test_local_readers_never_see_a_partial_blob(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    size = 2 * 1024 * 1024
    versions = [bytes([n]) * size for n in range(4)]
    sources = []
    for n, data in enumerate(versions):
        sources.append(tmp_path / f"v{n}")
        sources[-1].write_bytes(data)
    store.put_bytes("recordings/1/master.wav", versions[0])
    seen: list[int] = []
    problems: list[str] = []
    first_read = threading.Event()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                data = store.get_bytes("recordings/1/master.wav")
            except BlobStoreError as error:
                problems.append(repr(error))
            else:
                if data not in versions:
                    problems.append(f"a partial blob of {len(data)} bytes")
                seen.append(data[0] if data else -1)
            first_read.set()

    reader = threading.Thread(target=read)
    reader.start()
    first_read.wait(10)
    try:
        for n in range(40):
            if n % 2:
                store.put_file("recordings/1/master.wav", sources[n % 4])
            else:
                store.put_bytes("recordings/1/master.wav", versions[n % 4])
    finally:
        stop.set()
        reader.join()
    assert problems == []
    assert seen
    assert store.get_bytes("recordings/1/master.wav") == versions[39 % 4]
    assert _leftovers(tmp_path / "blobs") == []
    assert sorted(p.name for p in (tmp_path / "blobs" / "recordings" / "1").iterdir()) == ["master.wav"]


def test_local_crash_in_the_middle_of_put_file_keeps_the_old_blob(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes("recordings/1/master.wav", b"old master")
    source = tmp_path / "new.wav"
    source.write_bytes(b"N" * 3 * 1024 * 1024)
    real_copy = shutil.copyfileobj

    def copy_half_then_crash(source_file, target_file, length=0):
        target_file.write(source_file.read(1024 * 1024))
        target_file.flush()
        raise RuntimeError("the process was interrupted")

    monkeypatch.setattr(shutil, "copyfileobj", copy_half_then_crash)
    with pytest.raises(RuntimeError, match="interrupted"):
        store.put_file("recordings/1/master.wav", source)
    monkeypatch.setattr(shutil, "copyfileobj", real_copy)
    assert store.get_bytes("recordings/1/master.wav") == b"old master"
    assert _leftovers(tmp_path / "blobs") == []
    assert store.keys() == ["recordings/1/master.wav"]


def test_local_full_disk_keeps_the_old_blob_and_says_so(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes("recordings/1/master.wav", b"old master")
    source = tmp_path / "new.wav"
    source.write_bytes(b"N" * 1024 * 1024)

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(BlobStoreError, match=r"the disk is full.*storage\.folder"):
        store.put_file("recordings/1/master.wav", source)
    monkeypatch.undo()
    assert store.get_bytes("recordings/1/master.wav") == b"old master"
    assert _leftovers(tmp_path / "blobs") == []


def test_local_files_live_under_the_root(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes("recordings/7/tracks/3/original.webm", b"webm")
    assert (tmp_path / "blobs" / "recordings" / "7" / "tracks" / "3" / "original.webm").read_bytes() == b"webm"
    store.delete("recordings/7/tracks/3/original.webm")
    assert list((tmp_path / "blobs").iterdir()) == []  # emptied folders are removed, the root stays


# ---- check() errors ----

def test_check_reports_a_missing_bucket(s3_endpoint):
    store = S3BlobStore.from_settings(_s3_settings(s3_endpoint, bucket="no-such-bucket"))
    with pytest.raises(BlobStoreError, match=rf"the bucket 'no-such-bucket' does not exist at {s3_endpoint}: "
                                             r"create it, or fix storage\.s3\.bucket"):
        store.check()
    with pytest.raises(BlobStoreError, match="does not exist") as raised:
        store.put_bytes("a", b"x")
    assert not isinstance(raised.value, BlobNotFound)


def test_check_reports_an_unreachable_endpoint():
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = S3BlobStore.from_settings(_s3_settings(endpoint), connect_timeout=0.5, max_attempts=1)
    with pytest.raises(BlobStoreError, match=rf"the S3 endpoint {endpoint} cannot be reached.*"
                                             r"storage\.s3\.endpoint_url"):
        store.check()
    with pytest.raises(BlobStoreError, match="cannot be reached"):
        store.get_bytes("a")


@pytest.fixture
def moto_checks_credentials(s3_endpoint: str) -> Iterator[None]:
    """Make the moto server authenticate every request (only its built-in test keys pass) during one test."""
    import urllib.request

    def set_count(value: str) -> None:
        request = urllib.request.Request(f"{s3_endpoint}/moto-api/reset-auth", data=value.encode(), method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    set_count("0")
    try:
        yield
    finally:
        set_count("inf")


def test_check_reports_wrong_credentials(s3_endpoint, moto_checks_credentials):
    store = S3BlobStore.from_settings(_s3_settings(s3_endpoint, access_key_id="AKIAWRONGWRONGWRONG1",
                                                   secret_access_key="wrong-secret"))
    with pytest.raises(BlobStoreError, match=r"rejected the credentials \(InvalidAccessKeyId\).*"
                                             r"storage\.s3\.access_key_id and secret_access_key"):
        store.check()


def test_half_credentials_are_refused():
    settings = S3StorageSettings.model_validate({"bucket": BUCKET, "access_key_id": "only-the-id"})
    with pytest.raises(BlobStoreError, match="set both"):
        S3BlobStore.from_settings(settings)


def test_bad_s3_prefix_is_refused():
    with pytest.raises(BlobStoreError, match=r"storage\.s3\.prefix"):
        S3BlobStore(BUCKET, "../", client=None)


def test_check_reports_an_unwritable_folder(tmp_path):
    """A folder nobody may write to: mode 0555, or for root (who writes through any mode) the
    immutable attribute (`chattr +i`, ext4)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(locked)], check=True)
    else:
        locked.chmod(0o555)
    try:
        with pytest.raises(BlobStoreError, match=r"permission denied.*write access.*storage\.folder"):
            LocalBlobStore(locked / "blobs").check()
        with pytest.raises(BlobStoreError, match="permission denied"):
            LocalBlobStore(locked).check()
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        locked.chmod(0o700)


def test_check_reports_a_file_in_the_way(tmp_path):
    (tmp_path / "blobs").write_text("not a folder")
    with pytest.raises(BlobStoreError, match=r"is a file where a folder is needed.*storage\.folder"):
        LocalBlobStore(tmp_path / "blobs" / "inner").check()
    with pytest.raises(BlobStoreError, match="is a file where a folder is needed"):
        LocalBlobStore(tmp_path / "blobs").put_bytes("a", b"x")


# ---- from settings ----

def test_local_store_from_settings(tmp_path):
    store = blob_store_from_settings(StorageSettings(), lambda relative: tmp_path / relative)
    assert isinstance(store, LocalBlobStore)
    assert store.describe() == f"the folder {tmp_path / 'blobs'}"
    store.check()
    store.put_bytes("recordings/1/master.flac", b"flac")
    assert (tmp_path / "blobs" / "recordings" / "1" / "master.flac").read_bytes() == b"flac"
    absolute = tmp_path / "elsewhere"
    other = blob_store_from_settings(StorageSettings(folder=str(absolute)),
                                     lambda relative: Path(relative) if Path(relative).is_absolute()
                                     else tmp_path / relative)
    assert other.describe() == f"the folder {absolute}"


def test_s3_store_from_settings(s3_endpoint):
    storage = StorageSettings.model_validate({"backend": "s3", "s3": {
        "bucket": BUCKET, "endpoint_url": s3_endpoint, "prefix": "instance-a/",
        "access_key_id": "test", "secret_access_key": "test"}})
    store = blob_store_from_settings(storage, lambda relative: Path("/nowhere") / relative)
    assert isinstance(store, S3BlobStore)
    assert store.describe() == f"s3://{BUCKET}/instance-a/ at {s3_endpoint}"
    store.check()
    store.put_bytes("recordings/1/access.opus", b"opus")
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    body = raw.get_object(Bucket=BUCKET, Key="instance-a/recordings/1/access.opus")["Body"].read()
    assert body == b"opus"
    store.delete("recordings/1/access.opus")
    assert raw.list_objects_v2(Bucket=BUCKET, Prefix="instance-a/").get("KeyCount") == 0


# Ranged reads: what the listening pages stream (HTTP range requests over the access copy).

RANGE_DATA = bytes(range(256)) * 1200 + b"tail"   # 307,204 bytes: several of a reader's 64 KiB pieces


def test_iter_range_reads_exactly_the_part_asked_for(store):
    store.put_bytes("recordings/1/access.opus", RANGE_DATA)
    cases = [(0, 100), (100, None), (len(RANGE_DATA) - 50, None), (70_000, 200_001), (5, 6), (0, None),
             (len(RANGE_DATA) - 1, len(RANGE_DATA) + 500)]
    for start, end in cases:
        got = b"".join(store.iter_range("recordings/1/access.opus", start, end, chunk_size=10_000))
        assert got == RANGE_DATA[start:end], (start, end)
    assert b"".join(store.iter_range("recordings/1/access.opus", 7, 7)) == b""
    assert b"".join(store.iter_range("recordings/1/access.opus", len(RANGE_DATA), None)) == b""
    assert b"".join(store.iter_range("recordings/1/access.opus", len(RANGE_DATA) + 10, None)) == b""


def test_iter_range_refuses_bad_ranges_and_missing_blobs(store):
    store.put_bytes("recordings/1/access.opus", b"abc")
    with pytest.raises(ValueError, match="start <= end"):
        store.iter_range("recordings/1/access.opus", 5, 2)
    with pytest.raises(ValueError, match="start <= end"):
        store.iter_range("recordings/1/access.opus", -1, None)
    with pytest.raises(BlobNotFound):
        store.iter_range("recordings/1/missing", 0, 10)
    with pytest.raises(BlobKeyError):
        store.iter_range("../x", 0, 10)


def test_open_gives_a_seekable_reader_that_streams(store):
    import io

    store.put_bytes("recordings/1/access.opus", RANGE_DATA)
    with store.open("recordings/1/access.opus") as reader:
        assert reader.seekable() and reader.readable() and reader.size == len(RANGE_DATA)
        assert reader.read(100) == RANGE_DATA[:100]
        assert reader.tell() == 100
        reader.seek(200_000)
        assert reader.read(10) == RANGE_DATA[200_000:200_010]
        reader.seek(-4, io.SEEK_END)
        assert reader.read() == b"tail"
        assert reader.read(10) == b""
        reader.seek(0)
        pieces = []
        while piece := reader.read(8192):
            assert len(piece) <= 8192
            pieces.append(piece)
        assert b"".join(pieces) == RANGE_DATA
    assert reader.closed
    with pytest.raises(BlobNotFound):
        store.open("recordings/1/missing")

"""The archive_s3 plugin against a real S3-compatible server (moto's, in server mode on loopback)."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

import plugins.archive_s3
from core.api import DepositError
from core.archive_contract import Interrupted, interrupt_after, make_test_package
from core.config import ConfigError, load_config
from plugins.archive_s3 import S3ArchiveSettings, S3Destination
from plugins.archive_s3.destination import MARKER, upload_order
from tests.conftest import s3_bucket
from tests.test_example_config import EXAMPLE, REFERENCE, documented_keys, option_paths

IDENTIFIER = "oss-connect-contract-0001"
SITE_SECRET = "a-test-secret-key-that-is-long-enough-0123456789"


def s3_destination(endpoint: str, bucket: str | None = None, **changes: Any) -> S3Destination:
    """A destination on a fresh bucket of the moto server (created unless `bucket` is given)."""
    if bucket is None:
        bucket = f"archive-{secrets.token_hex(4)}"
        s3_bucket(endpoint, bucket)
    settings = {"bucket": bucket, "endpoint_url": endpoint, "prefix": "bags/", "access_key_id": "test",
                "secret_access_key": "test", **changes}
    return S3Destination(S3ArchiveSettings.model_validate(settings))


def objects(destination: S3Destination) -> dict[str, dict[str, Any]]:
    """Every object in the destination's bucket: key -> its bytes and metadata."""
    client, bucket = destination.client(), destination.settings.bucket
    found = {}
    for key, _size in destination.keys(""):
        answer = client.get_object(Bucket=bucket, Key=key)
        found[key] = {"body": answer["Body"].read(), "metadata": answer["Metadata"]}
    return found


def record_puts(destination: S3Destination) -> list[str]:
    """The keys of every object upload the destination's client makes from now on, in order."""
    keys: list[str] = []
    for operation in ("PutObject", "CreateMultipartUpload"):
        destination.client().meta.events.register(f"provide-client-params.s3.{operation}",
                                                  lambda params, **_: keys.append(params["Key"]))
    return keys


def test_every_file_of_the_bag_is_an_object_with_its_sha256_and_the_marker_comes_last(s3_server, tmp_path):
    destination = s3_destination(s3_server)
    puts = record_puts(destination)
    package = make_test_package(tmp_path / "build")
    receipt = destination.deposit(package)
    stored = objects(destination)
    assert sorted(stored) == sorted(f"bags/{IDENTIFIER}/{name}" for name in package.files)
    for name in package.files:
        item = stored[f"bags/{IDENTIFIER}/{name}"]
        assert item["body"] == (package.path / name).read_bytes()
        assert item["metadata"]["sha256"] == hashlib.sha256(item["body"]).hexdigest()
        assert item["metadata"]["package-checksum"] == package.checksum
    assert puts[-1] == f"bags/{IDENTIFIER}/{MARKER}"
    assert puts[:3] == [f"bags/{IDENTIFIER}/data/{name}" for name in
                        ("audio/access.opus", "consent.json", "metadata/record.json")]
    marker = stored[f"bags/{IDENTIFIER}/{MARKER}"]["metadata"]
    assert marker["deposited-at"] == receipt["deposited_at"]
    assert receipt == {"destination": "s3", "where": f"s3://{destination.settings.bucket}/bags/{IDENTIFIER}/",
                       "endpoint": s3_server, "bucket": destination.settings.bucket,
                       "key_prefix": f"bags/{IDENTIFIER}/", "identifier": IDENTIFIER, "checksum": package.checksum,
                       "files": len(package.files), "bytes": package.size, "deposited_at": receipt["deposited_at"]}
    assert destination.check(receipt).ok


def test_the_upload_order_puts_the_payload_first_and_the_marker_last():
    assert upload_order(["tagmanifest-sha256.txt", "bagit.txt", "data/b", "tagmanifest-sha512.txt",
                         "manifest-sha256.txt", "data/a"]) == [
        "data/a", "data/b", "bagit.txt", "manifest-sha256.txt", "tagmanifest-sha512.txt", "tagmanifest-sha256.txt"]


def test_depositing_again_uploads_nothing(s3_server, tmp_path):
    destination = s3_destination(s3_server)
    receipt = destination.deposit(make_test_package(tmp_path / "one"))
    puts = record_puts(destination)
    assert destination.deposit(make_test_package(tmp_path / "two")) == receipt
    assert puts == []


def test_an_interrupted_deposit_is_completed_without_uploading_twice(s3_server, tmp_path):
    destination = s3_destination(s3_server)
    package = make_test_package(tmp_path / "one")
    interrupt_after(package, 4)
    with pytest.raises(Interrupted):
        destination.deposit(package)
    assert f"bags/{IDENTIFIER}/{MARKER}" not in objects(destination)
    done_before = set(objects(destination))
    assert done_before
    puts = record_puts(destination)
    again = make_test_package(tmp_path / "two")
    receipt = destination.deposit(again)
    assert not set(puts) & done_before - {f"bags/{IDENTIFIER}/{MARKER}"}
    assert sorted(objects(destination)) == sorted(f"bags/{IDENTIFIER}/{name}" for name in again.files)
    assert destination.check(receipt).ok


def test_a_new_version_replaces_the_objects(s3_server, tmp_path):
    destination = s3_destination(s3_server)
    old = destination.deposit(make_test_package(tmp_path / "one", version=1))
    new_package = make_test_package(tmp_path / "two", version=2)
    new = destination.deposit(new_package)
    stored = objects(destination)
    assert b"version 2" in stored[f"bags/{IDENTIFIER}/data/metadata/record.json"]["body"]
    assert {item["metadata"]["package-checksum"] for item in stored.values()} == {new_package.checksum}
    assert destination.check(new).ok and not destination.check(old).ok


def test_check_notices_a_changed_or_missing_object(s3_server, tmp_path):
    destination = s3_destination(s3_server)
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    client, bucket = destination.client(), destination.settings.bucket
    key = f"bags/{IDENTIFIER}/data/consent.json"
    client.put_object(Bucket=bucket, Key=key, Body=b"[]", Metadata={"sha256": hashlib.sha256(b"[]").hexdigest()})
    result = destination.check(receipt)
    assert not result.ok and "data/consent.json does not have the SHA-256 of the bag's manifest" in result.message
    client.delete_object(Bucket=bucket, Key=key)
    assert destination.check(receipt).message.endswith("data/consent.json is missing")


def test_withdraw_deletes_every_object(s3_server, tmp_path):
    destination = s3_destination(s3_server)
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    result = destination.withdraw(receipt)
    assert result.removed and result.message == (f"deleted 9 objects of {IDENTIFIER} from "
                                                 f"s3://{destination.settings.bucket}/bags/.")
    assert objects(destination) == {}
    assert destination.withdraw(receipt).removed
    assert not destination.check(receipt).ok


def test_tell_on_withdraw_asks_the_admin_to_tell_the_institution(s3_server, tmp_path):
    destination = s3_destination(s3_server, tell_on_withdraw=True, institution={"name": "State Archives"})
    receipt = destination.deposit(make_test_package(tmp_path / "build"))
    result = destination.withdraw(receipt)
    assert not result.removed and "tell State Archives that the deposit " + IDENTIFIER in result.message
    assert objects(destination) == {}


def test_a_missing_bucket_is_named_and_not_retried(s3_server, tmp_path):
    destination = s3_destination(s3_server, bucket="no-such-archive-bucket")
    with pytest.raises(DepositError) as caught:
        destination.deposit(make_test_package(tmp_path / "build"))
    assert caught.value.retry is False
    assert str(caught.value) == (f"the bucket 'no-such-archive-bucket' at {s3_server} does not exist: create it (or "
                                 "ask the institution for its name), or fix plugins.archive_s3.bucket")


def test_an_unreachable_endpoint_is_retried(tmp_path):
    from tests.conftest import free_port

    destination = s3_destination(f"http://127.0.0.1:{free_port()}", bucket="archive")
    destination.client().meta.config.retries = {"max_attempts": 1}
    with pytest.raises(DepositError, match=r"the S3 endpoint http://127.0.0.1:\d+ cannot be reached") as caught:
        destination.deposit(make_test_package(tmp_path / "build"))
    assert caught.value.retry is True


def test_refused_credentials_are_not_retried(s3_server, tmp_path):
    """moto checks no signatures; a refusal as S3 answers it (InvalidAccessKeyId) is translated."""
    from botocore.exceptions import ClientError

    destination = s3_destination(s3_server)
    error = ClientError({"Error": {"Code": "InvalidAccessKeyId", "Message": "no such key"},
                         "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadBucket")
    translated = destination._error(error, "deposit x")
    assert translated.retry is False and "refused the credentials (InvalidAccessKeyId)" in str(translated)


# --- settings -----------------------------------------------------------------------------------

def write_config(folder: Path, plugin: dict[str, Any]) -> Path:
    """An instance config enabling archive_s3 with `plugin`."""
    config = folder / "oss-connect.yaml"
    config.write_text(yaml.safe_dump({"site": {"secret_key": SITE_SECRET}, "plugins": {"archive_s3": plugin}}),
                      encoding="utf-8")
    return config


def test_secrets_come_from_the_environment(tmp_path):
    config = write_config(tmp_path, {"bucket": "partner-archive", "endpoint_url": "https://s3.example.org/",
                                     "access_key_id": "${ARCHIVE_S3_ACCESS_KEY_ID}",
                                     "secret_access_key": "${ARCHIVE_S3_SECRET_ACCESS_KEY}"})
    loaded = load_config(config, environ={"ARCHIVE_S3_ACCESS_KEY_ID": "AKIA-TEST",
                                          "ARCHIVE_S3_SECRET_ACCESS_KEY": "secret-test"},
                         extra_plugins={"archive_s3": plugins.archive_s3})
    settings = loaded.plugin_settings("archive_s3")
    assert settings.endpoint_url == "https://s3.example.org"
    assert settings.secret_access_key.get_secret_value() == "secret-test"
    assert "secret-test" not in repr(settings)
    assert (settings.prefix, settings.region, settings.tell_on_withdraw) == ("", "us-east-1", False)


@pytest.mark.parametrize(("plugin", "message"), [
    ({"bucket": "Partner_Archive"}, "plugins.archive_s3.bucket"),
    ({"bucket": "partner-archive", "endpoint_url": "s3.example.org"}, "plugins.archive_s3.endpoint_url"),
    ({"bucket": "partner-archive", "prefix": "bags"}, "plugins.archive_s3.prefix"),
    ({"bucket": "partner-archive", "access_key_id": "AKIA"}, "only one of access_key_id and secret_access_key"),
], ids=["bucket", "endpoint", "prefix", "one-key"])
def test_bad_settings_are_refused(tmp_path, plugin, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, plugin), environ={}, extra_plugins={"archive_s3": plugins.archive_s3})
    assert message in str(caught.value)


@pytest.mark.parametrize(("oss_connect_settings", "oss_connect_plugins"),
                         [({"plugins": {"archive_s3": {"bucket": "partner-archive"}}},
                           {"archive_s3": plugins.archive_s3})], ids=["archive_s3"])
def test_the_enabled_plugin_registers_the_destination(app):
    destination = app.extensions["oss_connect"].provider("archive_destination", "s3")
    with app.app_context():
        assert destination.institution == "the archive's S3 bucket partner-archive"
        assert destination.settings.bucket == "partner-archive"


@pytest.mark.parametrize("option", option_paths(S3ArchiveSettings))
def test_every_option_is_in_the_example_and_the_reference(option):
    """config/oss-connect.example.yaml shows it (commented out); docs/configuration.md describes it."""
    path = f"plugins.archive_s3.{option}"
    assert path in documented_keys(EXAMPLE.read_text(encoding="utf-8")), f"{path} is missing from the example"
    assert f"`{path}`" in REFERENCE.read_text(encoding="utf-8"), f"{path} is missing from docs/configuration.md"
    assert f"`{option.rsplit('.', 1)[-1]}`" in (REFERENCE.parent / "archive-s3.md").read_text(encoding="utf-8")

"""The archive destination contract (core/archive_contract.py) against archive_bagit (a folder and a real SFTP
server) and archive_s3 (moto's S3 server), and against deliberately broken destinations to show it can fail."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.api import ArchiveDestination, ArchivePackage, CheckResult, WithdrawalResult
from core.archive_contract import (
    CONTACT,
    ArchiveDestinationContract,
    check_check_result,
    check_identity,
    check_one_copy,
    check_progress,
    check_receipt,
    check_withdrawal,
    make_test_package,
)
from plugins.archive_bagit import BagitDestination, BagitSettings
from plugins.archive_s3 import S3ArchiveSettings, S3Destination
from tests.conftest import s3_bucket
from tests.test_archive_bagit import SftpServer, files_under

pytest_plugins = ["pytester"]


class TestBagitFolderContract(ArchiveDestinationContract):
    """archive_bagit delivering into a pickup folder."""

    destination_name = "bagit"

    @pytest.fixture
    def destination(self, tmp_path: Path) -> BagitDestination:
        """The default folder in a fresh instance folder."""
        (tmp_path / "instance").mkdir()
        return BagitDestination(BagitSettings(), instance_folder=tmp_path / "instance")

    def listing(self, destination: BagitDestination) -> list[str]:
        return files_under(destination.resolve(destination.settings.folder))

    def damage(self, destination: BagitDestination, receipt: dict[str, Any]) -> None:
        (Path(receipt["where"]) / "data" / "consent.json").write_text("[]\n", encoding="utf-8")


class TestBagitSftpContract(ArchiveDestinationContract):
    """archive_bagit delivering to a real SFTP server on loopback."""

    destination_name = "bagit"
    listing_prefix = "incoming/{identifier}/"

    @pytest.fixture
    def server(self, tmp_path: Path) -> Iterator[SftpServer]:
        """A fresh SFTP server."""
        (tmp_path / "sftp-root").mkdir()
        (tmp_path / "sftp-client").mkdir()
        server = SftpServer(root=tmp_path / "sftp-root", folder=tmp_path / "sftp-client")
        server.start()
        yield server
        server.stop()

    @pytest.fixture
    def destination(self, server: SftpServer, tmp_path: Path) -> BagitDestination:
        """Delivering to the server with a password, its host key known."""
        destination = BagitDestination(BagitSettings.model_validate(server.settings()), instance_folder=tmp_path)
        destination.server = server  # for listing and damage
        return destination

    def listing(self, destination: Any) -> list[str]:
        return files_under(destination.server.root)

    def damage(self, destination: Any, receipt: dict[str, Any]) -> None:
        (destination.server.root / "incoming" / receipt["identifier"] / "data" / "consent.json").unlink()


class TestS3Contract(ArchiveDestinationContract):
    """archive_s3 on moto's S3 server, a fresh bucket per test."""

    destination_name = "s3"
    listing_prefix = "deposits/{identifier}/"

    @pytest.fixture
    def destination(self, s3_server: str) -> S3Destination:
        """A fresh bucket with a prefix."""
        bucket = f"contract-{secrets.token_hex(4)}"
        s3_bucket(s3_server, bucket)
        return S3Destination(S3ArchiveSettings(bucket=bucket, endpoint_url=s3_server, prefix="deposits/",
                                               access_key_id="test", secret_access_key="test"))

    def listing(self, destination: S3Destination) -> list[str]:
        return sorted(key for key, _size in destination.keys(""))

    def damage(self, destination: S3Destination, receipt: dict[str, Any]) -> None:
        destination.client().put_object(Bucket=destination.settings.bucket,
                                        Key=f"{receipt['key_prefix']}data/audio/access.opus", Body=b"spoilt")


# --- the contract can fail -----------------------------------------------------------------------

class Careless(ArchiveDestination):
    """A folder destination with the mistakes the contract is there to catch."""

    name = "careless"
    label = "Careless"

    def __init__(self, root: Path) -> None:
        self.root = root

    def deposit(self, package: ArchivePackage) -> dict[str, Any]:
        target = self.root / f"{package.identifier}-{secrets.token_hex(2)}"  # a new copy every time
        shutil.copytree(package.path, target)
        return {"where": target, "identifier": package.identifier, "contact": CONTACT}  # a Path, an email

    def withdraw(self, receipt: dict[str, Any]) -> Any:
        shutil.rmtree(receipt["where"])  # raises the second time
        return WithdrawalResult(False, "done")  # does not say what to tell the institution

    def check(self, receipt: dict[str, Any]) -> Any:
        return CheckResult(True, "fine")  # never looks


def fails(check: Any, *args: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        check(*args)


def test_the_checks_fail_for_a_careless_destination(tmp_path):
    package = make_test_package(tmp_path / "build")
    careless = Careless(tmp_path / "out")
    fails(check_identity, careless, "mine", match=r"named 'careless', the test expects 'mine'")
    fails(check_identity, type("NoConsent", (Careless,), {"consent": "maybe"})(tmp_path), "careless",
          match=r"consent is 'maybe'")
    fails(check_identity, object(), "careless", match=r"not an ArchiveDestination")
    receipt = careless.deposit(package)
    fails(check_receipt, receipt, package, match=r"the receipt is not JSON-serialisable")
    fails(check_receipt, {**receipt, "where": str(receipt["where"])}, package,
          match=r"contains an email address \('archive.contract@example.org'\)")
    careless.deposit(package)
    fails(check_one_copy, files_under(tmp_path / "out"), package, match=r"exactly one copy of the bag \(9 files\) "
                                                                         r"but holds 18")
    fails(check_check_result, CheckResult(True, "fine"), False, "after damage", match=r"check said ok=True after "
                                                                                      r"damage")
    fails(check_withdrawal, careless.withdraw(receipt), package.identifier,
          match=r"removed=False without naming 'oss-connect-contract-0001'")
    fails(check_progress, [], match=r"never called package.progress")
    fails(check_progress, [(1.5, "done")], match=r"got the fraction 1.5")


CARELESS_PLUGIN_TESTS = '''
import secrets
import shutil

import pytest

from core.api import ArchiveDestination, CheckResult, WithdrawalResult
from core.archive_contract import ArchiveDestinationContract


class Careless(ArchiveDestination):
    name = "careless"
    label = "Careless"

    def __init__(self, root):
        self.root = root

    def deposit(self, package):
        package.progress(1.0, "copied")
        target = self.root / f"{package.identifier}-{secrets.token_hex(2)}"
        shutil.copytree(package.path, target)
        return {"where": str(target), "identifier": package.identifier}

    def withdraw(self, receipt):
        shutil.rmtree(receipt["where"])
        return WithdrawalResult(True, "removed")

    def check(self, receipt):
        return CheckResult(True, "fine")


class TestCareless(ArchiveDestinationContract):
    destination_name = "careless"
    listing_prefix = ""

    @pytest.fixture
    def destination(self, tmp_path):
        (tmp_path / "out").mkdir()
        return Careless(tmp_path / "out")

    def listing(self, destination):
        # every copy's files, named without the copy's folder: two copies show every file twice
        return sorted("/".join(p.relative_to(destination.root).parts[1:])
                      for p in destination.root.rglob("*") if p.is_file())

    def damage(self, destination, receipt):
        pass
'''


def test_a_plugin_authors_subclass_fails_for_a_careless_destination(pytester):
    """The whole class, run as a plugin author runs it, in its own process."""
    pytester.makepyfile(test_careless=CARELESS_PLUGIN_TESTS)
    result = pytester.runpytest("-p", "no:xdist", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=5)
    result.stdout.fnmatch_lines(["*FAILED*test_depositing_the_same_package_twice_leaves_one_copy*",
                                 "*FAILED*test_a_new_version_replaces_the_old_one*",
                                 "*FAILED*test_an_interrupted_deposit_then_another_leaves_one_good_copy*",
                                 "*FAILED*test_check_is_ok_after_deposit_and_not_after_damage*",
                                 "*FAILED*test_withdraw_twice_and_check_after*"])
    output = result.stdout.str()
    assert "depositing the same package again gave another receipt" in output
    assert "check said ok=True after damage() spoilt the deposit" in output


# --- the documented example plugin --------------------------------------------------------------

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "archive-destinations.md"


def documented_block(caption: str, language: str) -> str:
    """The code block that follows the line starting with `caption` in docs/archive-destinations.md."""
    text = GUIDE.read_text(encoding="utf-8")
    after = text.split(f"\n{caption}", 1)[1]
    return after.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_documented_example_plugin_passes_the_contract(pytester):
    """The guide's archive_zip package and its tests, run exactly as printed."""
    pytester.mkpydir("archive_zip").joinpath("__init__.py").write_text(
        documented_block("`archive_zip/__init__.py`", "python"), encoding="utf-8")
    pytester.makepyfile(test_contract=documented_block("`oss-connect plugins` then lists it", "python"))
    assert "archive_zip = archive_zip" in documented_block("`setup.cfg`", "ini")
    result = pytester.runpytest("-p", "no:xdist", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)

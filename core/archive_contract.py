"""The archive destination contract as a pytest class: subclass `ArchiveDestinationContract` to test yours.

    from core.archive_contract import ArchiveDestinationContract

    class TestMyDestination(ArchiveDestinationContract):
        destination_name = "mine"

        @pytest.fixture
        def destination(self, tmp_path):
            return MyDestination(...)        # pointed at a fresh, empty place for each test

        def listing(self, destination):      # every file the destination holds now
            ...

        def damage(self, destination, receipt):   # spoil one deposited file
            ...

The class builds small real BagIt bags (`make_test_package`, the default `make_package` fixture) and
checks what the deposit pipeline relies on: names, JSON receipts without emails, one copy however
often a package is deposited (an interrupted run included), new versions replacing old ones, `check`
noticing damage and removal, and withdrawals that can be repeated. Every check is also a plain
function (`check_*`) raising an AssertionError that says what to fix. See docs/archive-destinations.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import bagit
import pytest

from core.archive.types import ArchivePackage, CheckResult, WithdrawalResult
from core.providers import ArchiveDestination

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CONTACT = "archive.contract@example.org"
"""An address put into every test bag (bag-info.txt and the metadata); no receipt may repeat it."""
CONSENTS = ("deposit", "public")


class Interrupted(BaseException):
    """Raised from a package's progress callback to stop a deposit half-way, as a kill -9 would."""


# --- test packages -------------------------------------------------------------------------------

def package_from_bag(bag_folder: Path, identifier: str, **fields: Any) -> ArchivePackage:
    """An ArchivePackage for a finished bag folder: checksum, size, files and Payload-Oxum read from disk."""
    files = sorted(path.relative_to(bag_folder).as_posix() for path in bag_folder.rglob("*") if path.is_file())
    payload = [path for path in (bag_folder / "data").rglob("*") if path.is_file()]
    return ArchivePackage(
        identifier=identifier, path=bag_folder,
        checksum=hashlib.sha256((bag_folder / "manifest-sha256.txt").read_bytes()).hexdigest(),
        size=sum((bag_folder / name).stat().st_size for name in files),
        payload_oxum=f"{sum(path.stat().st_size for path in payload)}.{len(payload)}",
        files=tuple(files), **fields)


def make_test_package(folder: Path, identifier: str = "oss-connect-contract-0001", version: int = 1,
                      audio_bytes: int = 64 * 1024) -> ArchivePackage:
    """A small real BagIt 1.0 bag (sha256 and sha512 manifests) under `folder`, as an ArchivePackage.

    The payload depends only on (identifier, version), so two calls with the same arguments give two
    bags with the same checksum (a repeat), and another version gives another checksum. The bag holds
    a contact email address in bag-info.txt and the metadata, which no receipt may show.
    """
    bag_folder = folder / f"{identifier}-v{version}"
    (bag_folder / "audio").mkdir(parents=True)
    (bag_folder / "metadata").mkdir()
    seed = hashlib.sha256(f"{identifier}:{version}".encode()).digest()
    audio = (seed * (audio_bytes // len(seed) + 1))[:audio_bytes]
    (bag_folder / "audio" / "access.opus").write_bytes(audio)
    record = {"identifier": identifier, "version": version, "title": f"A contract conversation, version {version}",
              "keywords": ["contract"], "contact": CONTACT}
    (bag_folder / "metadata" / "record.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (bag_folder / "consent.json").write_text('[{"participant": "Participant A", "deposit": true}]\n',
                                             encoding="utf-8")
    bag = bagit.make_bag(str(bag_folder), bag_info={"Source-Organization": "Contract Test Radio",
                                                    "Contact-Email": CONTACT,
                                                    "External-Identifier": identifier},
                         checksums=["sha256", "sha512"])
    text = (bag_folder / "bagit.txt").read_text(encoding="utf-8")
    (bag_folder / "bagit.txt").write_text(text.replace("BagIt-Version: 0.97", "BagIt-Version: 1.0"),
                                          encoding="utf-8")
    bag = bagit.Bag(str(bag_folder))
    bag.save()  # rewrites the tag manifests over the 1.0 bagit.txt
    bagit.Bag(str(bag_folder)).validate()
    return package_from_bag(bag_folder, identifier, metadata=record)


def progress_log(package: ArchivePackage) -> list[tuple[float, str]]:
    """Record every progress call of `package` in the returned list."""
    calls: list[tuple[float, str]] = []
    package.progress = lambda fraction, label: calls.append((fraction, label))
    return calls


def interrupt_after(package: ArchivePackage, calls: int) -> None:
    """Make `package.progress` raise Interrupted at its `calls`-th call below 1.0 (a run killed half-way)."""
    seen = [0]

    def progress(fraction: float, label: str) -> None:
        if fraction < 1.0:
            seen[0] += 1
            if seen[0] >= calls:
                raise Interrupted(f"stopped at {fraction:.2f} ({label})")

    package.progress = progress


# --- the checks, usable on their own -------------------------------------------------------------

def check_identity(destination: Any, expected_name: str) -> None:
    """An ArchiveDestination with the expected name, a label, a known consent and an institution."""
    assert isinstance(destination, ArchiveDestination), (
        f"{destination!r} is a {type(destination).__name__}, not an ArchiveDestination; subclass "
        "core.api.ArchiveDestination")
    assert isinstance(destination.name, str) and destination.name, (
        f"{type(destination).__name__}.name is empty; set `name = \"...\"` (unique among destinations)")
    assert destination.name == expected_name, (
        f"the destination is named {destination.name!r}, the test expects {expected_name!r}; fix `name` or "
        "destination_name")
    assert isinstance(destination.label, str) and destination.label.strip(), (
        f"{type(destination).__name__}.label is empty; set `label` to a human name shown to admins")
    assert destination.consent in CONSENTS, (
        f"consent is {destination.consent!r}; use \"deposit\" (an archive institution) or \"public\" (the site)")
    institution = destination.institution
    assert isinstance(institution, str) and institution.strip(), (
        "institution is empty; return who receives the packages, as admins read it")
    assert not EMAIL.search(institution), (
        f"institution {institution!r} contains an email address; show a name (admins see contacts elsewhere)")


def check_receipt(receipt: Any, package: ArchivePackage) -> dict[str, Any]:
    """A JSON-ready dict without any email address, naming the package; the receipt as read back from JSON."""
    assert isinstance(receipt, dict), f"deposit returned {type(receipt).__name__}; return a dict (the receipt)"
    try:
        text = json.dumps(receipt, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"the receipt is not JSON-serialisable ({error}); core stores it as JSON: keep "
                             "only str, numbers, bools, None, lists and dicts (times as ISO 8601 text)") from None
    found = EMAIL.search(text)
    assert not found, (f"the receipt contains an email address ({found.group(0)!r}); receipts are shown to admins "
                       "and kept for years: no contact addresses, no user@host")
    assert package.identifier in text, (
        f"the receipt does not name the package's identifier {package.identifier!r}; say where it went")
    return json.loads(text)


def check_progress(calls: list[tuple[float, str]]) -> None:
    """Progress was reported with fractions between 0 and 1 and text labels."""
    assert calls, "deposit never called package.progress(fraction, label); report progress for admins"
    for fraction, label in calls:
        assert isinstance(fraction, (int, float)) and 0.0 <= fraction <= 1.0, (
            f"package.progress got the fraction {fraction!r}; pass a number from 0.0 to 1.0")
        assert isinstance(label, str), f"package.progress got the label {label!r}; pass a short text"


def check_one_copy(listing: list[str], package: ArchivePackage, prefix: str = "") -> None:
    """The destination holds exactly the package's files, once (nothing partial or duplicated beside them)."""
    expected = sorted(f"{prefix}{name}" for name in package.files)
    held = sorted(listing)
    assert held == expected, (
        f"the destination should hold exactly one copy of the bag ({len(expected)} files) but holds {len(held)}: "
        f"extra {sorted(set(held) - set(expected))[:5]}, missing {sorted(set(expected) - set(held))[:5]}; "
        "make deposit idempotent (compare the package checksum) and remove partial copies")


def check_check_result(result: Any, ok: bool, when: str) -> None:
    """check() returned a CheckResult with the expected verdict and a message."""
    assert isinstance(result, CheckResult), (
        f"check returned {type(result).__name__}; return core.api.CheckResult(ok, message)")
    assert isinstance(result.message, str) and result.message.strip(), (
        "CheckResult.message is empty; say what was found")
    assert result.ok is ok, (f"check said ok={result.ok} {when} ({result.message!r}); it must be {ok}")


def check_withdrawal(result: Any, identifier: str) -> None:
    """withdraw returned a WithdrawalResult; removed=False names the identifier for the institution."""
    assert isinstance(result, WithdrawalResult), (
        f"withdraw returned {type(result).__name__}; return core.api.WithdrawalResult(removed, message)")
    assert isinstance(result.removed, bool), f"WithdrawalResult.removed is {result.removed!r}; use True or False"
    assert isinstance(result.message, str) and result.message.strip(), "WithdrawalResult.message is empty"
    if not result.removed:
        assert identifier in result.message, (
            f"withdraw returned removed=False without naming {identifier!r}; the admin must tell the institution "
            "which deposit to delete")


# --- the test class ------------------------------------------------------------------------------

class ArchiveDestinationContract:
    """Subclass as `TestSomething(ArchiveDestinationContract)`; provide `destination`, `listing` and `damage`."""

    destination_name: ClassVar[str] = ""
    """The destination's `name`."""
    listing_prefix: ClassVar[str] = "{identifier}/"
    """How `listing` names a package's files: this prefix (with {identifier}) and the file's path in the bag."""

    @pytest.fixture
    def destination(self) -> Any:
        """Your destination, pointed at a fresh, empty place for each test (override)."""
        raise NotImplementedError(f"{type(self).__name__} must provide a `destination` fixture")

    @pytest.fixture
    def make_package(self, tmp_path: Path) -> Callable[..., ArchivePackage]:
        """A factory of small real bags: make_package(identifier=..., version=1) (override to use your own)."""
        made = [0]

        def make(identifier: str = "oss-connect-contract-0001", version: int = 1) -> ArchivePackage:
            made[0] += 1
            return make_test_package(tmp_path / f"package-{made[0]}", identifier, version)

        return make

    def listing(self, destination: Any) -> list[str]:
        """Every file the destination holds now (partial copies included), named as `listing_prefix` says."""
        raise NotImplementedError(f"{type(self).__name__} must implement listing(destination)")

    def damage(self, destination: Any, receipt: dict[str, Any]) -> None:
        """Spoil the deposited bag of `receipt` (change or delete one payload file) so check() must notice."""
        raise NotImplementedError(f"{type(self).__name__} must implement damage(destination, receipt)")

    def _prefix(self, package: ArchivePackage) -> str:
        return self.listing_prefix.format(identifier=package.identifier)

    def test_the_destination_is_named_and_says_whose_consent_it_needs(self, destination: Any) -> None:
        """A name, a label, consent "deposit" or "public", and an institution without email."""
        assert self.destination_name, f"{type(self).__name__} must set destination_name"
        check_identity(destination, self.destination_name)

    def test_deposit_returns_a_json_receipt_without_emails(self, destination: Any, make_package: Any) -> None:
        """The receipt is JSON-ready, names the identifier, shows no email; progress is reported."""
        package = make_package()
        calls = progress_log(package)
        check_receipt(destination.deposit(package), package)
        check_progress(calls)
        check_one_copy(self.listing(destination), package, self._prefix(package))

    def test_depositing_the_same_package_twice_leaves_one_copy(self, destination: Any, make_package: Any) -> None:
        """A rebuilt bag with the same checksum is a repeat: the same receipt, one copy."""
        first, again = make_package(), make_package()
        assert first.checksum == again.checksum and first.path != again.path
        receipt = check_receipt(destination.deposit(first), first)
        repeat = check_receipt(destination.deposit(again), again)
        assert repeat == receipt, (f"depositing the same package again gave another receipt ({repeat} after "
                                   f"{receipt}); a repeat must return the receipt of the copy already there")
        check_one_copy(self.listing(destination), first, self._prefix(first))

    def test_a_new_version_replaces_the_old_one(self, destination: Any, make_package: Any) -> None:
        """Another checksum under the same identifier replaces the old bag; old receipts no longer check."""
        old, new = make_package(version=1), make_package(version=2)
        assert old.checksum != new.checksum
        old_receipt = check_receipt(destination.deposit(old), old)
        new_receipt = check_receipt(destination.deposit(new), new)
        check_one_copy(self.listing(destination), new, self._prefix(new))
        check_check_result(destination.check(new_receipt), True, "after depositing a new version")
        check_check_result(destination.check(old_receipt), False, "for the old version's receipt after a new "
                                                                  "version replaced it")

    def test_an_interrupted_deposit_then_another_leaves_one_good_copy(self, destination: Any,
                                                                      make_package: Any) -> None:
        """A run stopped half-way (as by kill -9) and the next run: exactly one complete copy."""
        package = make_package()
        interrupt_after(package, 2)
        with contextlib.suppress(Interrupted):
            destination.deposit(package)
        retry = make_package()
        receipt = check_receipt(destination.deposit(retry), retry)
        check_one_copy(self.listing(destination), retry, self._prefix(retry))
        check_check_result(destination.check(receipt), True, "after an interrupted deposit and a complete one")

    def test_check_is_ok_after_deposit_and_not_after_damage(self, destination: Any, make_package: Any) -> None:
        """check() verifies the deposit, and notices when a file of it was spoilt."""
        package = make_package()
        receipt = check_receipt(destination.deposit(package), package)
        check_check_result(destination.check(receipt), True, "right after the deposit")
        self.damage(destination, receipt)
        check_check_result(destination.check(receipt), False, "after damage() spoilt the deposit")

    def test_withdraw_twice_and_check_after(self, destination: Any, make_package: Any) -> None:
        """withdraw returns a WithdrawalResult, a second one raises nothing, and check() then fails."""
        package = make_package()
        receipt = check_receipt(destination.deposit(package), package)
        first = destination.withdraw(receipt)
        check_withdrawal(first, package.identifier)
        second = destination.withdraw(receipt)
        check_withdrawal(second, package.identifier)
        if first.removed:
            assert self.listing(destination) == [], (
                "withdraw returned removed=True but files of the bag remain; remove every file, or return "
                "removed=False and tell the admin what to do by hand")
        check_check_result(destination.check(receipt), False, "after the deposit was withdrawn")

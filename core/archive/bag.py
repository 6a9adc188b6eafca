"""One BagIt 1.0 bag per conversation, made with bagit-python, and its validation (BagIt and the profile).

The bag's payload: data/audio/ (master.wav, master.flac, access.opus|mp3), data/metadata/ (pbcore.xml,
dublin-core.xml, record.json) and data/consent/ (consent.json, release.txt); sha256 and sha512 manifests
and tag manifests; bag-info.txt as the profile in schemas/bagit-profile.json requires. The package's
checksum is the SHA-256 of manifest-sha256.txt, so the same payload always gives the same checksum.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import bagit_profile

from core.archive.records import (
    CONSENT_FOLDER,
    METADATA_FOLDER,
    SCHEMA_FOLDER,
    audio_bag_path,
    consent_json,
    dublin_core_xml,
    hhmmss,
    pbcore_xml,
    record_json,
    validate_pbcore,
)
from core.archive.types import ArchivePackage, PackageInput

PROFILE_PATH = SCHEMA_FOLDER / "bagit-profile.json"
ALGORITHMS = ("sha256", "sha512")
BAGIT_VERSION = "1.0"
REQUIRED_ROLES = ("master", "flac", "access")
PARALLEL_FROM_BYTES = 64 * 1024 * 1024    # below this, one process hashes faster than starting a pool
# make_bag and Bag.save change the process's working directory while they run: one bag at a time.
_BAGGING = threading.Lock()


class BagBuildError(ValueError):
    """The package cannot be built from this input; the message says what is wrong and what to do."""


@functools.cache
def _profile_text() -> str:
    return PROFILE_PATH.read_text(encoding="utf-8")


def load_profile() -> dict[str, Any]:
    """The BagIt profile every conversation bag conforms to (a fresh dict: callers may change it)."""
    return json.loads(_profile_text())


def profile_identifier() -> str:
    """The profile's BagIt-Profile-Identifier, also written into every bag's bag-info.txt."""
    return load_profile()["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]


def software_agent() -> str:
    """Bag-Software-Agent: oss-connect and bagit-python with their versions."""
    try:
        ours = importlib.metadata.version("oss-connect")
    except importlib.metadata.PackageNotFoundError:
        ours = "unknown"
    return f"oss-connect {ours} (bagit-python {bagit.VERSION}, {bagit.PROJECT_URL})"


def bag_info(source: PackageInput, bagging_date: dt.date | None = None) -> dict[str, str]:
    """The bag-info.txt tags (Payload-Oxum is added by bagit-python)."""
    description = source.description
    names = " and ".join(participant.name for participant in source.participants) or "two participants"
    info = {
        "Source-Organization": source.source_organization,
        "External-Identifier": source.identifier,
        "External-Description": (f"{description.title} - a recorded conversation ({hhmmss(source.duration_seconds)})"
                                 f" between {names}: archival master, FLAC and access copies, PBCore 2.1, Dublin "
                                 "Core and JSON metadata, consent records."),
        "Bagging-Date": (bagging_date or dt.datetime.now(dt.UTC).date()).isoformat(),
        "BagIt-Profile-Identifier": profile_identifier(),
        "Bag-Software-Agent": software_agent(),
    }
    if source.contact_email:
        info["Contact-Email"] = source.contact_email
    return {key: " ".join(value.split()) for key, value in info.items()}


def _check_input(source: PackageInput, target: Path) -> None:
    """Refuse input that cannot make a conforming bag, with what to fix."""
    if not source.source_organization.strip():
        raise BagBuildError("The bag needs a Source-Organization: set archive.source_organization (or "
                            "site.organisation) in the config.")
    if not source.identifier.strip():
        raise BagBuildError("The bag needs an External-Identifier: the package input has an empty identifier.")
    roles = [audio.role for audio in source.audio]
    missing = [role for role in REQUIRED_ROLES if role not in roles]
    if missing:
        raise BagBuildError(f"The package has no {', '.join(missing)} audio file; process the recording again.")
    repeated = sorted({role for role in roles if roles.count(role) > 1})
    names = [audio_bag_path(audio) for audio in source.audio]
    if repeated or len(set(names)) != len(names):
        raise BagBuildError(f"Each audio role goes into the bag once; repeated: {', '.join(repeated) or names}.")
    for audio in source.audio:
        if not audio.path.is_file():
            raise BagBuildError(f"The {audio.role} file {audio.path} does not exist; download it again.")
        size = audio.path.stat().st_size
        if size != audio.size:
            raise BagBuildError(f"The {audio.role} file {audio.path} has {size} bytes, but the recording says "
                                f"{audio.size}; download it again or process the recording again.")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BagBuildError(f"{target} already exists and is not an empty folder; choose a new folder for the bag.")


def _place(source_file: Path, destination: Path) -> None:
    """Hard-link the file into the bag when on the same filesystem, else copy it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source_file, destination)
    except OSError:
        shutil.copyfile(source_file, destination)


def _lay_out(source: PackageInput, folder: Path) -> None:
    """The payload as it will be under data/ (make_bag moves it there)."""
    def relative(bag_path: str) -> Path:
        return folder / bag_path.removeprefix("data/")

    for audio in source.audio:
        _place(audio.path, relative(audio_bag_path(audio)))
    files = {f"{METADATA_FOLDER}/pbcore.xml": pbcore_xml(source),
             f"{METADATA_FOLDER}/dublin-core.xml": dublin_core_xml(source),
             f"{METADATA_FOLDER}/record.json": record_json(source),
             f"{CONSENT_FOLDER}/consent.json": consent_json(source),
             f"{CONSENT_FOLDER}/release.txt": source.release_text.encode("utf-8")}
    for bag_path, content in files.items():
        path = relative(bag_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def processes_for(source: PackageInput) -> int:
    """Hash files in parallel (one process per large file, at most one per core) when the payload is large."""
    large = [audio for audio in source.audio if audio.size >= PARALLEL_FROM_BYTES // 4]
    if sum(audio.size for audio in source.audio) < PARALLEL_FROM_BYTES or len(large) < 2:
        return 1
    return max(1, min(len(large), os.cpu_count() or 1))


def _set_version(folder: Path) -> None:
    """bagit-python writes BagIt-Version 0.97: declare 1.0 and let bagit rewrite the tag manifests."""
    (folder / "bagit.txt").write_text(f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n",
                                      encoding="utf-8")
    bagit.Bag(str(folder)).save(manifests=False)


def _manifest(folder: Path, algorithm: str) -> dict[str, str]:
    """Payload path -> digest from a manifest."""
    entries = {}
    for line in (folder / f"manifest-{algorithm}.txt").read_text(encoding="utf-8").splitlines():
        digest, _, path = line.partition(" ")
        entries[path.strip()] = digest
    return entries


def _all_files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def build_bag(source: PackageInput, target: Path, *, progress: Callable[[float, str], None] | None = None,
              processes: int | None = None) -> ArchivePackage:
    """Make the conversation's BagIt 1.0 bag in `target` (a new or empty folder) and describe it.

    The bag is made in a sibling folder and renamed into place at the end, so `target` never holds half
    a bag. Raises BagBuildError for input that cannot make a conforming bag (the message says why).
    """
    report = progress or (lambda fraction, label: None)
    target = Path(target).absolute()
    report(0.0, "checking the audio files")
    _check_input(source, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    staging.mkdir()                          # not mkdtemp: the bag gets the usual (umask) permissions
    try:
        report(0.05, "writing the metadata and placing the audio")
        _lay_out(source, staging)
        report(0.1, "computing sha256 and sha512 checksums")
        with _BAGGING:
            bagit.make_bag(str(staging), bag_info(source), processes=processes or 1,
                           checksums=list(ALGORITHMS))
            report(0.9, "declaring BagIt 1.0")
            _set_version(staging)
        report(0.95, "checking the audio against the recording's checksums")
        listed = _manifest(staging, "sha256")
        for audio in source.audio:
            if listed.get(audio_bag_path(audio)) != audio.sha256:
                raise BagBuildError(f"The {audio.role} file's SHA-256 is not the one the recording stored: the "
                                    "copy is damaged. Download it again or process the recording again.")
        report(0.97, "checking the bag against the profile and the PBCore 2.1 schema")
        _check_conformance(staging)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    package = describe_bag(target)
    package.conversation_id = int(source.extra.get("conversation_id", 0) or 0)
    package.public = source.public
    if progress is not None:
        package.progress = progress
    report(1.0, "bag ready")
    return package


def _check_conformance(folder: Path) -> None:
    """Refuse a bag that does not conform to the profile, or whose PBCore record the schema refuses."""
    problems = _profile_problems(folder, bagit.Bag(str(folder)), load_profile())
    problems += [f"pbcore.xml: {problem}" for problem in
                 validate_pbcore((folder / METADATA_FOLDER / "pbcore.xml").read_bytes())]
    if problems:
        raise BagBuildError("The package would not conform, so it was not made: " + "; ".join(problems[:5])
                            + ". This is a fault of oss-connect or of a plugin that changed the metadata; report it.")


def describe_bag(path: Path) -> ArchivePackage:
    """An existing bag (made by build_bag) as an ArchivePackage: checksum, size, files, access copy, record."""
    path = Path(path).absolute()
    info = bagit.Bag(str(path)).info
    files = _all_files(path)
    record = json.loads((path / METADATA_FOLDER / "record.json").read_text(encoding="utf-8"))
    access = next((item for item in record.get("audio", []) if item.get("role") == "access"), None)
    return ArchivePackage(
        identifier=str(info.get("External-Identifier", record.get("identifier", ""))),
        path=path,
        checksum=package_checksum(path),
        size=sum((path / name).stat().st_size for name in files),
        payload_oxum=str(info.get("Payload-Oxum", "")),
        files=tuple(files),
        conversation_id=int(record.get("extra", {}).get("conversation_id", 0) or 0),
        public=bool(record.get("consent", {}).get("public", False)),
        access_file=access["file"] if access else None,
        access_content_type=access["content_type"] if access else None,
        metadata=record,
    )


def package_checksum(path: Path) -> str:
    """SHA-256 of the bag's manifest-sha256.txt: equal for equal payloads, whenever the bag was made."""
    return hashlib.sha256((Path(path) / "manifest-sha256.txt").read_bytes()).hexdigest()


def _profile_problems(path: Path, bag: bagit.Bag, profile: dict[str, Any]) -> list[str]:
    """Conformance to the profile: bagit_profile's checks, then the payload-file rules it does not check."""
    identifier = profile["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]
    problems: list[str] = []
    try:
        checker = bagit_profile.Profile(identifier, profile=copy.deepcopy(profile))
        checker.validate_serialization(str(path))
        if not checker.validate(bag):
            problems += [f"profile: {getattr(error, 'value', error)}" for error in checker.report.errors]
    except bagit_profile.ProfileValidationError as error:
        problems.append(f"profile: {error.value}")
    payload = [name for name in _all_files(path) if name.startswith("data/")]
    for pattern in profile.get("Payload-Files-Required", []):
        if not any(fnmatch.fnmatchcase(name, pattern) for name in payload):
            problems.append(f"profile: required payload file {pattern} is missing")
    allowed = profile.get("Payload-Files-Allowed")
    if allowed is not None:
        for name in payload:
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed):
                problems.append(f"profile: payload file {name} is not allowed by the profile")
    if profile.get("Data-Empty") is False and not payload:
        problems.append("profile: the payload is empty")
    return problems


def validate_bag(path: Path, *, processes: int = 1) -> list[str]:
    """Problems of the bag at `path`: full BagIt validation (every file, every manifest algorithm, the
    tag manifests, Payload-Oxum) and conformance to the profile (loaded locally, never fetched). An empty
    list means valid."""
    path = Path(path)
    if not path.is_dir():
        return [f"{path} is not a folder; a bag is a folder holding bagit.txt"]
    try:
        bag = bagit.Bag(str(path))
    except bagit.BagError as error:
        return [f"bagit: {error}"]
    problems: list[str] = []
    try:
        bag.validate(processes=processes)
    except bagit.BagValidationError as error:
        details = getattr(error, "details", None) or []
        problems += [f"bagit: {error.message}: {detail}" for detail in details] or [f"bagit: {error.message}"]
    except bagit.BagError as error:
        problems.append(f"bagit: {error}")
    return problems + _profile_problems(path, bag, load_profile())

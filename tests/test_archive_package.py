"""The archive package: a BagIt 1.0 bag of real audio, checked with bagit-python's own command line, the
BagIt profile (bagit-profile), the PBCore 2.1 XSD (lxml), and hashlib; plain functions, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bagit
import bagit_profile
import pytest
from lxml import etree

from core.archive.bag import PROFILE_PATH, BagBuildError, build_bag, load_profile, package_checksum, validate_bag
from core.archive.records import (
    PBCORE_XSD,
    dublin_core_xml,
    language_code,
    pbcore_xml,
    record_json,
    validate_pbcore,
)
from core.archive.types import AudioFile, ConsentRecord, Description, PackageInput, Participant
from tests.archive_helpers import CONTENT_TYPES, audio_files

BIN = Path(sys.executable).parent
PB = "{http://www.pbcore.org/PBCore/PBCoreNamespace.html}"
DC = "{http://purl.org/dc/elements/1.1/}"
EMAIL = re.compile(rb"[\w.+-]+@[\w-]+\.[\w.-]+")
RECORDED = dt.datetime(2026, 5, 1, 18, 0, tzinfo=dt.UTC)
RELEASE = "I agree that this recording may be kept and used as I chose.\n"
PARTICIPANT_EMAILS = ("ann.private@example.org", "ben.private@example.org")


def audio_input(folder: Path | None = None) -> tuple[AudioFile, ...]:
    """The real master, FLAC and access files (optionally copied into `folder`) as AudioFiles."""
    found = []
    for role, path in audio_files().items():
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            path = Path(shutil.copyfile(path, folder / path.name))
        data = path.read_bytes()
        found.append(AudioFile(role=role, path=path, content_type=CONTENT_TYPES[role],
                               sha256=hashlib.sha256(data).hexdigest(), size=len(data), duration_seconds=3.0,
                               channels=2, sample_rate=48000))
    return tuple(found)


def package_input(**changes: object) -> PackageInput:
    """A conversation as core would gather it: two named participants, both agreed to everything."""
    release_sha256 = hashlib.sha256(RELEASE.encode()).hexdigest()
    consents = tuple(ConsentRecord(participant=label, deposit=True, public=True, broadcast=True,
                                   release_version="2026-1", release_sha256=release_sha256,
                                   decided_at=RECORDED + dt.timedelta(hours=1, minutes=minute))
                     for minute, label in enumerate(("Participant A", "Participant B")))
    values: dict[str, object] = dict(
        identifier="oss-connect-7f3a9c", conversation_uid="7f3a9c@riverbend.example.org", recorded_at=RECORDED,
        duration_seconds=3.0,
        description=Description(title="Two neighbours on faith, work and family",
                                summary="Ann and Ben talk about the towns they grew up in and the people who "
                                        "shaped them.",
                                keywords=("family", "faith", "work"), people=("Ann's grandmother",),
                                places=("Columbus, Ohio", "Dayton, Ohio"), organisations=("Columbus Public Library",),
                                languages=("en", "German", "Klingonish"), location="Springfield, Ohio"),
        participants=(Participant("Participant A", "Ann", "left"), Participant("Participant B", "Ben", "right",
                                                                               bio="Retired teacher.")),
        consents=consents, release_text=RELEASE, release_version="2026-1", audio=audio_input(),
        source_organization="Riverbend Public Radio", contact_email="archive@riverbend.example.org",
        site_url="https://talk.riverbend.example.org", public=True, broadcast=True,
        extra={"conversation_id": 42})
    values.update(changes)
    return PackageInput(**values)  # type: ignore[arg-type]


@pytest.fixture
def built(tmp_path: Path) -> tuple[PackageInput, Path, object]:
    """A bag built from the real audio."""
    source = package_input()
    package = build_bag(source, tmp_path / "bag")
    return source, tmp_path / "bag", package


def manifest(path: Path, name: str) -> dict[str, str]:
    entries = {}
    for line in (path / name).read_text(encoding="utf-8").splitlines():
        digest, file = line.split(maxsplit=1)
        entries[file] = digest
    return entries


def payload_files(bag: Path) -> list[Path]:
    return sorted(path for path in (bag / "data").rglob("*") if path.is_file())


def file_digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def bag_info(bag: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (bag / "bag-info.txt").read_text(encoding="utf-8").splitlines())


def test_the_bag_validates_with_the_bagit_command_line_and_validate_bag(built) -> None:
    _, bag, package = built
    answer = subprocess.run([str(BIN / "bagit.py"), "--validate", str(bag)], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    assert "is valid" in answer.stderr
    assert validate_bag(bag) == []
    assert package.path == bag.absolute()


def test_the_bag_conforms_to_the_profile(built) -> None:
    _, bag, _ = built
    profile = load_profile()
    identifier = profile["BagIt-Profile-Info"]["BagIt-Profile-Identifier"]
    checker = bagit_profile.Profile(identifier, profile=load_profile())
    assert checker.validate_serialization(str(bag))
    assert checker.validate(bagit.Bag(str(bag))), checker.report
    answer = subprocess.run([str(BIN / "bagit_profile.py"), "--no-logfile", "--file",
                             str(PROFILE_PATH), identifier, str(bag)],
                            capture_output=True, text=True)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert profile["Accept-BagIt-Version"] == ["1.0"]
    assert set(profile["Manifests-Required"]) == set(profile["Tag-Manifests-Required"]) == {"sha256", "sha512"}
    assert bag_info(bag)["BagIt-Profile-Identifier"] == identifier


def test_bagit_txt_says_1_0_and_the_tag_manifests_match_the_tag_files(built) -> None:
    _, bag, _ = built
    assert (bag / "bagit.txt").read_bytes() == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    assert bagit.Bag(str(bag)).version_info == (1, 0)
    for algorithm in ("sha256", "sha512"):
        listed = manifest(bag, f"tagmanifest-{algorithm}.txt")
        assert set(listed) == {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"}
        for name, digest in listed.items():
            assert file_digest(bag / name, algorithm) == digest, name


def test_both_manifests_list_every_payload_file_with_its_digest(built) -> None:
    _, bag, package = built
    on_disk = {path.relative_to(bag).as_posix(): path for path in payload_files(bag)}
    assert set(on_disk) == {"data/audio/master.wav", "data/audio/master.flac", "data/audio/access.opus",
                            "data/metadata/pbcore.xml", "data/metadata/dublin-core.xml", "data/metadata/record.json",
                            "data/consent/consent.json", "data/consent/release.txt"}
    for algorithm in ("sha256", "sha512"):
        listed = manifest(bag, f"manifest-{algorithm}.txt")
        assert set(listed) == set(on_disk), algorithm
        for name, path in on_disk.items():
            assert listed[name] == file_digest(path, algorithm), (algorithm, name)
    assert set(package.files) == set(on_disk) | {"bagit.txt", "bag-info.txt", "manifest-sha256.txt",
                                                 "manifest-sha512.txt", "tagmanifest-sha256.txt",
                                                 "tagmanifest-sha512.txt"}
    assert package.size == sum((bag / name).stat().st_size for name in package.files)


def test_payload_oxum_and_bag_info_tags(built) -> None:
    source, bag, package = built
    files = payload_files(bag)
    oxum = f"{sum(path.stat().st_size for path in files)}.{len(files)}"
    info = bag_info(bag)
    assert info["Payload-Oxum"] == package.payload_oxum == oxum
    assert info["Source-Organization"] == "Riverbend Public Radio"
    assert info["External-Identifier"] == source.identifier == package.identifier
    assert info["Contact-Email"] == "archive@riverbend.example.org"
    assert dt.date.fromisoformat(info["Bagging-Date"]) == dt.datetime.now(dt.UTC).date()
    assert info["External-Description"].startswith("Two neighbours on faith, work and family")
    assert "bagit-python" in info["Bag-Software-Agent"] and "oss-connect" in info["Bag-Software-Agent"]


def test_the_package_describes_the_bag_and_links_the_audio(built) -> None:
    source, bag, package = built
    assert package.conversation_id == 42 and package.public is True
    assert package.access_file == "data/audio/access.opus" and package.access_content_type == "audio/ogg"
    assert package.metadata == json.loads((bag / "data/metadata/record.json").read_bytes())
    assert package.checksum == hashlib.sha256((bag / "manifest-sha256.txt").read_bytes()).hexdigest()
    for audio in source.audio:
        placed = bag / package.metadata["audio"][[a.role for a in source.audio].index(audio.role)]["file"]
        assert placed.read_bytes() == audio.path.read_bytes()
        if placed.stat().st_dev == audio.path.stat().st_dev:
            assert os.path.samefile(placed, audio.path), "a file on the same filesystem is hard-linked"
    consent = json.loads((bag / "data/consent/consent.json").read_bytes())
    assert consent["release"]["version"] == "2026-1"
    assert consent["release"]["sha256"] == file_digest(bag / "data/consent/release.txt", "sha256")
    assert (bag / "data/consent/release.txt").read_text(encoding="utf-8") == RELEASE
    assert [record["participant"] for record in consent["records"]] == ["Participant A", "Participant B"]
    assert consent["records"][1]["decided_at"] == "2026-05-01T19:01:00Z"
    assert consent["agreed"] == {"deposit": True, "public": True, "broadcast": True}
    assert not list(bag.parent.glob(".*partial")), "no staging folder is left behind"


def test_pbcore_validates_against_the_xsd_and_names_no_email(built) -> None:
    source, bag, _ = built
    xml = (bag / "data/metadata/pbcore.xml").read_bytes()
    assert xml == pbcore_xml(source)
    assert validate_pbcore(xml) == []
    schema = etree.XMLSchema(etree.parse(str(PBCORE_XSD)))
    document = etree.fromstring(xml)
    assert schema.validate(document), schema.error_log
    assert document.findtext(f"{PB}pbcoreTitle") == "Two neighbours on faith, work and family"
    subjects = {(s.get("subjectType"), s.text) for s in document.iter(f"{PB}pbcoreSubject")}
    assert {("Topic", "family"), ("Topic", "faith"), ("Topic", "work"), ("Personal Name", "Ann's grandmother"),
            ("Corporate Name", "Columbus Public Library")} == subjects
    contributors = [c.findtext(f"{PB}contributor") for c in document.iter(f"{PB}pbcoreContributor")]
    assert contributors == ["Ann", "Ben"]
    roles = [r.text for r in document.iter(f"{PB}contributorRole")]
    assert set(roles) == {"Interviewee", "Speaker"}
    coverage = [c.findtext(f"{PB}coverage") for c in document.iter(f"{PB}pbcoreCoverage")]
    assert coverage == ["Columbus, Ohio", "Dayton, Ohio", "Springfield, Ohio"]
    assert document.findtext(f"{PB}pbcoreDescription").startswith("Ann and Ben talk")
    assert document.findtext(f"{PB}pbcoreCreator/{PB}creator") == "Riverbend Public Radio"
    assert document.findtext(f"{PB}pbcorePublisher/{PB}publisher") == "Riverbend Public Radio"
    rights = " ".join(r.text for r in document.iter(f"{PB}rightsSummary"))
    assert "both participants agreed" in rights and "public" in rights.lower() and "Broadcast use" in rights
    instantiations = list(document.iter(f"{PB}pbcoreInstantiation"))
    assert [i.findtext(f"{PB}instantiationLocation") for i in instantiations] == [
        "data/audio/master.wav", "data/audio/master.flac", "data/audio/access.opus"]
    master = instantiations[0]
    assert master.findtext(f"{PB}instantiationDuration") == "00:00:03"
    assert master.findtext(f"{PB}instantiationFileSize") == str(source.audio[0].size)
    assert master.findtext(f"{PB}instantiationEssenceTrack/{PB}essenceTrackSamplingRate") == "48"
    assert [x.text for x in master.iter(f"{PB}instantiationLanguage")] == ["eng", "ger"]
    assert "Klingonish" in [a.text for a in document.iter(f"{PB}pbcoreAnnotation")]
    everything = b"".join(path.read_bytes() for path in (bag / "data/metadata").iterdir())
    assert not EMAIL.search(xml), EMAIL.search(xml)
    assert not EMAIL.search((bag / "data/metadata/dublin-core.xml").read_bytes())
    for email in PARTICIPANT_EMAILS:
        assert email.encode() not in everything


def test_dublin_core_parses_and_has_the_fields(built) -> None:
    source, bag, _ = built
    xml = (bag / "data/metadata/dublin-core.xml").read_bytes()
    assert xml == dublin_core_xml(source)
    document = etree.fromstring(xml)
    assert document.tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"

    def values(tag: str) -> list[str]:
        return [element.text for element in document.iter(f"{DC}{tag}")]

    assert values("title") == ["Two neighbours on faith, work and family"]
    assert values("description")[0].startswith("Ann and Ben talk")
    assert {"family", "faith", "work", "Ann's grandmother", "Columbus Public Library"} == set(values("subject"))
    assert values("contributor") == ["Ann", "Ben"]
    assert values("creator") == values("publisher") == ["Riverbend Public Radio"]
    assert values("date") == ["2026-05-01"]
    assert values("type") == ["Sound"]
    assert {"audio/wav", "audio/flac", "audio/ogg"} <= set(values("format"))
    assert values("identifier") == ["oss-connect-7f3a9c"]
    assert values("language") == ["eng", "ger", "Klingonish"]
    assert values("coverage") == ["Columbus, Ohio", "Dayton, Ohio", "Springfield, Ohio"]
    assert len(values("rights")) == 3


def test_the_json_record_is_stable_and_complete() -> None:
    source = package_input()
    data = record_json(source)
    assert data == record_json(package_input())
    record = json.loads(data)
    assert list(record) == sorted(record)
    assert record["description"]["keywords"] == ["family", "faith", "work"]
    assert record["participants"][1] == {"label": "Participant B", "name": "Ben", "channel": "right",
                                         "bio": "Retired teacher."}
    assert [a["file"] for a in record["audio"]] == ["data/audio/master.wav", "data/audio/master.flac",
                                                    "data/audio/access.opus"]
    assert str(source.audio[0].path.parent).encode() not in data, "no local path goes into the record"
    assert record["recorded_at"] == "2026-05-01T18:00:00Z" and record["duration"] == "00:00:03"


def test_rebuilding_gives_the_same_checksum_and_a_new_description_a_new_one(tmp_path: Path) -> None:
    first = build_bag(package_input(), tmp_path / "one")
    again = build_bag(package_input(audio=audio_input(tmp_path / "elsewhere")), tmp_path / "two", processes=2)
    assert first.checksum == again.checksum == package_checksum(tmp_path / "two")
    assert (tmp_path / "one/manifest-sha512.txt").read_bytes() == (tmp_path / "two/manifest-sha512.txt").read_bytes()
    changed = dataclasses.replace(package_input().description, summary="They talked about something else entirely.")
    other = build_bag(package_input(description=changed), tmp_path / "three")
    assert other.checksum != first.checksum
    assert validate_bag(tmp_path / "two") == []


def test_a_tampered_file_makes_validation_fail(built) -> None:
    _, bag, _ = built
    record = bag / "data/metadata/record.json"
    original = record.read_bytes()
    record.write_bytes(original.replace(b"family", b"FAMILY", 1))       # same size: only the checksums can tell
    problems = validate_bag(bag)
    assert problems and any("data/metadata/record.json" in problem for problem in problems), problems
    answer = subprocess.run([str(BIN / "bagit.py"), "--validate", str(bag)], capture_output=True, text=True)
    assert answer.returncode != 0
    record.write_bytes(original)
    assert validate_bag(bag) == []
    master = bag / "data/audio/master.wav"
    data = bytearray(master.read_bytes())
    data[-1] ^= 0xFF
    master.unlink()                                         # break the hard link: never touch the shared fixture
    master.write_bytes(bytes(data))
    problems = validate_bag(bag)
    assert any("master.wav" in problem and "sha256" in problem for problem in problems), problems
    assert any("master.wav" in problem and "sha512" in problem for problem in problems), problems


def test_a_bag_outside_the_profile_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "note.txt").write_text("hello\n", encoding="utf-8")
    bagit.make_bag(str(folder), {"Source-Organization": "Somebody"}, checksums=["sha256"])
    problems = validate_bag(folder)
    assert not any(problem.startswith("bagit:") for problem in problems), problems
    text = "\n".join(problems)
    for expected in ("BagIt-Profile-Identifier", "sha512", "0.97", "data/metadata/pbcore.xml",
                     "data/note.txt is not allowed"):
        assert expected in text, (expected, problems)
    assert validate_bag(tmp_path / "missing") == [f"{tmp_path / 'missing'} is not a folder; a bag is a folder "
                                                  "holding bagit.txt"]


def test_validate_pbcore_reports_a_schema_error() -> None:
    xml = pbcore_xml(package_input())
    assert validate_pbcore(xml) == []
    broken = xml.replace(b"<pbcoreTitle>", b"<pbcoreTitel>").replace(b"</pbcoreTitle>", b"</pbcoreTitel>")
    problems = validate_pbcore(broken)
    assert problems and "pbcoreTitel" in problems[0], problems
    bad_type = xml.replace(b"<coverageType>Spatial</coverageType>", b"<coverageType>Somewhere</coverageType>", 1)
    assert any("coverageType" in problem for problem in validate_pbcore(bad_type))
    assert validate_pbcore(b"<pbcoreDescriptionDocument")[0].startswith("not well-formed XML")


def test_a_record_the_schema_refuses_stops_the_bag_and_leaves_nothing(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """build_bag checks every bag against the PBCore 2.1 schema (and the profile) before it is final."""
    import core.archive.bag

    written = core.archive.bag.pbcore_xml
    monkeypatch.setattr(core.archive.bag, "pbcore_xml", lambda source: written(source).replace(
        b"<pbcoreTitle>", b"<pbcoreTitel>").replace(b"</pbcoreTitle>", b"</pbcoreTitel>"))

    with pytest.raises(BagBuildError, match=r"would not conform.*pbcore\.xml: .*pbcoreTitel"):
        build_bag(package_input(), tmp_path / "bag")
    assert list(tmp_path.iterdir()) == [], "no half-made bag is left"


def test_progress_goes_from_zero_to_one(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    build_bag(package_input(), tmp_path / "bag", progress=lambda fraction, label: seen.append((fraction, label)))
    fractions = [fraction for fraction, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and all(label for _, label in seen)


def test_bad_input_is_refused_with_a_clear_message_and_leaves_nothing(tmp_path: Path) -> None:
    source = package_input()
    without_access = tuple(audio for audio in source.audio if audio.role != "access")
    with pytest.raises(BagBuildError, match="no access audio file"):
        build_bag(package_input(audio=without_access), tmp_path / "a")
    damaged = (dataclasses.replace(source.audio[0], sha256="0" * 64), *source.audio[1:])
    with pytest.raises(BagBuildError, match="master file's SHA-256 is not the one the recording stored"):
        build_bag(package_input(audio=damaged), tmp_path / "b")
    short = (dataclasses.replace(source.audio[0], size=1), *source.audio[1:])
    with pytest.raises(BagBuildError, match=r"has \d+ bytes, but the recording says 1"):
        build_bag(package_input(audio=short), tmp_path / "c")
    with pytest.raises(BagBuildError, match="Source-Organization"):
        build_bag(package_input(source_organization=" "), tmp_path / "d")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "old.txt").write_text("x", encoding="utf-8")
    with pytest.raises(BagBuildError, match="not an empty folder"):
        build_bag(source, tmp_path / "e")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["e"], "no half-made bag is left"


def test_language_codes_are_iso_639_2_bibliographic() -> None:
    assert [language_code(term) for term in ("en", "eng", "English", "de", "deu", "German", "zh", "fr", "es")] == [
        "eng", "eng", "eng", "ger", "ger", "ger", "chi", "fre", "spa"]
    assert language_code("xx") is None and language_code("Klingonish") is None


def test_audio_on_another_filesystem_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cross_device(source: object, destination: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr("core.archive.bag.os.link", cross_device)
    source = package_input()
    package = build_bag(source, tmp_path / "bag")
    master = tmp_path / "bag/data/audio/master.wav"
    assert not os.path.samefile(master, source.audio[0].path)
    assert master.read_bytes() == source.audio[0].path.read_bytes()
    assert validate_bag(package.path) == []

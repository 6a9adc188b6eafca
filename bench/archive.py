"""Archive benchmark: building one conversation's BagIt bag (sha256 and sha512 manifests) against hashlib.

Run from the repository root: `python bench/archive.py`. Progress goes to stderr; the last line of stdout
is a JSON object with:

- `bag_ratio`: the throughput of `core.archive.bag.build_bag` (metadata records, audio placed by hard
  link, bagit-python's sha256 and sha512 manifests and tag manifests, BagIt 1.0, the audio checked
  against the recording's checksums) divided by the throughput of Python's `hashlib.sha512` over the
  same files, in the same run (the median of three runs of each). Target >= 0.5.
- `bag_mb_per_s`, `sha512_mb_per_s`, `sha256_mb_per_s`: the throughputs (MB = 10^6 bytes).
- `bag_ratio_parallel`, `bag_parallel_mb_per_s`: the same bag with the files hashed by several processes
  (`processes_for`), to show what parallel hashing would give. The site itself bags with one process
  (`build_bag`'s default): bagit forks its pool, and forking a threaded worker is unsafe.

The payload has the size of a real 50-minute conversation: a 24-bit/48 kHz stereo master WAV (864 MB),
its FLAC (about 55 % of it: speech compresses poorly at 24 bits) and a 96 kb/s access copy; random bytes
stand in for the audio (hashing does not care what the bytes are).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.archive.bag import build_bag, processes_for
from core.archive.types import AudioFile, ConsentRecord, Description, PackageInput, Participant

MINUTES = 50
SECONDS = MINUTES * 60
MASTER_BYTES = SECONDS * 48_000 * 2 * 3 + 44          # 24-bit, 48 kHz, two channels, plus a WAV header
SIZES = {"master": MASTER_BYTES, "flac": int(MASTER_BYTES * 0.55), "access": SECONDS * 96_000 // 8}
FILES = {"master": ("master.wav", "audio/wav"), "flac": ("master.flac", "audio/flac"),
         "access": ("access.opus", "audio/ogg")}
ROUNDS = 3
BLOCK = 8 * 1024 * 1024


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def make_audio(folder: Path) -> tuple[AudioFile, ...]:
    """Random files of a 50-minute conversation's sizes, each with its SHA-256 as the recording stores it."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for role, size in SIZES.items():
        name, content_type = FILES[role]
        path = folder / name
        digest = hashlib.sha256()
        with path.open("wb") as out:
            left = size
            while left:
                block = os.urandom(min(BLOCK, left))
                digest.update(block)
                out.write(block)
                left -= len(block)
        made.append(AudioFile(role=role, path=path, content_type=content_type, sha256=digest.hexdigest(),
                              size=size, duration_seconds=float(SECONDS), channels=2, sample_rate=48_000))
    os.sync()
    return tuple(made)


def package_input(audio: tuple[AudioFile, ...]) -> PackageInput:
    """A realistic conversation around the audio."""
    decided = dt.datetime(2026, 5, 1, 19, 0, tzinfo=dt.UTC)
    return PackageInput(
        identifier="oss-connect-bench", conversation_uid="bench@example.org",
        recorded_at=dt.datetime(2026, 5, 1, 18, 0, tzinfo=dt.UTC), duration_seconds=float(SECONDS),
        description=Description(title="Two neighbours on faith, work and family",
                                summary="A benchmark conversation about the towns two people grew up in.",
                                keywords=("family", "faith", "work"), places=("Columbus, Ohio",), languages=("en",),
                                location="Columbus, Ohio"),
        participants=(Participant("Participant A", "Ann", "left"), Participant("Participant B", "Ben", "right")),
        consents=tuple(ConsentRecord(label, True, True, True, "1", "0" * 64, decided)
                       for label in ("Participant A", "Participant B")),
        release_text="I agree.\n", release_version="1", audio=audio, source_organization="Bench Radio")


def time_sha(algorithm: str, paths: list[Path]) -> float:
    """Seconds for hashlib to digest every file (each file read through hashlib.file_digest)."""
    started = time.perf_counter()
    for path in paths:
        with path.open("rb") as handle:
            hashlib.file_digest(handle, algorithm)
    return time.perf_counter() - started


def time_bag(source: PackageInput, target: Path, processes: int | None) -> float:
    """Seconds for build_bag to make the whole bag."""
    started = time.perf_counter()
    build_bag(source, target, processes=processes)
    return time.perf_counter() - started


def main() -> None:
    """Measure and print the figures."""
    with tempfile.TemporaryDirectory(prefix="oss-bench-archive-", dir=Path.cwd()) as temp:
        folder = Path(temp)
        log(f"making a {MINUTES}-minute conversation's audio ({sum(SIZES.values()) / 1e6:.0f} MB of random bytes) ...")
        audio = make_audio(folder / "audio")
        source = package_input(audio)
        paths = [item.path for item in audio]
        total = sum(SIZES.values())
        parallel = processes_for(source)
        sha512, sha256, bag, bag_one = [], [], [], []
        for round_number in range(ROUNDS):
            log(f"round {round_number + 1}/{ROUNDS}: hashlib sha512, sha256; build_bag with 1 and {parallel} processes")
            sha512.append(time_sha("sha512", paths))
            sha256.append(time_sha("sha256", paths))
            bag.append(time_bag(source, folder / f"bag-{round_number}", None))
            bag_one.append(time_bag(source, folder / f"bag-parallel-{round_number}", parallel))
    sha512_s, sha256_s, bag_s, bag_one_s = (statistics.median(values) for values in (sha512, sha256, bag, bag_one))
    result = {
        "bag_ratio": round(sha512_s / bag_s, 3),
        "bag_mb_per_s": round(total / 1e6 / bag_s, 1),
        "sha512_mb_per_s": round(total / 1e6 / sha512_s, 1),
        "sha256_mb_per_s": round(total / 1e6 / sha256_s, 1),
        "bag_ratio_parallel": round(sha512_s / bag_one_s, 3),
        "bag_parallel_mb_per_s": round(total / 1e6 / bag_one_s, 1),
        "parallel_processes": parallel,
        "bag_seconds": round(bag_s, 3),
        "payload_mb": round(total / 1e6, 1),
        "cpus": os.cpu_count(),
    }
    log(f"build_bag {result['bag_mb_per_s']} MB/s (one process; {result['bag_parallel_mb_per_s']} MB/s "
        f"with {parallel}) vs hashlib sha512 {result['sha512_mb_per_s']} MB/s, sha256 {result['sha256_mb_per_s']} MB/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

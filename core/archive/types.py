"""The archive's data types: what a package is made from, the package itself, and destination results.

Plain frozen dataclasses, so the package builder, the destinations and the tests share one shape and
none of them needs the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Progress = Callable[[float, str], None]


class DepositError(Exception):
    """A destination could not deposit, withdraw or check; the message says why and what to do.

    Set `retry=False` when trying again cannot help (a refused login, a missing bucket): the deposit
    is then marked failed at once instead of being retried with back-off.
    """

    def __init__(self, message: str, *, retry: bool = True):
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Description:
    """What the participants approved: title, summary and the keyword facets archives catalogue."""

    title: str
    summary: str
    keywords: tuple[str, ...]
    people: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()       # ISO 639-2/B or 639-1 codes as the questionnaire stores them
    location: str = ""                    # where the participants were, e.g. "Columbus, Ohio"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Participant:
    """A participant as the archive names them: the shared first name only, never an email."""

    label: str                            # "Participant A" / "Participant B": stable, never a name
    name: str                             # the name they shared publicly, or the label
    channel: str                          # "left" or "right" in the master
    bio: str | None = None                # only when they made it public


@dataclass(frozen=True)
class ConsentRecord:
    """One decision of one participant, as it goes into the bag."""

    participant: str                      # the participant's label
    deposit: bool
    public: bool
    broadcast: bool
    release_version: str
    release_sha256: str
    decided_at: dt.datetime               # UTC

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO 8601 UTC time)."""
        data = asdict(self)
        data["decided_at"] = self.decided_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return data


@dataclass(frozen=True)
class AudioFile:
    """An audio file to put into the package, already on local disk."""

    role: str                             # master | flac | access
    path: Path
    content_type: str
    sha256: str
    size: int
    duration_seconds: float | None = None
    channels: int | None = None
    sample_rate: int | None = None


@dataclass(frozen=True)
class PackageInput:
    """Everything a package is made from; built by core from the database (core.archive.gather)."""

    identifier: str                       # External-Identifier, e.g. "oss-connect-7f3a…"
    conversation_uid: str
    recorded_at: dt.datetime              # UTC start of the recording
    duration_seconds: float
    description: Description
    participants: tuple[Participant, ...]
    consents: tuple[ConsentRecord, ...]
    release_text: str
    release_version: str
    audio: tuple[AudioFile, ...]
    source_organization: str
    contact_email: str | None = None
    site_url: str = ""
    public: bool = False                  # both chose public
    broadcast: bool = False               # both allowed broadcast use
    extra: dict[str, Any] = field(default_factory=dict)   # from before_archive hooks


@dataclass
class ArchivePackage:
    """A finished BagIt bag on local disk, as a destination receives it in `deposit(package)`.

    `checksum` is the SHA-256 of the bag's manifest-sha256.txt: the same payload gives the same
    checksum whenever it is built, so a destination can tell a repeat from a new version.
    """

    identifier: str
    path: Path                            # the bag's folder (bagit.txt, data/, manifests)
    checksum: str
    size: int                             # bytes of every file in the bag
    payload_oxum: str                     # "bytes.files" of data/
    files: tuple[str, ...]                # every file, relative to `path`, with / separators
    conversation_id: int = 0
    public: bool = False
    access_file: str | None = None        # the access copy's path relative to `path`
    access_content_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)   # the JSON record
    progress: Progress = field(default=lambda fraction, label: None, repr=False)


@dataclass(frozen=True)
class WithdrawalResult:
    """What `withdraw` achieved: removed=False means the institution must be told by hand."""

    removed: bool
    message: str


@dataclass(frozen=True)
class CheckResult:
    """A fixity check of a deposit: ok, and what was found."""

    ok: bool
    message: str

"""Recordings a call provider made on its side (LiveKit egress, Jibri, ...), handed in by
`fetch_recordings`: downloaded once, checked to be audio by content, kept byte-exact as the track's
original, and from then on processed exactly like the browsers' tracks."""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from core.models import CallRoomRecord, Conversation
from core.models.recording import Recording, RecordingOutput, RecordingTrack
from core.platform import platform
from core.providers import CallProviderError, ProviderRecording
from core.recording.audio import AudioError, probe
from core.room.calls import as_call_room

log = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT = 60
MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024 * 1024


class ProviderFileError(Exception):
    """A provider's recording could not be taken in; the message names the file and the problem."""


def fetch_provider_tracks(conversation: Conversation, recording: Recording, work: Path) -> list[RecordingTrack]:
    """Ask the room's call provider for its recordings (once): each becomes a provider track whose file waits
    in `work` as track-<id>.<extension>, for the processing to keep as its original."""
    existing = list(RecordingTrack.select().where((RecordingTrack.recording == recording.id)
                                                  & (RecordingTrack.source == "provider")))
    kept = {output.track_id for output in RecordingOutput.select().where(
        (RecordingOutput.recording == recording.id) & RecordingOutput.track.in_([t.id for t in existing]))}
    if existing and all(track.id in kept for track in existing):
        return existing  # an earlier run kept every original; the processing fetches them
    for track in existing:  # an earlier run died before keeping every file: fetch them all again
        RecordingOutput.delete().where(RecordingOutput.track == track.id).execute()
        track.delete_instance()
    tracks = []
    for index, item in enumerate(_provider_files(conversation)):
        local = work / f"provider-{index}.media"
        _download(item.url, local)
        try:
            probe(local)
        except AudioError as error:
            raise ProviderFileError(f"the call provider's recording {item.url} is not audio ({error}); "
                                    "check the provider's recording settings") from None
        started_at = item.started_at or recording.started_at
        track = RecordingTrack.create(recording=recording.id, user=item.user_id, source="provider",
                                      mime_type=item.content_type or "application/octet-stream",
                                      started_at=started_at,
                                      timeline_seconds=max(0.0, (started_at - recording.started_at).total_seconds()),
                                      provider_ref=item.url[:500])
        local.rename(work / f"track-{track.id}.{_extension(item)}")  # kept as the original by the processing
        tracks.append(track)
    return tracks


def _provider_files(conversation: Conversation) -> list[ProviderRecording]:
    """The provider's recordings of this conversation's room (none when it cannot record)."""
    record = CallRoomRecord.get_or_none(CallRoomRecord.conversation == conversation.id)
    if record is None:
        return []
    provider = platform().providers.get("call_provider", {}).get(record.provider)
    if provider is None or "provider_recording" not in provider.capabilities:
        return []
    try:
        found = provider.fetch_recordings(as_call_room(record))
    except CallProviderError as error:
        raise ProviderFileError(f"the call provider '{record.provider}' could not list its recordings: {error}") \
            from None
    except Exception as error:  # a plugin's bug must not look like a passing network problem
        log.exception("fetch_recordings of call provider %s failed", record.provider)
        raise ProviderFileError(f"the call provider '{record.provider}' failed in fetch_recordings "
                                f"({type(error).__name__}: {error}); its plugin needs a fix") from None
    if not isinstance(found, list) or not all(isinstance(item, ProviderRecording) for item in found):
        raise ProviderFileError(f"the call provider '{record.provider}' returned {type(found).__name__} from "
                                "fetch_recordings; it must return a list of ProviderRecording (docs/call-providers.md)")
    return found


def _download(url: str, target: Path) -> None:
    """Copy the provider's file (http(s) address or local path) to `target`, within the size limit."""
    parts = urllib.parse.urlsplit(url)
    try:
        if parts.scheme in ("http", "https"):
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, target.open("wb") as out:
                _copy_limited(response, out, url)
            return
        path = Path(urllib.parse.unquote(parts.path) if parts.scheme == "file" else url)
        with path.open("rb") as source, target.open("wb") as out:
            _copy_limited(source, out, url)
    except (urllib.error.URLError, OSError) as error:
        raise ProviderFileError(f"the call provider's recording {url} could not be fetched: {error}") from None


def _copy_limited(source: object, out: object, url: str) -> None:
    copied = 0
    while block := source.read(1024 * 1024):  # type: ignore[attr-defined]
        copied += len(block)
        if copied > MAX_DOWNLOAD_BYTES:
            raise ProviderFileError(f"the call provider's recording {url} is larger than 4 GB; it was not taken")
        out.write(block)  # type: ignore[attr-defined]


def _extension(item: ProviderRecording) -> str:
    """A file extension for the original, from the content type or the address."""
    known = {"audio/ogg": "ogg", "audio/webm": "webm", "video/webm": "webm", "audio/mp4": "m4a",
             "video/mp4": "mp4", "audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav"}
    if item.content_type in known:
        return known[item.content_type]
    suffix = Path(urllib.parse.urlsplit(item.url).path).suffix.lstrip(".").lower()
    return suffix if suffix in set(known.values()) | {"opus", "flac", "mkv"} else "media"


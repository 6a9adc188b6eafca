"""From the database to a `PackageInput`: the approved description, the participants as the public may
name them, every consent decision, and local copies of the processed audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.archive.consent import both_agree, history, release_sha256
from core.archive.descriptions import approved_description
from core.archive.types import AudioFile, ConsentRecord, PackageInput, Participant
from core.models import Conversation
from core.models.recording import Recording, RecordingOutput
from core.platform import platform
from core.questionnaire.profiles import profile_for

AUDIO_ROLES = ("master", "flac", "access")
LABELS = ("Participant A", "Participant B")
CHANNELS = ("left", "right")


class NotReadyError(Exception):
    """The conversation cannot be packaged yet; the message says what is missing."""


def identifier_of(conversation: Conversation) -> str:
    """The bag's External-Identifier: the configured prefix and the conversation's unique id."""
    prefix = platform().settings.archive.identifier_prefix
    return f"{prefix}-{conversation.uid.split('@', 1)[0]}"


def participants_of(conversation: Conversation) -> tuple[Participant, ...]:
    """Both participants by label and channel, named only as they chose to be named in public."""
    found = []
    for label, channel, user_id in zip(LABELS, CHANNELS, (conversation.a_id, conversation.b_id), strict=True):
        public = profile_for(user_id, "public")
        shared_name = public.name if public.name and public.name != "A participant" else label
        found.append(Participant(label=label, name=shared_name, channel=channel, bio=public.bio))
    return tuple(found)


def consent_records(conversation: Conversation) -> tuple[ConsentRecord, ...]:
    """Every decision of both participants, oldest first, under their labels."""
    labels = {conversation.a_id: LABELS[0], conversation.b_id: LABELS[1]}
    return tuple(ConsentRecord(participant=labels[row.user_id], deposit=row.deposit, public=row.public,
                               broadcast=row.broadcast, release_version=row.release_version,
                               release_sha256=row.release_sha256, decided_at=row.decided_at)
                 for row in history(conversation) if row.user_id in labels)


def processed_recording(conversation: Conversation) -> Recording:
    """The conversation's processed recording, or NotReadyError."""
    recording = Recording.get_or_none(Recording.conversation == conversation.id)
    if recording is None or recording.status != "processed":
        raise NotReadyError("The recording is not processed yet.")
    return recording


def gather(conversation: Conversation, work: Path) -> PackageInput:
    """Everything the package of `conversation` is made from, with its audio downloaded into `work`."""
    recording = processed_recording(conversation)
    description = approved_description(conversation)
    if description is None:
        raise NotReadyError("Neither participant's description of the conversation is approved yet.")
    outputs = {output.name: output for output in RecordingOutput.select().where(
        (RecordingOutput.recording == recording.id) & RecordingOutput.name.in_(AUDIO_ROLES))}
    missing = [role for role in AUDIO_ROLES if role not in outputs]
    if missing:
        raise NotReadyError(f"The recording has no {', '.join(missing)} file; process it again.")
    work.mkdir(parents=True, exist_ok=True)
    audio = []
    for role in AUDIO_ROLES:
        output = outputs[role]
        local = work / f"{role}{Path(output.blob_key).suffix}"
        platform().blobs.download(output.blob_key, local)
        audio.append(AudioFile(role=role, path=local, content_type=output.content_type, sha256=output.sha256,
                               size=output.size, duration_seconds=output.duration_seconds,
                               channels=output.channels, sample_rate=output.sample_rate))
    settings = platform().settings
    release = settings.archive.release
    source = PackageInput(
        identifier=identifier_of(conversation), conversation_uid=conversation.uid,
        recorded_at=recording.started_at, duration_seconds=outputs["master"].duration_seconds or 0.0,
        description=description, participants=participants_of(conversation),
        consents=consent_records(conversation), release_text=release.text, release_version=release.version,
        audio=tuple(audio), source_organization=settings.archive.source_organization or settings.site.organisation,
        contact_email=settings.archive.contact_email, site_url=settings.site.base_url,
        public=both_agree(conversation, "public"), broadcast=both_agree(conversation, "broadcast"),
        extra={"conversation_id": conversation.id, "release_sha256": release_sha256(release.text),
               **before_archive_metadata(conversation)})
    return source


def before_archive_metadata(conversation: Conversation) -> dict[str, Any]:
    """What `before_archive` hooks add (each returns a dict); a hook that returns something else is named."""
    added: dict[str, Any] = {}
    results = platform().hook.before_archive(package={"conversation_id": conversation.id,
                                                      "identifier": identifier_of(conversation)})
    for result in results:
        if result is None:
            continue
        if not isinstance(result, dict):
            raise TypeError(f"a before_archive hook returned {type(result).__name__}; it must return a dict")
        added.update(result)
    return added

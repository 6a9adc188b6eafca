"""The site's own public archive ("Hear real conversations"): publications and what the public may see.

`publish(package)` puts a deposited conversation's access copy under a random, unguessable slug;
`unpublish` removes it. Every read (`public_conversations`, `public_item`) checks, in the same query,
that both participants' standing decisions still say public and that a description is approved, so a
withdrawal hides the conversation in the very next request even before the Publication row is gone.
Only the names and bios the participants made public leave this module; never an email.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import peewee
from peewee import fn

from core.archive.consent import agreed_conversation_ids
from core.archive.types import ArchivePackage, DepositError
from core.db import database, utcnow
from core.models.archive import DescriptionProposal, Publication
from core.models.recording import Recording, RecordingOutput
from core.models.scheduling import Conversation
from core.platform import platform
from core.questionnaire.profiles import profile_for

ACCESS_OUTPUT = "access"
SLUG_BYTES = 16  # 32 hex characters: 128 random bits, not guessable
ANONYMOUS = "A participant"
SLUG = re.compile(r"[a-z0-9]{1,40}")


class PublicationError(DepositError):
    """The conversation cannot be published (e.g. it has no processed access copy); the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry=False)


@dataclass(frozen=True)
class PublicParticipant:
    """A participant as the public sees them: the name and bio they made public, nothing else."""

    name: str
    bio: str | None


@dataclass(frozen=True)
class PublicConversation:
    """A published conversation as the listening pages and the feed show it."""

    slug: str
    title: str
    summary: str
    keywords: tuple[str, ...]
    places: tuple[str, ...]
    location: str
    duration: float | None               # seconds
    published_at: dt.datetime            # UTC
    participants: tuple[PublicParticipant, ...]
    content_type: str                    # of the access copy
    size: int                            # bytes of the access copy
    sha256: str                          # of the access copy (the audio's ETag)
    blob_key: str                        # where the access copy is in the blob store


def new_slug() -> str:
    """A random slug of 32 lowercase hex characters."""
    return secrets.token_hex(SLUG_BYTES)


def access_copy(conversation_id: int) -> RecordingOutput | None:
    """The conversation's processed listening copy (the RecordingOutput named "access"), or None."""
    return (RecordingOutput.select().join(Recording)
            .where((Recording.conversation == conversation_id) & (Recording.status == "processed")
                   & (RecordingOutput.name == ACCESS_OUTPUT))
            .first())


def publish(package: ArchivePackage) -> Publication:
    """Publish (or update) the package's conversation with its access copy; idempotent.

    The slug made at the first publication is kept on every re-publish; the package's checksum is
    recorded. Raises PublicationError when the conversation has no processed access copy.
    """
    conversation_id = int(package.conversation_id)
    output = access_copy(conversation_id)
    if output is None:
        raise PublicationError(f"Conversation {conversation_id} has no processed access copy to publish; "
                               "process its recording first, then retry the deposit.")
    fields: dict[str, Any] = {"blob_key": output.blob_key, "content_type": output.content_type,
                              "size": output.size, "sha256": output.sha256,
                              "duration_seconds": output.duration_seconds, "package_sha256": package.checksum}
    for _attempt in range(3):
        try:
            with database.atomic():
                publication = Publication.get_or_none(Publication.conversation == conversation_id)
                if publication is None:
                    return Publication.create(conversation=conversation_id, slug=new_slug(),
                                              published_at=utcnow(), **fields)
                for name, value in fields.items():
                    setattr(publication, name, value)
                publication.save()
                return publication
        except peewee.IntegrityError:
            continue  # another worker published it at the same moment: read theirs and update it
    raise PublicationError(f"Conversation {conversation_id} could not be published after three tries; retry.")


def unpublish(conversation_id: int) -> bool:
    """Remove the conversation from the public pages and the feed at once; True if it was published."""
    return Publication.delete().where(Publication.conversation == conversation_id).execute() > 0


def _visible() -> Any:
    """Publications whose conversation both participants still agree to show, with its approved description."""
    newest_approved = (DescriptionProposal.select(fn.MAX(DescriptionProposal.id))
                       .where(DescriptionProposal.status == "approved").group_by(DescriptionProposal.conversation))
    return (Publication.select(Publication, DescriptionProposal, Conversation)
            .join(DescriptionProposal, on=((DescriptionProposal.conversation == Publication.conversation)
                                           & (DescriptionProposal.status == "approved")), attr="described")
            .switch(Publication).join(Conversation, on=(Conversation.id == Publication.conversation), attr="pair")
            .where(Publication.conversation.in_(agreed_conversation_ids("public"))
                   & DescriptionProposal.id.in_(newest_approved)))


def _variants(text: str) -> set[str]:
    """The text, and its form inside a JSON list (where é is stored as \\u00e9)."""
    return {text, json.dumps(text)[1:-1]}


def _any_contains(fields: list[Any], text: str) -> Any:
    """Case-insensitive: any of `fields` contains `text` (LIKE on SQLite, ILIKE on PostgreSQL)."""
    condition = None
    for field in fields:
        for variant in _variants(text):
            match = field.contains(variant)
            condition = match if condition is None else (condition | match)
    return condition


def clean_search(text: str | None, limit: int = 200) -> str:
    """Search text without control characters (NUL breaks PostgreSQL), whitespace collapsed, cut to `limit`."""
    printable = "".join(char if char.isprintable() else " " for char in (text or ""))
    return " ".join(printable.split())[:limit]


def public_conversations(query: str = "", place: str = "", page: int = 1,
                         per_page: int | None = None) -> tuple[list[PublicConversation], int]:
    """One page of the public conversations, newest first, and how many match in all.

    `query`: every word must occur in the title, summary or keywords; `place`: the phrase must occur in
    the places or the location; both case-insensitive. `per_page` defaults to archive.public.per_page.
    """
    per_page = per_page or platform().settings.archive.public.per_page
    page = max(int(page), 1)
    found = _visible()
    for word in clean_search(query).split():
        found = found.where(_any_contains([DescriptionProposal.title, DescriptionProposal.summary,
                                           DescriptionProposal.keywords], word))
    place = clean_search(place)
    if place:
        found = found.where(_any_contains([DescriptionProposal.places, DescriptionProposal.location], place))
    total = found.count()
    rows = found.order_by(Publication.published_at.desc(), Publication.id.desc()).paginate(page, per_page)
    return [_item(row) for row in rows], total


def public_item(slug: str) -> PublicConversation | None:
    """The published conversation under `slug` while it is public and described; else None."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        return None
    row = _visible().where(Publication.slug == slug).first()
    return _item(row) if row is not None else None


def _participant(user_id: int) -> PublicParticipant:
    profile = profile_for(user_id, "public")
    return PublicParticipant(name=profile.name or ANONYMOUS, bio=profile.bio)


def _item(row: Publication) -> PublicConversation:
    description = row.described
    conversation = row.pair
    return PublicConversation(
        slug=row.slug, title=description.title, summary=description.summary,
        keywords=tuple(json.loads(description.keywords or "[]")), places=tuple(json.loads(description.places or "[]")),
        location=description.location, duration=row.duration_seconds, published_at=row.published_at,
        participants=(_participant(conversation.a_id), _participant(conversation.b_id)),
        content_type=row.content_type, size=row.size, sha256=row.sha256, blob_key=row.blob_key)

"""Each participant's choices about a recording: deposit, public, broadcast; the newest decision stands.

A conversation is public only while both chose public, deposited only while both agreed to the
deposit, and usable in broadcasts only while both allowed it. Choices may change until the
deadline (`archive.decision_days` after the conversation); after it, a participant may only
withdraw what they gave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from peewee import fn

from core.db import database, utcnow
from core.models import Conversation
from core.models.archive import ArchiveConsent
from core.models.recording import Recording
from core.platform import platform
from core.scheduling.conversations import ends_at, is_participant

PURPOSES = ("deposit", "public", "broadcast")
PURPOSE_LABELS = {
    "deposit": "Deposit it at the archive",
    "public": "Publish it on this site",
    "broadcast": "Allow its use in broadcasts",
}


class ConsentError(ValueError):
    """A choice that cannot be recorded; the message says why (e.g. the deadline passed)."""


@dataclass(frozen=True)
class Choice:
    """A participant's standing decision."""

    deposit: bool
    public: bool
    broadcast: bool
    release_version: str
    decided_at: dt.datetime

    def allows(self, purpose: str) -> bool:
        """Whether this decision agrees to `purpose` (deposit, public or broadcast)."""
        return bool(getattr(self, purpose))


def release_sha256(text: str) -> str:
    """SHA-256 of the release text, recorded with every decision."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def deadline(conversation: Conversation) -> dt.datetime | None:
    """Until when choices may change: `archive.decision_days` after the conversation's end."""
    end = ends_at(conversation)
    if end is None:
        return None
    return end + dt.timedelta(days=platform().settings.archive.decision_days)


def may_decide(conversation: Conversation) -> bool:
    """A recording was made (and stopped or processed): there is something to decide about."""
    recording = Recording.get_or_none(Recording.conversation == conversation.id)
    return recording is not None and (recording.stopped_at is not None or recording.status != "open")


def choice_of(conversation: Conversation | int, user_id: int) -> Choice | None:
    """The participant's standing decision, or None when they have not decided."""
    conversation_id = getattr(conversation, "id", conversation)
    row = (ArchiveConsent.select()
           .where((ArchiveConsent.conversation == conversation_id) & (ArchiveConsent.user == user_id))
           .order_by(ArchiveConsent.id.desc()).first())
    if row is None:
        return None
    return Choice(row.deposit, row.public, row.broadcast, row.release_version, row.decided_at)


def choices(conversation: Conversation) -> dict[int, Choice | None]:
    """Both participants' standing decisions, by user id."""
    return {user_id: choice_of(conversation, user_id) for user_id in (conversation.a_id, conversation.b_id)}


def both_agree(conversation: Conversation, purpose: str) -> bool:
    """True while both participants' standing decisions agree to `purpose`."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
    standing = choices(conversation).values()
    return all(choice is not None and choice.allows(purpose) for choice in standing)


def agreed_conversation_ids(purpose: str) -> Any:
    """A subquery of the conversation ids both of whose participants' newest decisions agree to `purpose`.

    Used by the public pages, so a withdrawal hides a conversation in the very next request.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    newest = (ArchiveConsent.select(ArchiveConsent.conversation, ArchiveConsent.user,
                                    fn.MAX(ArchiveConsent.id).alias("newest_id"))
              .group_by(ArchiveConsent.conversation, ArchiveConsent.user))
    standing = ArchiveConsent.alias("standing")
    agreeing = (standing.select(standing.conversation)
                .join(newest, on=(standing.id == newest.c.newest_id))
                .where(getattr(standing, purpose) == True)  # noqa: E712  (peewee builds SQL)
                .group_by(standing.conversation)
                .having(fn.COUNT(standing.id) == 2))
    return agreeing


def record_choice(conversation: Conversation, user_id: int, *, deposit: bool, public: bool, broadcast: bool,
                  now: dt.datetime | None = None) -> ArchiveConsent:
    """Record a participant's decision with the release's version and SHA-256; returns the new row.

    Raises ConsentError for someone who is not a participant, before there is a recording, or for
    a change after the deadline that gives more than the standing decision (withdrawing is always
    allowed).
    """
    now = now or utcnow()
    if not is_participant(conversation, user_id):
        raise ConsentError("Only the two participants decide about their conversation's recording.")
    if not may_decide(conversation):
        raise ConsentError("There is no recording of this conversation to decide about.")
    release = platform().settings.archive.release
    with database.atomic():
        standing = choice_of(conversation, user_id)
        closes = deadline(conversation)
        if closes is not None and now > closes:
            given = {purpose for purpose, value in (("deposit", deposit), ("public", public),
                                                    ("broadcast", broadcast)) if value}
            held = {purpose for purpose in PURPOSES if standing is not None and standing.allows(purpose)}
            if given - held:
                raise ConsentError(
                    f"The time to change these choices ended on {closes:%d %B %Y}. You can still withdraw "
                    "what you agreed to; to give more, contact the organisers.")
        return ArchiveConsent.create(conversation=conversation.id, user=user_id, deposit=deposit, public=public,
                                     broadcast=broadcast, release_version=release.version,
                                     release_sha256=release_sha256(release.text), decided_at=now)


def history(conversation: Conversation) -> list[ArchiveConsent]:
    """Every decision about the conversation, oldest first (for the bag's consent record)."""
    return list(ArchiveConsent.select().where(ArchiveConsent.conversation == conversation.id)
                .order_by(ArchiveConsent.decided_at, ArchiveConsent.id))

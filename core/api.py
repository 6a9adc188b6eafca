"""The stable API for plugin authors: import everything you need from here, and only from here.

    from core.api import hookimpl, CallProvider, Section, platform

Names in `__all__` keep working across minor versions; anything else in `core` may change.
"""

from __future__ import annotations

from typing import Any

import pluggy
from markupsafe import Markup, escape
from pydantic import Field

from core.access_policy import (
    ADMIN,
    CONVERSATION_VIEWERS,
    INTERNAL,
    PUBLIC,
    SIGNED_IN,
    STATIC,
    TOKEN,
    Policy,
    related,
    roles,
)
from core.archive.types import ArchivePackage, CheckResult, DepositError, Description, WithdrawalResult
from core.config.errors import ConfigError, ConfigIssue
from core.config.schema import Section
from core.db import BaseModel, UTCDateTimeField, database, utcnow
from core.matching.features import (
    FeatureIndex,
    Features,
    answered_in_common,
    availability_overlap,
    common_tokens,
    commonality,
    political_distance,
    political_side,
    same_life_stage,
    same_place,
    share_language,
)
from core.matching.indexed import IndexedStrategy, join_words
from core.matching.indexed import Labels as MatchingLabels
from core.matching.pairing import pair_by_score
from core.migrate import PluginModels
from core.models import User
from core.platform import platform as current_platform
from core.plugins_loader import StartupError
from core.providers import (
    CALL_CAPABILITIES,
    CALL_ROLES,
    ArchiveDestination,
    CallConversation,
    CallEvent,
    CallParticipant,
    CallProvider,
    CallProviderError,
    CallRoom,
    MatchingStrategy,
    Pairing,
    Provider,
    ProviderRecording,
    QuestionnaireSource,
    Suggestion,
)
from core.questionnaire.answers import field_name
from core.questionnaire.definition import Question, Questionnaire, load_questionnaire
from core.questionnaire.features import MatchingProfile
from core.questionnaire.profiles import (
    complete_participant_ids,
    matching_profiles,
    profile_for,
    profiles_updated_since,
)
from core.questionnaire.sharing import SharedField, SharedProfile
from core.questionnaire.store import (
    StepResult,
    StoredAnswer,
    active_questionnaire,
    current_answers,
    give_consent,
    has_consent,
    read_step,
    save_answers,
    visibility_field,
)
from core.realtime_limits import limit_events as limit_socket_events
from core.views.forms import TextForm

hookimpl = pluggy.HookimplMarker("oss_connect")


def admin_required(view: Any) -> Any:
    """Decorate a view so that only signed-in admins reach it (others get 403; visitors sign in)."""
    from core.views.admin import admin_required as guard

    return guard(view)


def platform() -> Any:
    """The running instance's `Platform` (config, plugin manager, providers, jobs, socketio)."""
    return current_platform()


def plugin_settings(name: str) -> Any:
    """The validated settings of the enabled plugin `name` (an instance of its schema), or None."""
    return platform().config.plugin_settings(name)


def create_user(email: str, password: str | None, *, role: str = "participant", verified: bool = True) -> Any:
    """Create an account (or return the existing one with that address, unchanged)."""
    from core.models import User
    from core.security import hash_password

    existing = User.by_email(email)
    if existing is not None:
        return existing
    return User.create(email=email.strip().lower(), role=role,
                       password_hash=hash_password(password) if password else None,
                       email_verified_at=utcnow() if verified else None)


def cli_app(ctx: Any, config_path: str | None = None) -> Any:
    """In a plugin's click command: the app for --config (or the default), or exit 2 with the reason."""
    from core.cli import app_or_exit

    return app_or_exit(ctx, config_path)


def send_email(to: str, subject: str, template: str, **context: Any) -> str:
    """Render `email/TEMPLATE.txt` and `.html` in the theme and queue them; return the Message-ID."""
    from core.mail import queue_email

    return queue_email(to, subject, template, **context)


def invite_participant(user: Any, note: str = "") -> None:
    """Email an account made on someone's behalf a single-use link to choose a password (14 days)."""
    from core.accounts import send_invitation

    send_invitation(user, note)


def book_conversation(a_id: int, b_id: int, starts_at: Any, source: str = "match") -> Any:
    """Book a conversation of two participants at `starts_at` (aware datetime) without emails; return it.

    For plugins that arrange pairs themselves (a partner event, the demo). The room opens
    `scheduling.early_entry_minutes` before the start.
    """
    from core.scheduling.conversations import create_conversation

    return create_conversation(a_id, b_id, starts_at=starts_at, source=source)


def conversations_of(user_id: int) -> list[Any]:
    """Every conversation of a participant (core's `Conversation`: `id`, `a`, `b`, `status`, `starts_at`,
    `facilitator`), newest first."""
    from core.scheduling.conversations import conversations_of as of

    return of(user_id)


def room_role(user_id: int, conversation_id: int) -> str | None:
    """The role ("participant", "facilitator" or "admin") of a user allowed in a conversation's room right
    now (the booked window included), else None. Authorise every Socket.IO event of a call plugin with it."""
    from core.room.access import room_role as role_now

    return role_now(user_id, conversation_id)


def csrf_exempt(view: Any) -> Any:
    """Exempt a view (or a blueprint) from CSRF checks: only for webhooks that authenticate the sender themselves."""
    from core.security import csrf

    return csrf.exempt(view)


def publish_recording(package: Any) -> Any:
    """Put a deposited package's conversation on the site's public listening pages (idempotent).

    For the site's own archive destination: core serves the access copy under a random address and
    lists the conversation while both participants' public consent stands. Returns the publication.
    """
    from core.archive.publication import publish

    return publish(package)


def published_recording(conversation_id: int) -> Any:
    """The conversation's `Publication` on the public pages (slug, blob_key, size, sha256), or None."""
    from core.models.archive import Publication

    return Publication.get_or_none(Publication.conversation == conversation_id)


def unpublish_recording(conversation_id: int) -> bool:
    """Take a conversation off the public pages and the feed at once; True when it was listed."""
    from core.archive.publication import unpublish

    return unpublish(conversation_id)


def ffmpeg_executable() -> str:
    """The ffmpeg program core uses: the system's when on PATH, else the one bundled with imageio-ffmpeg."""
    from core.recording.audio import ffmpeg_executable as executable

    return executable()


def import_recording(conversation_id: int, tracks: dict[int, Any], *, process: bool = False) -> Any:
    """Take in a recording made outside the room (a field recorder, the demo) as the conversation's own.

    `tracks` maps each participant's user id to an Opus file (Ogg or WebM); the files are kept byte-exact
    as the originals and processed like the browsers' tracks: by the worker, or here and now with
    `process=True`. Returns the `Recording` (`status` "processed" after a processing here). Raises
    ValueError with a sentence for a conversation that already has a recording, a track of someone
    else, or a file that is not Opus audio.
    """
    from core.models import Conversation
    from core.models.recording import Recording
    from core.recording.imports import import_recording as take_in
    from core.recording.processing import PROCESS_RECORDING_JOB, process_recording

    recording = take_in(Conversation.get_by_id(conversation_id), tracks)
    if process:
        process_recording(recording.id)
    else:
        platform().jobs.enqueue(PROCESS_RECORDING_JOB, recording.id)
    return Recording.get_by_id(recording.id)


def record_archive_choice(conversation_id: int, user_id: int, *, deposit: bool, public: bool,
                          broadcast: bool) -> None:
    """Record a participant's archive choices as the choices page does (with the release's version and
    SHA-256, append-only), then bring the deposits and the public listing in line.

    Raises ValueError with a sentence (not a participant, no processed recording yet, giving more
    after the deadline)."""
    from core.archive.consent import record_choice
    from core.archive.deposits import plan
    from core.models import Conversation

    conversation = Conversation.get_by_id(conversation_id)
    record_choice(conversation, user_id, deposit=deposit, public=public, broadcast=broadcast)
    plan(conversation)


def propose_description(conversation_id: int, user_id: int, **fields: Any) -> int:
    """A participant proposes the conversation's description: `title`, `summary`, `keywords` and
    optionally `people`, `places`, `organisations`, `languages` (lists of words) and `location`.
    Returns the proposal's id for the partner to approve. Raises ValueError with a sentence."""
    from core.archive.descriptions import propose
    from core.models import Conversation

    return propose(Conversation.get_by_id(conversation_id), user_id, **fields).id


def approve_description(conversation_id: int, user_id: int, proposal_id: int) -> None:
    """The partner approves a proposed description (it becomes the conversation's), then the deposits
    are brought in line. Raises ValueError with a sentence."""
    from core.archive.deposits import plan
    from core.archive.descriptions import decide
    from core.models import Conversation

    conversation = Conversation.get_by_id(conversation_id)
    decide(conversation, user_id, proposal_id, approve=True)
    plan(conversation)


def notify(user_id: int, event: str, data: dict[str, Any]) -> None:
    """Send a Socket.IO event to every open connection of one user."""
    from core.realtime import notify_user

    notify_user(user_id, event, data)


__all__ = [
    "ADMIN",
    "CALL_CAPABILITIES",
    "CALL_ROLES",
    "CONVERSATION_VIEWERS",
    "INTERNAL",
    "PUBLIC",
    "SIGNED_IN",
    "STATIC",
    "TOKEN",
    "ArchiveDestination",
    "ArchivePackage",
    "BaseModel",
    "CallConversation",
    "CallEvent",
    "CallParticipant",
    "CallProvider",
    "CallProviderError",
    "CallRoom",
    "CheckResult",
    "ConfigError",
    "ConfigIssue",
    "DepositError",
    "Description",
    "FeatureIndex",
    "Features",
    "Field",
    "IndexedStrategy",
    "Markup",
    "MatchingLabels",
    "MatchingProfile",
    "MatchingStrategy",
    "Pairing",
    "PluginModels",
    "Policy",
    "Provider",
    "ProviderRecording",
    "Question",
    "Questionnaire",
    "QuestionnaireSource",
    "Section",
    "SharedField",
    "SharedProfile",
    "StartupError",
    "StepResult",
    "StoredAnswer",
    "Suggestion",
    "TextForm",
    "UTCDateTimeField",
    "User",
    "WithdrawalResult",
    "active_questionnaire",
    "admin_required",
    "answered_in_common",
    "approve_description",
    "availability_overlap",
    "book_conversation",
    "cli_app",
    "common_tokens",
    "commonality",
    "complete_participant_ids",
    "conversations_of",
    "create_user",
    "csrf_exempt",
    "current_answers",
    "database",
    "escape",
    "ffmpeg_executable",
    "field_name",
    "give_consent",
    "has_consent",
    "hookimpl",
    "import_recording",
    "invite_participant",
    "join_words",
    "limit_socket_events",
    "load_questionnaire",
    "matching_profiles",
    "notify",
    "pair_by_score",
    "platform",
    "plugin_settings",
    "political_distance",
    "political_side",
    "profile_for",
    "profiles_updated_since",
    "propose_description",
    "publish_recording",
    "published_recording",
    "read_step",
    "record_archive_choice",
    "related",
    "roles",
    "room_role",
    "same_life_stage",
    "same_place",
    "save_answers",
    "send_email",
    "share_language",
    "unpublish_recording",
    "utcnow",
    "visibility_field",
]

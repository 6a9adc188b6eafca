"""Base classes for the four domain hook points; plugins subclass them (via core.api)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class Provider:
    """Something a plugin provides at a hook point, known by a unique `name`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class QuestionnaireSource(Provider):
    """Yields a versioned questionnaire, or brings in answers collected elsewhere, or both.

    The first enabled source (in config order) whose `questionnaire()` returns one defines the
    questionnaire participants answer; a source that only imports answers returns None.
    """

    def questionnaire(self) -> Any:
        """The current `Questionnaire` (version, sections, questions, roles, default visibility), or None."""
        return None


@dataclass(frozen=True)
class Suggestion:
    """A suggested partner: their user id, the strategy's score, and a reason in plain language.

    The reason may only use answers both participants share with partners.
    """

    user_id: int
    score: float
    reason: str = ""


@dataclass(frozen=True)
class Pairing:
    """Two participants paired by a strategy, with the pair's score."""

    a: int
    b: int
    score: float
    reason: str = ""


class MatchingStrategy(Provider):
    """Suggests partners for one participant and pairs whole cohorts (matching issue).

    Core hands a strategy user ids that already passed every exclusion rule (blocks, earlier
    partners, recent declines, suspended accounts, `filter_match_candidates` vetoes); the strategy
    scores them, typically from feature arrays it keeps per process (`core.api.matching_profiles`).
    """

    def suggest(self, participant: Any, pool: Sequence[int], limit: int) -> list[Suggestion]:
        """The best `limit` of the user ids in `pool` for `participant` (a MatchingProfile), best first."""
        raise NotImplementedError

    def pair(self, cohort: Sequence[int]) -> list[Pairing]:
        """Disjoint pairs of the user ids in `cohort` that maximise the total score."""
        raise NotImplementedError

    def score(self, a: Any, b: Any) -> float | None:
        """The score of two MatchingProfiles as a pair, or None when they may not be matched."""
        raise NotImplementedError


CALL_CAPABILITIES = frozenset({
    "video",               # camera video between the participants
    "audio_only",          # the page can switch to audio only (setAudioOnly in the browser adapter)
    "mute",                # microphone on and off
    "camera_off",          # camera on and off
    "reconnect",           # the adapter restores media by itself after a network blip or a reload
    "facilitator",         # a third person (the facilitator) can join the same call
    "provider_recording",  # the provider records on its side; fetch_recordings hands the files in
    "webhook",             # handle_webhook understands the provider's signed event callbacks
})
"""Every capability a call provider may declare; anything else stops start-up."""

class CallProviderError(Exception):
    """A call provider could not do its part; the message says what is wrong and how to fix it."""


CALL_ROLES = ("participant", "facilitator", "admin")
"""Who joins a call: one of the two participants, the assigned facilitator, or an admin observing."""


@dataclass(frozen=True)
class CallConversation:
    """What a call provider is told about a conversation: when, never who (no names, no emails)."""

    id: int
    uid: str
    starts_at: Any  # datetime, UTC
    ends_at: Any  # datetime, UTC: the end of the booked slot
    recorded_minutes: int


@dataclass(frozen=True)
class CallParticipant:
    """Someone joining a call: their user id and the name they share with partners (never an email)."""

    user_id: int
    display_name: str
    role: str  # one of CALL_ROLES


@dataclass
class CallRoom:
    """A provider's room for one conversation, as stored by core (`data` must be JSON-serialisable)."""

    provider: str
    name: str
    conversation_id: int
    data: dict[str, Any]


@dataclass(frozen=True)
class CallEvent:
    """Something a provider's webhook reported: a status of the room named `room_name`."""

    room_name: str
    status: str  # created | joined | left | ended | recording_ready
    user_id: int | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProviderRecording:
    """A recording made on the provider's side, handed in for the recording pipeline."""

    room_name: str
    user_id: int | None  # whose track, or None for a mixed recording
    url: str  # where core downloads it from (http(s) or file path)
    started_at: Any = None  # datetime, UTC, when known
    content_type: str = ""


class CallProvider(Provider):
    """Audio and video between the browsers of a conversation (the conversation room issue).

    Core keeps everything else of the room on its own Socket.IO channel whatever the provider: the
    guide, the timer, consent to record and the recorder. A provider only moves media.

    Server side: `create_room` once per conversation (core stores the returned `CallRoom` and calls it
    again only if the stored room was ended), `join_payload` for every join, `end_room` when the
    conversation ends. Browser side: `client_scripts()` lists the provider's scripts (served by this
    site, never a CDN); one of them calls `OssCall.register(name, factory)` (docs/call-providers.md).
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()

    def csp_sources(self) -> dict[str, list[str]]:
        """Extra Content-Security-Policy sources the room page needs, e.g. {"connect-src": ["wss://…"]}."""
        return {}

    def client_scripts(self) -> list[str]:
        """Site-relative URLs of the browser scripts the room page loads, in order (called in a request)."""
        return []

    def create_room(self, conversation: CallConversation) -> CallRoom:
        """Create the room for a conversation (idempotent: the same conversation gives the same room)."""
        raise NotImplementedError

    def join_payload(self, room: CallRoom, participant: CallParticipant, role: str) -> dict[str, Any]:
        """What the browser adapter needs to join `room` as `participant` in `role` (JSON-serialisable)."""
        raise NotImplementedError

    def end_room(self, room: CallRoom) -> None:
        """Close the room and disconnect everyone (idempotent: ending an ended room does nothing)."""
        raise NotImplementedError

    def handle_webhook(self, body: bytes, headers: dict[str, str]) -> list[CallEvent]:
        """Verify and parse a provider callback (capability "webhook"); raise ValueError if it is not genuine."""
        raise NotImplementedError

    def fetch_recordings(self, room: CallRoom) -> list[ProviderRecording]:
        """Recordings the provider made of `room` (capability "provider_recording"), else an empty list."""
        return []


class ArchiveDestination(Provider):
    """Deposits archive packages (BagIt bags) somewhere and can withdraw them; docs/archive-destinations.md.

    Core calls these from the deposit job, never in a request, one package at a time per
    destination. Every method must be idempotent: core may call `deposit` again with the same
    package after a crash (kill -9 included), and the destination must end up holding one copy.
    """

    consent: ClassVar[str] = "deposit"
    """Whose agreement a deposit needs: "deposit" (an archive institution) or "public" (the site's own)."""

    @property
    def institution(self) -> str:
        """Who receives the packages, as admins should read it (e.g. "Library of Congress, AFC")."""
        return self.label or self.name

    @property
    def contact(self) -> str:
        """Whom admins write to at the institution (a name, an address); shown to admins only."""
        return ""

    def deposit(self, package: Any) -> dict[str, Any]:
        """Deposit an `ArchivePackage`; return a JSON-ready receipt (where it went, what was written).

        Raise `DepositError` with a sentence saying what is wrong and how to fix it; it is retried
        with back-off unless raised with retry=False.
        """
        raise NotImplementedError

    def withdraw(self, receipt: dict[str, Any]) -> Any:
        """Remove a deposit; return a `WithdrawalResult` (removed=False: tell the institution by hand)."""
        raise NotImplementedError

    def check(self, receipt: dict[str, Any]) -> Any:
        """Verify that a deposit is still there and intact; return a `CheckResult`."""
        raise NotImplementedError


PROVIDER_KINDS: dict[str, tuple[str, type[Provider]]] = {
    "questionnaire_source": ("register_questionnaire_sources", QuestionnaireSource),
    "matching_strategy": ("register_matching_strategies", MatchingStrategy),
    "call_provider": ("register_call_providers", CallProvider),
    "archive_destination": ("register_archive_destinations", ArchiveDestination),
}

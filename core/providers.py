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


class CallProvider(Provider):
    """Creates call rooms and the payload a browser needs to join (conversation room issue)."""

    capabilities: ClassVar[frozenset[str]] = frozenset()

    def create_room(self, conversation: Any) -> Any:
        """Create (or look up) the room for a conversation."""
        raise NotImplementedError

    def join_payload(self, room: Any, participant: Any, role: str) -> dict[str, Any]:
        """What the browser needs to join `room` as `participant` in `role`."""
        raise NotImplementedError

    def end_room(self, room: Any) -> None:
        """Close the room."""
        raise NotImplementedError


class ArchiveDestination(Provider):
    """Deposits archive packages at an institution and can withdraw them (archive issue)."""

    def deposit(self, package: Any) -> Any:
        """Deposit a package; return a receipt."""
        raise NotImplementedError

    def withdraw(self, receipt: Any) -> None:
        """Withdraw a deposit."""
        raise NotImplementedError

    def check(self, receipt: Any) -> Any:
        """Verify a deposit is still intact."""
        raise NotImplementedError


PROVIDER_KINDS: dict[str, tuple[str, type[Provider]]] = {
    "questionnaire_source": ("register_questionnaire_sources", QuestionnaireSource),
    "matching_strategy": ("register_matching_strategies", MatchingStrategy),
    "call_provider": ("register_call_providers", CallProvider),
    "archive_destination": ("register_archive_destinations", ArchiveDestination),
}

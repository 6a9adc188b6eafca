"""Base classes for the four domain hook points; plugins subclass them (via core.api)."""

from __future__ import annotations

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


class MatchingStrategy(Provider):
    """Suggests partners for one participant and pairs whole cohorts (matching issue)."""

    def suggest(self, participant: Any, pool: Any, limit: int) -> list[Any]:
        """The best `limit` candidates from `pool` for `participant`, best first."""
        raise NotImplementedError

    def pair(self, cohort: Any) -> list[tuple[Any, Any]]:
        """Pairs that maximise the total score over `cohort`."""
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

"""Fake providers for the four domain hook points: the smallest objects that honour each contract."""

from __future__ import annotations

from typing import Any

from core.api import (
    ArchiveDestination,
    CallProvider,
    CallRoom,
    MatchingStrategy,
    Pairing,
    Questionnaire,
    QuestionnaireSource,
    Suggestion,
    hookimpl,
)


class FakeQuestionnaireSource(QuestionnaireSource):
    """A fixed questionnaire with one question."""

    name = "fake"
    label = "Fake questionnaire"

    def questionnaire(self) -> Questionnaire:
        """Version 1, one short text question."""
        return Questionnaire.model_validate({"id": "fake", "version": 1, "sections": [
            {"id": "you", "title": "You", "questions": [{"id": "q1", "type": "short_text", "label": "Who are you?"}]}]})


class FakeMatchingStrategy(MatchingStrategy):
    """Suggests the pool in its order and pairs neighbours."""

    name = "fake"

    def suggest(self, participant: Any, pool: Any, limit: int) -> list[Suggestion]:
        """The first `limit` ids of the pool, all with the same score."""
        return [Suggestion(user_id, 1.0, "Suggested by the fake strategy.") for user_id in list(pool)[:limit]]

    def pair(self, cohort: Any) -> list[Pairing]:
        """First with second, third with fourth, ..."""
        members = list(cohort)
        return [Pairing(a, b, 1.0) for a, b in zip(members[::2], members[1::2], strict=False)]

    def score(self, a: Any, b: Any) -> float:
        """Every pair scores the same."""
        return 1.0


class FakeCallProvider(CallProvider):
    """Rooms are names; joining returns them."""

    name = "fake"
    capabilities = frozenset({"mute"})

    def create_room(self, conversation: Any) -> CallRoom:
        """A room named after the conversation."""
        return CallRoom(provider=self.name, name=f"room-{conversation.uid}", conversation_id=conversation.id, data={})

    def join_payload(self, room: Any, participant: Any, role: str) -> dict[str, Any]:
        """What a browser would need."""
        return {"room": room, "participant": participant, "role": role}

    def end_room(self, room: Any) -> None:
        """Nothing to close."""


class FakeArchiveDestination(ArchiveDestination):
    """Keeps deposits in a dict."""

    name = "fake"

    def __init__(self) -> None:
        self.deposits: dict[str, Any] = {}

    def deposit(self, package: Any) -> str:
        """Store the package; the receipt is its key."""
        receipt = f"receipt-{len(self.deposits) + 1}"
        self.deposits[receipt] = package
        return receipt

    def withdraw(self, receipt: Any) -> None:
        """Forget the deposit."""
        self.deposits.pop(receipt, None)

    def check(self, receipt: Any) -> bool:
        """Whether the deposit is still here."""
        return receipt in self.deposits


class FakeProviders:
    """A plugin that registers one fake provider at each of the four domain hook points."""

    @hookimpl
    def register_questionnaire_sources(self) -> list[QuestionnaireSource]:
        """The fake questionnaire."""
        return [FakeQuestionnaireSource()]

    @hookimpl
    def register_matching_strategies(self) -> list[MatchingStrategy]:
        """The fake strategy (a class is instantiated by core)."""
        return [FakeMatchingStrategy]

    @hookimpl
    def register_call_providers(self) -> list[CallProvider]:
        """The fake call provider."""
        return [FakeCallProvider()]

    @hookimpl
    def register_archive_destinations(self) -> list[ArchiveDestination]:
        """The fake destination."""
        return [FakeArchiveDestination()]

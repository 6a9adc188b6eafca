"""Shared by the matching tests: a small real strategy (score by lean distance) and a veto plugin,
plus helpers that make participants with complete profiles."""

from __future__ import annotations

from typing import Any

from core.api import MatchingStrategy, Suggestion, hookimpl, matching_profiles
from tests.profiles import complete_profile

PASSWORD = "correct horse battery"


class LeanStrategy(MatchingStrategy):
    """Prefers the most different lean; the reason names interests both share with partners."""

    name = "lean"

    def score(self, a: Any, b: Any) -> float | None:
        """Distance of the two leans (0..1); None when either has no lean."""
        if a.lean is None or b.lean is None:
            return None
        return abs(a.lean - b.lean)

    def reason(self, a: Any, b: Any) -> str:
        """Built only from answers both share with partners."""
        if "interests" not in a.shared or "interests" not in b.shared:
            return "You see politics differently."
        common = sorted(token.split(":", 1)[1] for token in a.interests & b.interests)
        return f"You see politics differently and both enjoy {', '.join(common)}." if common else \
            "You see politics differently."

    def suggest(self, participant: Any, pool: Any, limit: int) -> list[Suggestion]:
        """The pool by descending score."""
        profiles = matching_profiles(pool)
        scored = [(self.score(participant, profiles[user_id]), user_id) for user_id in pool if user_id in profiles]
        ranked = sorted(((score, user_id) for score, user_id in scored if score is not None),
                        key=lambda item: (-item[0], item[1]))
        return [Suggestion(user_id, score, self.reason(participant, profiles[user_id]))
                for score, user_id in ranked[:limit]]

    def pair(self, cohort: Any) -> list[Any]:
        """Not used by these tests."""
        return []


class LeanPlugin:
    """Registers LeanStrategy."""

    @hookimpl
    def register_matching_strategies(self) -> list[MatchingStrategy]:
        """One strategy."""
        return [LeanStrategy()]


class VetoPlugin:
    """Vetoes whichever ids are in `vetoed` (tests fill it)."""

    def __init__(self) -> None:
        self.vetoed: set[int] = set()
        self.calls: list[tuple[int, list[int]]] = []

    @hookimpl
    def filter_match_candidates(self, participant: Any, candidates: Any) -> list[int]:
        """The vetoed ids among the candidates."""
        self.calls.append((participant.id, list(candidates)))
        return [user_id for user_id in candidates if user_id in self.vetoed]


MATCHING_SETTINGS: dict[str, Any] = {"plugins": {"questionnaire_yaml": None}, "matching": {"strategy": "lean"}}
LEAN_ANSWERS = {"left": "1", "centre_left": "2", "centre": "4", "right": "6", "far_right": "7"}


def participant(app: Any, make_user: Any, email: str, lean: str = "4", **overrides: Any) -> Any:
    """A verified participant with a complete profile (lean 1..7)."""
    user = make_user(email)
    complete_profile(app, user, lean=lean, **overrides)
    return user

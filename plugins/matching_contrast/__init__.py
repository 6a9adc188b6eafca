"""matching_contrast: the "contrast" strategy, maximum disagreement on the issue answers (My Country Talks).

Pairs people whose answers to the issue questions differ most, among those with a language in
common and (optionally) in the same region or country. It shows that the matching hook point takes
any strategy; select it in the config. Every option: docs/matching-strategies.md.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from core.api import (
    Field,
    IndexedStrategy,
    MatchingLabels,
    MatchingProfile,
    Section,
    answered_in_common,
    availability_overlap,
    hookimpl,
    join_words,
    political_distance,
    same_place,
    share_language,
)


class ContrastSettings(Section):
    """Settings under `plugins: matching_contrast:`."""

    min_disagreement: float = Field(0.3, ge=0, le=1, description="Mean disagreement on the issues (0..1) "
                                                                 "below which two people are not paired.")
    min_issues: int = Field(2, ge=1, le=100, description="Issue questions both must have answered.")
    within: Literal["anywhere", "country", "region"] = Field("anywhere", description="Only pair people "
                                                                                     "this close.")
    require_availability_overlap: bool = Field(True, description="Only pair people with free time in common.")


class ContrastStrategy(IndexedStrategy):
    """The pairs that disagree most on the issues."""

    name = "contrast"
    label = "Contrast: most disagreement on the issues"
    settings_name = "matching_contrast"
    settings_model = ContrastSettings

    def score_block(self, query: Any, candidates: Any) -> np.ndarray:
        """Mean disagreement 0..1 over the issues both answered, -inf where refused."""
        settings = self.settings
        disagreement = political_distance(query, candidates, lean_weight=0.0)
        with np.errstate(invalid="ignore"):
            refused = ~(disagreement >= settings.min_disagreement)
        refused |= answered_in_common(query, candidates) < settings.min_issues
        refused |= ~share_language(query, candidates)
        if settings.require_availability_overlap:
            refused |= availability_overlap(query, candidates) == 0
        if settings.within != "anywhere":
            refused |= ~same_place(query, candidates, settings.within)
        score = np.nan_to_num(disagreement).astype(np.float32)
        score[refused] = -np.inf
        return score

    def reason(self, a: MatchingProfile, b: MatchingProfile, labels: MatchingLabels) -> str:
        """The issues they disagree on, named only when both share their answers to them."""
        both = a.shared & b.shared
        differ = [issue for issue in sorted(set(a.issues) & set(b.issues))
                  if issue in both and abs(a.issues[issue] - b.issues[issue]) >= 0.5]
        if not differ:
            return "A suggested partner for a conversation."
        named = [f"“{labels.questions.get(issue, issue.replace('_', ' ')).rstrip('.?!')}”" for issue in differ[:2]]
        return f"You answered differently on {join_words(named)}."


@hookimpl
def register_config_schema() -> type[ContrastSettings]:
    """matching_contrast's settings."""
    return ContrastSettings


@hookimpl
def register_matching_strategies() -> list[Any]:
    """The "contrast" strategy (one per process: it keeps its feature index)."""
    return [ContrastStrategy()]

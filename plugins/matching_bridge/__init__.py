"""matching_bridge: the default matching strategy, "bridge".

It pairs people who see politics differently (lean and issue answers at least `min_distance` apart,
the more so up to `preferred_distance`; same-side pairs only when allowed) and who have something in
common (interests, values, life stage), with a language in common, free time that overlaps across
time zones and, on a local instance, the same region or country. Every option: docs/matching-strategies.md.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import model_validator

from core.api import (
    Field,
    IndexedStrategy,
    MatchingLabels,
    MatchingProfile,
    Section,
    availability_overlap,
    commonality,
    hookimpl,
    join_words,
    political_distance,
    political_side,
    same_life_stage,
    same_place,
    share_language,
)


class BridgeWeights(Section):
    """How much each part of the score counts (relative to each other)."""

    difference: float = Field(3.0, ge=0, le=100, description="Seeing politics differently.")
    commonality: float = Field(2.0, ge=0, le=100, description="Interests and values in common.")
    life_stage: float = Field(0.5, ge=0, le=100, description="The same life stage (age range).")
    availability: float = Field(1.0, ge=0, le=100, description="Free hours that overlap.")
    proximity: float = Field(1.0, ge=0, le=100, description="Living in the same place (local instances only).")


class LocalSettings(Section):
    """Proximity, for instances that serve one place."""

    enabled: bool = Field(False, description="Reward (or require) living in the same region or country.")
    scope: Literal["region", "country"] = Field("region", description="What counts as the same place.")
    required: bool = Field(False, description="Only suggest people in the same place.")


class BridgeSettings(Section):
    """Settings under `plugins: matching_bridge:`."""

    weights: BridgeWeights = Field(default_factory=BridgeWeights, description="How much each part of the "
                                                                                "score counts.")
    min_distance: float = Field(0.25, ge=0, le=1, description="Political distance (0..1) below which "
                                                              "two people are not suggested to each other.")
    preferred_distance: float = Field(0.6, gt=0, le=1, description="Distance from which the difference "
                                                                   "part of the score is full.")
    lean_weight: float = Field(2.0, ge=0, le=100, description="Weight of the left-right answer against "
                                                              "each issue answer in the distance.")
    allow_same_side: bool = Field(False, description="Also pair two people on the same side of the centre.")
    centre: float = Field(0.1, ge=0, le=0.5, description="Leans within this of the middle count as "
                                                         "the centre, which is on neither side.")
    require_availability_overlap: bool = Field(True, description="Only suggest people with free time "
                                                                 "in common.")
    availability_hours: int = Field(3, ge=1, le=168, description="Hours of overlap that count as full.")
    local: LocalSettings = Field(default_factory=LocalSettings, description="Proximity, for instances that "
                                                                            "serve one place.")

    @model_validator(mode="after")
    def _distances_in_order(self) -> BridgeSettings:
        if self.preferred_distance < self.min_distance:
            raise ValueError(f"preferred_distance ({self.preferred_distance}) is below min_distance "
                             f"({self.min_distance}); make preferred_distance at least min_distance")
        if not any(self.weights.model_dump().values()):
            raise ValueError("every weight is 0; give at least one weight a value above 0")
        return self


class BridgeStrategy(IndexedStrategy):
    """Different politics, common ground: the bundled default strategy."""

    name = "bridge"
    label = "Bridge: different views, common ground"
    settings_name = "matching_bridge"
    settings_model = BridgeSettings

    def score_block(self, query: Any, candidates: Any) -> np.ndarray:
        """Weighted score 0..1 of each pair, -inf where refused."""
        settings, weights = self.settings, self.settings.weights
        distance = political_distance(query, candidates, settings.lean_weight)
        with np.errstate(invalid="ignore"):
            refused = ~(distance >= settings.min_distance)  # NaN (nothing political in common) too
        refused |= ~share_language(query, candidates)
        if not settings.allow_same_side:
            mine, theirs = political_side(query.lean, settings.centre), political_side(candidates.lean, settings.centre)
            refused |= (mine[:, None] * theirs[None, :]) > 0
        overlap = availability_overlap(query, candidates)
        if settings.require_availability_overlap:
            refused |= overlap == 0
        total = weights.difference * np.minimum(np.nan_to_num(distance) / settings.preferred_distance, 1)
        total += weights.commonality * commonality(query, candidates)
        total += weights.life_stage * same_life_stage(query, candidates)
        total += weights.availability * np.minimum(overlap / settings.availability_hours, 1)
        weight_sum = weights.difference + weights.commonality + weights.life_stage + weights.availability
        if settings.local.enabled:
            near = same_place(query, candidates, settings.local.scope)
            total += weights.proximity * near
            weight_sum += weights.proximity
            if settings.local.required:
                refused |= ~near
        total /= weight_sum
        total[refused] = -np.inf
        return total

    def sides(self, features: Any) -> np.ndarray | None:
        """Left and right of the centre, when same-side pairs are refused."""
        return None if self.settings.allow_same_side else political_side(features.lean, self.settings.centre)

    def reason(self, a: MatchingProfile, b: MatchingProfile, labels: MatchingLabels) -> str:
        """What they have in common and that they differ, only from answers both share with partners."""
        both = a.shared & b.shared
        parts = []
        likes = _common_choices(a.interests & b.interests, both, labels)
        if likes:
            parts.append(f"you both like {join_words(likes)}")
        values = _common_choices(a.values & b.values, both, labels)
        if values:
            parts.append(f"you both value {join_words(values)}")
        if a.life_stage and a.life_stage == b.life_stage and any(q in both for q in labels.with_role("life_stage")):
            parts.append(f"you are both {labels.choice(labels.with_role('life_stage')[0], a.life_stage)}")
        if (a.region and b.region and a.country == b.country and a.region.casefold() == b.region.casefold()
                and any(q in both for q in labels.with_role("location"))):
            parts.append(f"you both live in {b.region}")
        if any(q in both for q in labels.with_role("political_lean")):
            parts.append("you see politics differently")
        if not parts:
            return "A suggested partner for a conversation."
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."


def _common_choices(tokens: frozenset[str], shared: frozenset[str], labels: MatchingLabels, most: int = 3) -> list[str]:
    """Labels (lower case) of common choices whose question both share, at most `most`."""
    found = []
    for token in sorted(tokens):
        question, _, value = token.partition(":")
        if question in shared:
            found.append(labels.choice(question, value).lower())
    return found[:most]


@hookimpl
def register_config_schema() -> type[BridgeSettings]:
    """matching_bridge's settings."""
    return BridgeSettings


@hookimpl
def register_matching_strategies() -> list[Any]:
    """The "bridge" strategy (one per process: it keeps its feature index)."""
    return [BridgeStrategy()]

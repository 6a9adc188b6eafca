"""Matching benchmark: suggestion latency at 10k and 100k participants, and cohort pairing quality and time.

Run from the repository root: `python bench/matching.py`. Progress goes to stderr; the last line of
stdout is a JSON object with suggest_p95_ms_10k, suggest_p95_ms_100k, suggest_ratio, pair_quality
and pair_seconds_10k (targets: <= 20 ms at 100k, ratio <= 2, quality >= 0.99, <= 10 s).
The pools are synthetic but shaped like real ones: a skewed political distribution, issue answers
that follow the lean, regions of unequal size, popular and rare interests, four time zones.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.api import FeatureIndex, MatchingProfile
from core.questionnaire.features import availability_hours_utc
from plugins.matching_bridge import BridgeSettings, BridgeStrategy

SEED = 20261124
ISSUES = ["issue_guns", "issue_immigration", "issue_climate", "issue_abortion", "issue_economy"]
INTERESTS = ["outdoors", "gardening", "cooking", "sports", "music", "reading", "faith", "volunteering",
             "family", "travel", "crafts", "games"]
VALUES = ["family", "fairness", "freedom", "community", "faith", "honesty", "hard_work", "compassion"]
AGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]
ZONES = {"America/New_York": 0.47, "America/Chicago": 0.29, "America/Denver": 0.07, "America/Los_Angeles": 0.17}
SLOTS = [f"{day}-{part}" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
         for part in ("morning", "afternoon", "evening", "night")]
REGIONS = 50
SUGGEST_CALLS = 200
LIMIT = 10


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def synthetic_profiles(count: int, rng: np.random.Generator) -> list[MatchingProfile]:
    """`count` participants: skewed lean (more on the left, as volunteers for such programs are), issue
    answers correlated with it, Zipf-sized regions, popularity-weighted interests, four time zones."""
    zone_names = list(ZONES)
    slot_hours = {(zone, slot): availability_hours_utc([slot], zone, week_of=None)
                  for zone in zone_names for slot in SLOTS}
    slot_weights = np.array([3.0 if part in ("evening",) else 2.0 if day in ("sat", "sun") else 1.0
                             for day, part in (slot.split("-") for slot in SLOTS)])
    slot_weights /= slot_weights.sum()
    interest_weights = 1 / np.arange(1, len(INTERESTS) + 1) ** 0.7
    interest_weights /= interest_weights.sum()
    region_weights = 1 / np.arange(1, REGIONS + 1)
    region_weights /= region_weights.sum()
    left = rng.random(count) < 0.62
    lean = np.where(left, rng.beta(2, 5, count), rng.beta(5, 2.5, count))
    zones = rng.choice(len(zone_names), count, p=list(ZONES.values()))
    regions = rng.choice(REGIONS, count, p=region_weights)
    profiles = []
    for i in range(count):
        issues = {issue: float(np.clip(np.round((1 - lean[i] + rng.normal(0, 0.2)) * 4) / 4, 0, 1))
                  for issue in ISSUES if rng.random() < 0.9}
        interests = rng.choice(len(INTERESTS), rng.integers(1, 7), replace=False, p=interest_weights)
        values = rng.choice(len(VALUES), rng.integers(1, 4), replace=False)
        languages = {"en"} if rng.random() < 0.9 else {"es"}
        if rng.random() < 0.12:
            languages |= {"es", "en"}
        slots = rng.choice(len(SLOTS), rng.integers(2, 9), replace=False, p=slot_weights)
        zone = zone_names[zones[i]]
        hours = frozenset().union(*(slot_hours[zone, SLOTS[s]] for s in slots))
        profiles.append(MatchingProfile(
            user_id=i + 1, lean=round(float(lean[i]) * 6) / 6, issues=issues, importance=float(rng.random()),
            interests=frozenset(f"interests:{INTERESTS[k]}" for k in interests),
            values=frozenset(f"values:{VALUES[k]}" for k in values), life_stage=AGES[rng.integers(len(AGES))],
            country="US", region=f"Region {regions[i]}", languages=frozenset(languages),
            availability_utc=hours, time_zone=zone,
            shared=frozenset({"interests", "values", "age_range", "lean", "location"})))
    return profiles


def bare_scoring(index: FeatureIndex, participant: MatchingProfile, settings: BridgeSettings) -> np.ndarray:
    """The bridge formula over the whole feature matrix in plain numpy: no pool, filters, ranking or reasons."""
    query = index.encode(participant)
    features = index.features()
    weights = np.ones(features.politics.shape[1], np.float32)
    weights[0] = settings.lean_weight
    mine = query.answered[0] * weights
    both = features.answered * mine
    distance = (np.abs(features.politics - query.politics[0]) * both).sum(1) / np.maximum(both.sum(1), 1e-9)
    common = features.tokens @ query.tokens[0] / np.maximum(np.minimum(features.token_count, query.token_count[0]), 1)
    overlap = np.bitwise_count(features.availability & query.availability[0]).sum(1)
    w = settings.weights
    return (w.difference * np.minimum(distance / settings.preferred_distance, 1) + w.commonality * common
            + w.life_stage * (features.life_stage == query.life_stage[0])
            + w.availability * np.minimum(overlap / settings.availability_hours, 1))


def p95_ms(samples: list[float]) -> float:
    """95th percentile of durations in seconds, in milliseconds."""
    return round(float(np.percentile(samples, 95)) * 1000, 3)


def time_suggest(strategy: BridgeStrategy, profiles: list[MatchingProfile], rng: np.random.Generator) -> float:
    """p95 of one participant's suggestions over the whole pool (a list of ids, as core passes it)."""
    pool = [profile.user_id for profile in profiles]
    picks = rng.choice(len(profiles), SUGGEST_CALLS + 10, replace=False)
    samples = []
    for n, pick in enumerate(picks):
        start = time.perf_counter()
        strategy.suggest(profiles[pick], pool, LIMIT)
        if n >= 10:  # the first calls warm caches
            samples.append(time.perf_counter() - start)
    return p95_ms(samples)


def time_bare(index: FeatureIndex, profiles: list[MatchingProfile], settings: BridgeSettings,
              rng: np.random.Generator) -> float:
    """p95 of the bare numpy scoring for as many participants."""
    samples = []
    for n, pick in enumerate(rng.choice(len(profiles), SUGGEST_CALLS + 10, replace=False)):
        start = time.perf_counter()
        bare_scoring(index, profiles[pick], settings)
        if n >= 10:
            samples.append(time.perf_counter() - start)
    return p95_ms(samples)


def oracle_total(scores: np.ndarray) -> float:
    """The exact maximum total score (networkx's blossom algorithm)."""
    import networkx as nx

    graph = nx.Graph()
    rows, columns = np.nonzero(np.triu(np.isfinite(scores) & (scores > 0), 1))
    graph.add_weighted_edges_from((int(i), int(j), float(scores[i, j])) for i, j in zip(rows, columns, strict=True))
    return sum(float(scores[i, j]) for i, j in nx.max_weight_matching(graph))


def pair_quality(index: FeatureIndex, profiles: list[MatchingProfile], rng: np.random.Generator) -> dict:
    """The lowest ratio of cohort pairing's total to the optimum, over cohorts of 300 under two configs."""
    results = {}
    for label, settings in (("default", BridgeSettings()), ("same_side_allowed", BridgeSettings(allow_same_side=True))):
        strategy = BridgeStrategy(settings=settings, index=index)
        ratios = []
        for _ in range(4):
            ids = [profiles[i].user_id for i in rng.choice(len(profiles), 300, replace=False)]
            pairs = strategy.pair(ids)
            scores = strategy.score_matrix(index, index.rows_for(ids))
            optimum = oracle_total(scores.astype(np.float64))
            ratios.append(sum(p.score for p in pairs) / optimum if optimum else 1.0)
        log(f"pair quality ({label}): {', '.join(f'{r:.5f}' for r in ratios)}")
        results[label] = min(ratios)
    return results


def main() -> None:
    """Run every measurement and print the JSON summary last."""
    rng = np.random.default_rng(SEED)
    log("generating 100,000 synthetic participants ...")
    profiles = synthetic_profiles(100_000, rng)
    settings = BridgeSettings()
    summary: dict[str, float] = {}
    for size, key in ((10_000, "10k"), (100_000, "100k")):
        start = time.perf_counter()
        index = FeatureIndex(capacity=size)
        index.upsert(profiles[:size])
        summary[f"index_build_seconds_{key}"] = round(time.perf_counter() - start, 3)
        strategy = BridgeStrategy(settings=settings, index=index)
        summary[f"suggest_p95_ms_{key}"] = time_suggest(strategy, profiles[:size], rng)
        log(f"suggest p95 at {key}: {summary[f'suggest_p95_ms_{key}']} ms")
        if size == 100_000:
            summary["bare_scoring_p95_ms_100k"] = time_bare(index, profiles, settings, rng)
            summary["suggest_ratio"] = round(summary["suggest_p95_ms_100k"] / summary["bare_scoring_p95_ms_100k"], 3)
            log(f"bare numpy scoring p95 at 100k: {summary['bare_scoring_p95_ms_100k']} ms")
    small = FeatureIndex(capacity=10_000)
    small.upsert(profiles[:10_000])
    qualities = pair_quality(small, profiles[:10_000], rng)
    summary["pair_quality"] = round(min(qualities.values()), 5)
    summary.update({f"pair_quality_{label}": round(value, 5) for label, value in qualities.items()})
    for label, pairing_settings in (("", settings), ("_same_side_allowed", BridgeSettings(allow_same_side=True))):
        strategy = BridgeStrategy(settings=pairing_settings, index=small)
        start = time.perf_counter()
        pairs = strategy.pair([profile.user_id for profile in profiles[:10_000]])
        summary[f"pair_seconds_10k{label}"] = round(time.perf_counter() - start, 3)
        summary[f"pairs_made_10k{label}"] = len(pairs)
        log(f"pairing a cohort of 10,000{label.replace('_', ' ')}: {summary[f'pair_seconds_10k{label}']} s, "
            f"{len(pairs)} pairs")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

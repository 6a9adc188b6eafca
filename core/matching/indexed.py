"""IndexedStrategy: a MatchingStrategy base that keeps a FeatureIndex per process and scores in numpy.

A subclass says how a block of participants scores against candidates (`score_block`, -inf where a
pair is refused) and how to explain a pair (`reason`); suggesting, scoring one pair and cohort
pairing are done here. The index is refreshed lazily: the first call loads every complete
participant, later calls apply only the profiles changed since (so changes made in another process
are seen too).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from flask import current_app, has_app_context

from core.matching.features import FeatureIndex, Features
from core.matching.pairing import pair_by_score
from core.providers import MatchingStrategy, Pairing, Suggestion
from core.questionnaire.features import MatchingProfile

REFRESH_OVERLAP = dt.timedelta(seconds=5)
"""Changes are re-read this far back, so a profile committed just after a refresh is not missed."""

BLOCK_ROWS = 128
TILE = 256


@dataclass
class Labels:
    """Question and choice labels of the active questionnaire, for reasons shown to people."""

    questions: dict[str, str] = field(default_factory=dict)
    choices: dict[tuple[str, str], str] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)

    def choice(self, question_id: str, value: str) -> str:
        """The label of a choice (the value in plain words when unknown)."""
        return self.choices.get((question_id, value), value.replace("_", " "))

    def with_role(self, role: str) -> list[str]:
        """Ids of the questions with this matching role."""
        return self.roles.get(role, [])


def active_labels() -> Labels:
    """Labels of the active questionnaire; empty outside an app or without a questionnaire."""
    if not has_app_context():
        return Labels()
    from core.questionnaire.store import active_questionnaire

    questionnaire = active_questionnaire()
    labels = Labels()
    if questionnaire is None:
        return labels
    for question in questionnaire.questions():
        labels.questions[question.id] = question.label
        for choice in question.choices:
            labels.choices[question.id, choice.value] = choice.label
        if question.role:
            labels.roles.setdefault(question.role, []).append(question.id)
    return labels


def join_words(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class LiveIndex:
    """A FeatureIndex kept in step with the database's complete profiles."""

    def __init__(self) -> None:
        self.index = FeatureIndex()
        self.refreshed_at: dt.datetime | None = None
        self._questionnaire: tuple[str, int] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> FeatureIndex:
        """Load everything on first use (or when the questionnaire changed), else only changed profiles."""
        from core.db import utcnow
        from core.questionnaire.profiles import complete_participant_ids, matching_profiles, profiles_updated_since
        from core.questionnaire.store import active_questionnaire

        with self._lock:
            questionnaire = active_questionnaire()
            key = (questionnaire.id, questionnaire.version) if questionnaire is not None else None
            if key != self._questionnaire or self.refreshed_at is None:
                now = utcnow()
                index = FeatureIndex()
                index.upsert(matching_profiles(complete_participant_ids()).values())
                self.index, self.refreshed_at, self._questionnaire = index, now, key
                return self.index
            changed, now = profiles_updated_since(self.refreshed_at - REFRESH_OVERLAP)
            if changed:
                complete = set(complete_participant_ids())
                self.index.remove([user_id for user_id in changed if user_id not in complete])
                self.index.upsert(matching_profiles([user_id for user_id in changed if user_id in complete]).values())
            self.refreshed_at = now
            return self.index


class IndexedStrategy(MatchingStrategy):
    """Suggest, score and pair from a per-process FeatureIndex; subclasses define scoring and reasons."""

    settings_name: ClassVar[str] = ""
    settings_model: ClassVar[type] = dict

    def __init__(self, settings: Any = None, index: FeatureIndex | None = None) -> None:
        self._settings = settings
        self._fixed_index = index
        self._live = LiveIndex() if index is None else None
        self._lock = threading.RLock()  # one call at a time: a refresh changes the arrays in place

    # --- what subclasses define ------------------------------------------------------------

    def score_block(self, query: Features, candidates: Features) -> np.ndarray:
        """Scores (queries, candidates), higher is better, -inf where the pair may not be matched."""
        raise NotImplementedError

    def reason(self, a: MatchingProfile, b: MatchingProfile, labels: Labels) -> str:
        """Why `b` is suggested to `a`, in plain words, from answers both share with partners only."""
        raise NotImplementedError

    def sides(self, features: Features) -> np.ndarray | None:
        """A side label per row when the strategy only pairs across two sides, else None."""
        return None

    # --- the shared machinery --------------------------------------------------------------

    @property
    def settings(self) -> Any:
        """The settings given, or the enabled plugin's, or the defaults."""
        if self._settings is not None:
            return self._settings
        if has_app_context():
            found = current_app.extensions["oss_connect"].config.plugin_settings(self.settings_name)
            if found is not None:
                return found
        return self.settings_model()

    def fresh_index(self) -> FeatureIndex:
        """The index, brought up to date with the database first when it is a live one."""
        if self._live is None:
            return self._fixed_index
        return self._live.refresh()

    def suggest(self, participant: Any, pool: Sequence[int], limit: int) -> list[Suggestion]:
        """The best `limit` of `pool` for `participant`, best first, each with a reason."""
        with self._lock:
            return self._suggest(participant, pool, limit)

    def _suggest(self, participant: Any, pool: Sequence[int], limit: int) -> list[Suggestion]:
        index = self.fresh_index()
        chosen = np.zeros(index.size, dtype=bool)
        chosen[index.rows_for(pool)] = True  # also drops repeated ids
        own = index.row_of(participant.user_id)
        if own >= 0:
            chosen[own] = False
        rows = np.flatnonzero(chosen)
        if not len(rows) or limit <= 0:
            return []
        query = index.encode(participant)
        if len(rows) * 4 >= index.size:  # most of the index: score it in place, no copies
            scores = self.score_block(query, index.features())[0][rows]
        else:
            scores = self.score_block(query, index.features(rows))[0]
        allowed = np.flatnonzero(np.isfinite(scores))
        if not len(allowed):
            return []
        if len(allowed) > limit:
            allowed = allowed[np.argpartition(-scores[allowed], limit - 1)[:limit]]
        ids = index.user_ids[rows[allowed]]
        order = np.lexsort((ids, -scores[allowed]))
        labels = active_labels()
        return [Suggestion(int(ids[i]), round(float(scores[allowed[i]]), 6),
                           self.reason(participant, index.profiles[int(ids[i])], labels)) for i in order]

    def score(self, a: Any, b: Any) -> float | None:
        """The score of two MatchingProfiles as a pair, or None when they may not be matched."""
        index = FeatureIndex(capacity=2)
        index.upsert([a, b])  # the layout (issues, interests, languages) of both
        value = float(self.score_block(index.encode(a), index.encode(b))[0, 0])
        return round(value, 6) if np.isfinite(value) else None

    def score_matrix(self, index: FeatureIndex, rows: np.ndarray) -> np.ndarray:
        """Scores of every pair of these rows (-inf where refused), computed in blocks of the upper triangle."""
        count = len(rows)
        scores = np.empty((count, count), dtype=np.float32)
        for start in range(0, count, BLOCK_ROWS):
            block = rows[start:start + BLOCK_ROWS]
            scores[start:start + len(block), start:] = self.score_block(index.features(block),
                                                                        index.features(rows[start:]))
        for top in range(0, count, TILE):  # mirror the upper triangle, tile by tile (cache-friendly)
            square = scores[top:top + TILE, top:top + TILE]
            square[...] = np.where(np.tri(len(square), dtype=bool, k=-1), square.T, square)
            for left in range(top + TILE, count, TILE):
                scores[left:left + TILE, top:top + TILE] = scores[top:top + TILE, left:left + TILE].T
        np.fill_diagonal(scores, -np.inf)
        return scores

    def pair(self, cohort: Sequence[int]) -> list[Pairing]:
        """Disjoint pairs of `cohort` maximising the total score, each with a reason."""
        with self._lock:
            return self._pair(cohort)

    def _pair(self, cohort: Sequence[int]) -> list[Pairing]:
        index = self.fresh_index()
        rows = index.rows_for(list(dict.fromkeys(int(user_id) for user_id in cohort)))
        if len(rows) < 2:
            return []
        scores = self.score_matrix(index, rows)
        pairs = pair_by_score(scores, self.sides(index.features(rows)), overwrite=True)
        labels = active_labels()
        result = []
        for i, j in pairs:
            a, b = index.profiles[int(index.user_ids[rows[i]])], index.profiles[int(index.user_ids[rows[j]])]
            result.append(Pairing(a.user_id, b.user_id, round(float(scores[i, j]), 6), self.reason(a, b, labels)))
        return sorted(result, key=lambda pairing: -pairing.score)

"""FeatureIndex: participants' MatchingProfiles as numpy arrays kept per process, for vectorised scoring.

Strategies keep one index each, fill it from `matching_profiles` and update rows when profiles change.
Every comparison takes "query" rows (one participant, or a block of a cohort) against candidate rows
and returns a (queries, candidates) array, so suggesting and cohort pairing share one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.questionnaire.features import HOURS_PER_WEEK, MatchingProfile

LEAN = "__lean__"
"""The political dimension of the political_lean answer (the others are issue question ids)."""

AVAILABILITY_WORDS = (HOURS_PER_WEEK + 63) // 64


@dataclass(frozen=True)
class Features:
    """Feature arrays of some participants (rows of an index, or encoded profiles), aligned row by row."""

    politics: np.ndarray      # (n, k) float32 positions 0..1, 0 where unanswered
    answered: np.ndarray      # (n, k) float32 1 where the dimension is answered
    tokens: np.ndarray        # (n, v) float32 1 per interest/value token ("question_id:value")
    token_count: np.ndarray   # (n,) float32
    languages: np.ndarray     # (n, l) float32 1 per language spoken
    availability: np.ndarray  # (n, 3) uint64 bitmask of UTC hours of the week
    life_stage: np.ndarray    # (n,) int32 code, -1 unknown
    country: np.ndarray       # (n,) int32 code, -1 unknown
    region: np.ndarray        # (n,) int32 code of (country, region), -1 unknown
    complete: np.ndarray | None = None  # (k,) bool: every row answered the dimension (None: unknown)

    @property
    def lean(self) -> np.ndarray:
        """Political lean 0..1 (NaN when unanswered)."""
        return np.where(self.answered[:, 0] > 0, self.politics[:, 0], np.nan)


def hours_mask(hours: Iterable[int]) -> np.ndarray:
    """UTC hours of the week (0..167) as three uint64 words."""
    words = [0] * AVAILABILITY_WORDS
    for hour in hours:
        if 0 <= hour < HOURS_PER_WEEK:
            words[hour // 64] |= 1 << (hour % 64)
    return np.array(words, dtype=np.uint64)


class FeatureIndex:
    """MatchingProfiles as feature arrays, with rows added, updated and removed by user id."""

    def __init__(self, capacity: int = 256) -> None:
        self.dimensions: dict[str, int] = {LEAN: 0}
        self.vocabulary: dict[str, int] = {}
        self.language_codes: dict[str, int] = {}
        self.codes: dict[str, dict[object, int]] = {"life_stage": {}, "country": {}, "region": {}}
        self.profiles: dict[int, MatchingProfile] = {}
        self.size = 0                       # rows in use (live or freed)
        self._complete: np.ndarray | None = None
        self._free: list[int] = []
        self._row_by_id = np.full(16, -1, dtype=np.int64)
        self._allocate(max(capacity, 16))

    # --- storage ---------------------------------------------------------------------------

    def _allocate(self, capacity: int) -> None:
        self.capacity = capacity
        k, v, lang = len(self.dimensions), max(len(self.vocabulary), 1), max(len(self.language_codes), 1)
        self.user_ids = np.full(capacity, -1, dtype=np.int64)
        self.alive = np.zeros(capacity, dtype=bool)
        self.politics = np.zeros((capacity, k), dtype=np.float32)
        self.answered = np.zeros((capacity, k), dtype=np.float32)
        self.tokens = np.zeros((capacity, v), dtype=np.float32)
        self.token_count = np.zeros(capacity, dtype=np.float32)
        self.languages = np.zeros((capacity, lang), dtype=np.float32)
        self.availability = np.zeros((capacity, AVAILABILITY_WORDS), dtype=np.uint64)
        self.life_stage = np.full(capacity, -1, dtype=np.int32)
        self.country = np.full(capacity, -1, dtype=np.int32)
        self.region = np.full(capacity, -1, dtype=np.int32)

    def _grow_rows(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        capacity = max(needed, self.capacity * 2)
        for name in ("user_ids", "alive", "politics", "answered", "tokens", "token_count", "languages",
                     "availability", "life_stage", "country", "region"):
            old = getattr(self, name)
            fill = -1 if name in ("user_ids", "life_stage", "country", "region") else 0
            new = np.full((capacity, *old.shape[1:]), fill, dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)
        self.capacity = capacity

    @staticmethod
    def _widen(array: np.ndarray, columns: int) -> np.ndarray:
        if columns <= array.shape[1]:
            return array
        wider = np.zeros((array.shape[0], columns), dtype=array.dtype)  # exact: slices stay contiguous
        wider[:, : array.shape[1]] = array
        return wider

    def _code(self, kind: str, key: object) -> int:
        if key is None:
            return -1
        table = self.codes[kind]
        return table.setdefault(key, len(table))

    def _learn(self, profile: MatchingProfile) -> None:
        """Give new issues, tokens and languages a column."""
        for issue in profile.issues:
            if issue not in self.dimensions:
                self.dimensions[issue] = len(self.dimensions)
        for token in (*profile.interests, *profile.values):
            self.vocabulary.setdefault(token, len(self.vocabulary))
        for language in profile.languages:
            self.language_codes.setdefault(language, len(self.language_codes))
        self.politics = self._widen(self.politics, len(self.dimensions))
        self.answered = self._widen(self.answered, len(self.dimensions))
        self.tokens = self._widen(self.tokens, len(self.vocabulary))
        self.languages = self._widen(self.languages, len(self.language_codes))

    # --- rows --------------------------------------------------------------------------------

    def upsert(self, profiles: Iterable[MatchingProfile]) -> None:
        """Add or replace the rows of these profiles."""
        self._complete = None
        for profile in profiles:
            self._learn(profile)
            row = self.row_of(profile.user_id)
            if row < 0:
                row = self._free.pop() if self._free else self.size
                if row == self.size:
                    self._grow_rows(self.size + 1)
                    self.size += 1
                self._set_row_id(profile.user_id, row)
            self._fill(row, profile)
            self.profiles[profile.user_id] = profile

    def _set_row_id(self, user_id: int, row: int) -> None:
        if user_id >= self._row_by_id.shape[0]:
            grown = np.full(max(user_id + 1, self._row_by_id.shape[0] * 2), -1, dtype=np.int64)
            grown[: self._row_by_id.shape[0]] = self._row_by_id
            self._row_by_id = grown
        self._row_by_id[user_id] = row
        self.user_ids[row] = user_id
        self.alive[row] = row >= 0

    def _fill(self, row: int, profile: MatchingProfile) -> None:
        self.politics[row] = 0
        self.answered[row] = 0
        if profile.lean is not None:
            self.politics[row, 0], self.answered[row, 0] = profile.lean, 1
        for issue, position in profile.issues.items():
            column = self.dimensions[issue]
            self.politics[row, column], self.answered[row, column] = position, 1
        self.tokens[row] = 0
        tokens = [self.vocabulary[token] for token in (*profile.interests, *profile.values)]
        self.tokens[row, tokens] = 1
        self.token_count[row] = len(set(tokens))
        self.languages[row] = 0
        self.languages[row, [self.language_codes[code] for code in profile.languages]] = 1
        self.availability[row] = hours_mask(profile.availability_utc)
        self.life_stage[row] = self._code("life_stage", profile.life_stage)
        self.country[row] = self._code("country", profile.country)
        region = (profile.country, profile.region.casefold()) if profile.region else None
        self.region[row] = self._code("region", region)
        self.alive[row] = True

    def remove(self, user_ids: Iterable[int]) -> None:
        """Drop these participants' rows (unknown ids are ignored)."""
        self._complete = None
        for user_id in user_ids:
            row = self.row_of(user_id)
            if row < 0:
                continue
            self._row_by_id[user_id] = -1
            self.alive[row] = False
            self.user_ids[row] = -1
            self._free.append(row)
            self.profiles.pop(user_id, None)

    def row_of(self, user_id: int) -> int:
        """The row of one participant, or -1."""
        return int(self._row_by_id[user_id]) if 0 <= user_id < self._row_by_id.shape[0] else -1

    def rows_for(self, user_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of the known participants among `user_ids`, in their order (unknown ids dropped)."""
        ids = user_ids if isinstance(user_ids, np.ndarray) else np.fromiter(user_ids, dtype=np.int64,
                                                                              count=len(user_ids))
        ids = ids.astype(np.int64, copy=False)
        inside = (ids >= 0) & (ids < self._row_by_id.shape[0])
        rows = np.full(ids.shape[0], -1, dtype=np.int64)
        rows[inside] = self._row_by_id[ids[inside]]
        return rows[rows >= 0]

    def __len__(self) -> int:
        return len(self.profiles)

    def __contains__(self, user_id: object) -> bool:
        return isinstance(user_id, int) and self.row_of(user_id) >= 0

    # --- features ----------------------------------------------------------------------------

    def features(self, rows: np.ndarray | slice | None = None) -> Features:
        """The features of these rows (all rows in use when None; a slice gives views, not copies)."""
        pick = slice(0, self.size) if rows is None else rows
        k, v, lang = len(self.dimensions), max(len(self.vocabulary), 1), max(len(self.language_codes), 1)
        complete = None
        if rows is None:  # cached: checking every row's answers costs as much as a comparison
            if self._complete is None:
                self._complete = self.answered[: self.size, :k].min(axis=0) == 1 if self.size else np.zeros(k, bool)
            complete = self._complete
        return Features(self.politics[pick, :k], self.answered[pick, :k], self.tokens[pick, :v],
                        self.token_count[pick], self.languages[pick, :lang], self.availability[pick],
                        self.life_stage[pick], self.country[pick], self.region[pick], complete)

    def encode(self, profile: MatchingProfile) -> Features:
        """One profile as a one-row `Features` in this index's layout (unknown tokens cannot match)."""
        k, v, lang = len(self.dimensions), max(len(self.vocabulary), 1), max(len(self.language_codes), 1)
        politics, answered = np.zeros((1, k), np.float32), np.zeros((1, k), np.float32)
        if profile.lean is not None:
            politics[0, 0], answered[0, 0] = profile.lean, 1
        for issue, position in profile.issues.items():
            if issue in self.dimensions:
                politics[0, self.dimensions[issue]], answered[0, self.dimensions[issue]] = position, 1
        tokens = np.zeros((1, v), np.float32)
        known = [self.vocabulary[t] for t in (*profile.interests, *profile.values) if t in self.vocabulary]
        tokens[0, known] = 1
        count = np.array([len(set(profile.interests) | set(profile.values))], np.float32)
        languages = np.zeros((1, lang), np.float32)
        languages[0, [self.language_codes[c] for c in profile.languages if c in self.language_codes]] = 1
        region = (profile.country, profile.region.casefold()) if profile.region else None
        return Features(politics, answered, tokens, count, languages, hours_mask(profile.availability_utc)[None, :],
                        np.array([self.codes["life_stage"].get(profile.life_stage, -2)], np.int32),
                        np.array([self.codes["country"].get(profile.country, -2)], np.int32),
                        np.array([self.codes["region"].get(region, -2)], np.int32))


# --- comparisons: queries (q rows) against candidates (n rows) -> (q, n) ---------------------------

def political_distance(query: Features, candidates: Features, lean_weight: float = 1.0) -> np.ndarray:
    """Weighted mean absolute difference over the political dimensions both answered (NaN: none in common)."""
    weights = np.ones(query.politics.shape[1], dtype=np.float32)
    weights[0] = lean_weight
    total = np.zeros((query.politics.shape[0], candidates.politics.shape[0]), dtype=np.float32)
    norm = np.zeros((query.politics.shape[0], 1), dtype=np.float32)
    partial = False
    for column in range(query.politics.shape[1]):
        mine = query.answered[:, column] * weights[column]
        if not mine.any():
            continue
        theirs = candidates.answered[:, column]
        gap = np.abs(np.subtract.outer(query.politics[:, column], candidates.politics[:, column]))
        complete = candidates.complete[column] if candidates.complete is not None else theirs.min() == 1
        if mine.min() == mine.max() and complete:  # everyone answered it: no masks needed
            if mine[0] != 1:
                gap *= mine[0]
            norm += mine[0]
        else:
            if not partial:
                norm, partial = np.broadcast_to(norm, total.shape).copy(), True
            both = np.multiply.outer(mine, theirs)
            gap *= both
            norm += both
        total += gap
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= norm
    return total


def common_tokens(query: Features, candidates: Features) -> np.ndarray:
    """How many interests and values each pair has in common."""
    return query.tokens @ candidates.tokens.T


def commonality(query: Features, candidates: Features) -> np.ndarray:
    """Shared interests and values as a share (0..1) of the smaller of the two sets."""
    smaller = np.minimum(query.token_count[:, None], candidates.token_count[None, :])
    return common_tokens(query, candidates) / np.maximum(smaller, 1)


def share_language(query: Features, candidates: Features) -> np.ndarray:
    """True where the pair has a language in common."""
    return (query.languages @ candidates.languages.T) > 0


def availability_overlap(query: Features, candidates: Features) -> np.ndarray:
    """Hours of the week (UTC) both are free."""
    hours = np.zeros((query.availability.shape[0], candidates.availability.shape[0]), dtype=np.uint8)
    for word in range(AVAILABILITY_WORDS):  # word by word: no (q, n, 3) temporary, no slow sum over a short axis
        hours += np.bitwise_count(np.bitwise_and.outer(query.availability[:, word], candidates.availability[:, word]))
    return hours


def same_life_stage(query: Features, candidates: Features) -> np.ndarray:
    """True where both gave the same life stage."""
    return (query.life_stage[:, None] == candidates.life_stage[None, :]) & (query.life_stage[:, None] >= 0)


def same_place(query: Features, candidates: Features, scope: str = "region") -> np.ndarray:
    """True where both live in the same region (scope "region") or country (scope "country")."""
    codes_q, codes_c = (query.region, candidates.region) if scope == "region" else (query.country, candidates.country)
    return (codes_q[:, None] == codes_c[None, :]) & (codes_q[:, None] >= 0)


def political_side(lean: np.ndarray, centre: float) -> np.ndarray:
    """-1 (left of centre), +1 (right) or 0 (within `centre` of the middle, or unanswered)."""
    offset = np.nan_to_num(lean - 0.5, nan=0.0)
    return np.where(np.abs(offset) <= centre, 0, np.sign(offset)).astype(np.int8)


def answered_in_common(query: Features, candidates: Features) -> np.ndarray:
    """How many issue questions (the lean aside) both answered."""
    return query.answered[:, 1:] @ candidates.answered[:, 1:].T

"""Cohort pairing: disjoint pairs that maximise the total score, from a symmetric score matrix.

Exact when the cohort splits into two sides (every allowed pair crosses them: scipy's
`linear_sum_assignment`), for tiny cohorts (dynamic programming) and small ones (an integer
program, scipy's `milp`); each connected part of the cohort is solved on its own. Otherwise a best cycle cover
(the assignment relaxation: scipy's `linear_sum_assignment`, or its sparse variant on each row's best
candidates for large cohorts) gives a first matching, and local improvement follows (two pairs
exchange partners, or a pair takes in an unpaired participant).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

EXACT_UP_TO = 14
"""Cohorts up to this size are always solved exactly."""

INTEGER_PROGRAM_UP_TO = 64
"""Components up to this size (with an odd cycle) are solved exactly as an integer program (scipy's milp)."""

DENSE_UP_TO = 2000
"""Up to this size the assignment relaxation uses the whole score matrix; above, each row's best candidates."""

EPSILON = 1e-9


def pair_by_score(scores: np.ndarray, sides: np.ndarray | None = None, *, candidates: int = 24,
                  rounds: int = 200, overwrite: bool = False) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of rows of `scores` maximising the summed score; pairs scoring <= 0 or NaN are not made.

    `sides` (optional, one label per row) proposes the two sides; when absent or wrong, they are
    found from the allowed pairs. Above DENSE_UP_TO rows, each row considers its `candidates` best
    partners. `overwrite` lets the function clip `scores` in place (saves a copy of a large matrix).
    """
    count = scores.shape[0]
    if count < 2:
        return []
    dtype = np.float64 if count <= DENSE_UP_TO else np.float32
    weights = scores if overwrite and scores.dtype == dtype else np.array(scores, dtype=dtype)
    np.fmax(weights, 0, out=weights)  # refused (-inf), NaN and negative scores: 0, no pair
    np.fill_diagonal(weights, 0)
    allowed = weights > 0
    colour = _checked_sides(allowed, sides) if sides is not None else None
    if colour is not None:
        return _assignment(weights, colour)
    labels, colour, odd = components(allowed)
    del allowed
    pairs: list[tuple[int, int]] = []
    for component in range(int(labels.max()) + 1):
        rows = np.flatnonzero(labels == component)
        if len(rows) < 2:
            continue
        part = weights if len(rows) == count else weights[np.ix_(rows, rows)]
        if component not in odd:
            found = _assignment(part, colour[rows])
        elif len(rows) <= EXACT_UP_TO:
            found = _exact(part)
        elif len(rows) <= INTEGER_PROGRAM_UP_TO:
            found = _integer_program(part)
        else:
            neighbours = _neighbours(part, min(candidates, len(rows) - 1)) if len(rows) > DENSE_UP_TO else None
            mate = _improve(part, _cycle_cover_matching(part, neighbours), neighbours, rounds)
            found = [(i, int(mate[i])) for i in range(len(rows)) if mate[i] > i]
        pairs.extend((int(min(rows[i], rows[j])), int(max(rows[i], rows[j]))) for i, j in found)
    return sorted(pairs)


def total_score(scores: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    """The summed score of `pairs`."""
    return float(sum(scores[i, j] for i, j in pairs))


# --- two sides: exact --------------------------------------------------------------------------

def _checked_sides(allowed: np.ndarray, sides: np.ndarray) -> np.ndarray | None:
    labels = np.unique(sides)
    if len(labels) > 2:
        return None
    colour = (np.asarray(sides) == labels[-1]).astype(np.int8)
    left, right = colour == 0, colour == 1
    if allowed[np.ix_(left, left)].any() or allowed[np.ix_(right, right)].any():
        return None
    return colour


def components(allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Connected components of the allowed pairs: a label per row, a 0/1 colour per row (valid
    within a two-sided component), and the labels of the components that are not two-sided."""
    count = allowed.shape[0]
    labels = np.full(count, -1, dtype=np.int64)
    colour = np.full(count, -1, dtype=np.int8)
    odd: set[int] = set()
    component = -1
    for start in range(count):
        if labels[start] >= 0:
            continue
        component += 1
        labels[start], colour[start] = component, 0
        frontier = np.zeros(count, dtype=bool)
        frontier[start] = True
        current = 0
        while frontier.any():
            reached = allowed[frontier].any(axis=0)
            if component not in odd and (reached & (colour == current)).any():
                odd.add(component)  # an odd cycle: no two sides
            frontier = reached & (labels < 0)
            current = 1 - current
            labels[frontier], colour[frontier] = component, current
    return labels, colour, odd


def two_sides(allowed: np.ndarray) -> np.ndarray | None:
    """0/1 per row such that every allowed pair crosses sides, or None when the pairs form an odd cycle."""
    _, colour, odd = components(allowed)
    return None if odd else colour


def _assignment(weights: np.ndarray, colour: np.ndarray) -> list[tuple[int, int]]:
    left, right = np.flatnonzero(colour == 0), np.flatnonzero(colour == 1)
    if not len(left) or not len(right):
        return []
    rows, columns = linear_sum_assignment(weights[np.ix_(left, right)], maximize=True)
    pairs = [(int(left[r]), int(right[c])) for r, c in zip(rows, columns, strict=True)
             if weights[left[r], right[c]] > 0]
    return [(min(i, j), max(i, j)) for i, j in pairs]


# --- tiny cohorts: exact ------------------------------------------------------------------------

def _exact(weights: np.ndarray) -> list[tuple[int, int]]:
    count = weights.shape[0]
    table = weights.tolist()

    @cache
    def best(mask: int) -> tuple[float, tuple[tuple[int, int], ...]]:
        if mask == 0:
            return 0.0, ()
        first = (mask & -mask).bit_length() - 1
        rest = mask & ~(1 << first)
        value, pairs = best(rest)
        for other in range(first + 1, count):
            if rest >> other & 1 and table[first][other] > 0:
                sub_value, sub_pairs = best(rest & ~(1 << other))
                if sub_value + table[first][other] > value + EPSILON:
                    value, pairs = sub_value + table[first][other], ((first, other), *sub_pairs)
        return value, pairs

    return list(best((1 << count) - 1)[1])


def _integer_program(weights: np.ndarray) -> list[tuple[int, int]]:
    """Exact: one 0/1 variable per allowed pair, each row in at most one chosen pair (HiGHS via scipy)."""
    rows, columns = np.nonzero(np.triu(weights > 0, 1))
    edges = len(rows)
    incidence = csr_matrix((np.ones(2 * edges), (np.concatenate([rows, columns]), np.tile(np.arange(edges), 2))),
                           shape=(weights.shape[0], edges))
    result = milp(-weights[rows, columns], integrality=np.ones(edges), bounds=Bounds(0, 1),
                  constraints=LinearConstraint(incidence, 0, 1))
    if result.x is None:  # the solver gave up (it does not on problems this small): fall back
        mate = _improve(weights, _cycle_cover_matching(weights, None), None, 200)
        return [(i, int(mate[i])) for i in range(weights.shape[0]) if mate[i] > i]
    return [(int(rows[e]), int(columns[e])) for e in np.flatnonzero(result.x > 0.5)]


# --- otherwise: assignment relaxation, then local improvement -------------------------------------

def _neighbours(weights: np.ndarray, size: int) -> np.ndarray:
    """Each row's `size` best-scoring other rows."""
    found = np.empty((weights.shape[0], size), dtype=np.int64)
    for start in range(0, weights.shape[0], 256):
        found[start:start + 256] = np.argpartition(-weights[start:start + 256], size, axis=1)[:, :size]
    return found


def _cycle_cover_matching(weights: np.ndarray, neighbours: np.ndarray | None) -> np.ndarray:
    """A matching from the best cycle cover (an assignment of every row to a partner or to itself).

    The cover's pairs (two-cycles) are kept; a longer cycle gives its best alternate pairs. On real
    scores almost every cycle is a pair, so this is close to the optimum before improvement.
    """
    count = weights.shape[0]
    if neighbours is None:
        _, partner = linear_sum_assignment(weights, maximize=True)  # the diagonal (0) means "unpaired"
    else:
        size = neighbours.shape[1]
        rows = np.concatenate([np.repeat(np.arange(count), size), neighbours.ravel(), np.arange(count)])
        columns = np.concatenate([neighbours.ravel(), np.repeat(np.arange(count), size), np.arange(count)])
        values = weights[rows, columns]
        keep = (values > 0) | (rows == columns)
        cost = csr_matrix((float(weights.max()) + 1 - values[keep], (rows[keep], columns[keep])), shape=(count, count))
        cost.sum_duplicates()
        found_rows, found_columns = min_weight_full_bipartite_matching(cost)
        partner = np.empty(count, dtype=np.int64)
        partner[found_rows] = found_columns
    mate = np.full(count, -1, dtype=np.int64)
    seen = np.zeros(count, dtype=bool)
    twos = (partner[partner] == np.arange(count)) & (partner != np.arange(count))
    twos &= weights[np.arange(count), partner] > 0
    mate[twos] = partner[twos]
    seen[twos | (partner == np.arange(count))] = True
    for start in np.flatnonzero(~seen):
        if seen[start]:
            continue
        cycle = [int(start)]
        seen[start] = True
        while not seen[partner[cycle[-1]]]:
            cycle.append(int(partner[cycle[-1]]))
            seen[cycle[-1]] = True
        length = len(cycle)
        options = [[(cycle[(offset + 2 * k) % length], cycle[(offset + 2 * k + 1) % length])
                    for k in range(length // 2)] for offset in range(length if length % 2 else 2)]
        for i, j in max(options, key=lambda pairs: sum(weights[i, j] for i, j in pairs)):
            if weights[i, j] > 0:
                mate[i], mate[j] = j, i
    return mate


def _improve(weights: np.ndarray, mate: np.ndarray, neighbours: np.ndarray | None, rounds: int) -> np.ndarray:
    """Local improvement: a row takes a new partner and the two left behind pair up (or stay unpaired).

    Rows look at their neighbours (everyone in a dense cohort); unpaired rows look at every row.
    """
    count = weights.shape[0]
    everyone = np.arange(count)
    if neighbours is None:
        base_a, base_c = np.repeat(everyone, count), np.tile(everyone, count)
    else:
        base_a = np.repeat(everyone, neighbours.shape[1])
        base_c = neighbours.ravel()
        base_a, base_c = np.concatenate([base_a, base_c]), np.concatenate([base_c, base_a])  # both directions
    base_w = weights[base_a, base_c]
    keep = (base_a != base_c) & (base_w > 0)
    base_a, base_c, base_w = base_a[keep], base_c[keep], base_w[keep]
    epsilon = EPSILON if weights.dtype == np.float64 else 1e-5  # float32 rounding must not look like a gain
    for _ in range(rounds):
        paired = mate >= 0
        pair_w = np.where(paired, weights[everyone, np.maximum(mate, 0)], 0)
        free = np.flatnonzero(~paired)
        a, c, w_ac = base_a, base_c, base_w
        if neighbours is not None and len(free):  # unpaired rows: their best move among every row
            gains = weights[free] - pair_w[None, :]
            gains[np.arange(len(free)), free] = -np.inf
            best = gains.argmax(axis=1)
            a, c = np.concatenate([a, free]), np.concatenate([c, best])
            w_ac = np.concatenate([w_ac, weights[free, best]])
        b, d = mate[a], mate[c]
        both = (b >= 0) & (d >= 0)
        w_bd = np.where(both, weights[np.maximum(b, 0), np.maximum(d, 0)], 0)
        # a takes c; their former partners b and d pair with each other (or stay unpaired)
        gain = w_ac + w_bd - pair_w[a] - pair_w[c]
        better = np.flatnonzero((gain > epsilon) & (b != c) & (w_ac > 0))
        if not len(better):
            break
        touched = np.zeros(count, dtype=bool)
        for move in better[np.argsort(-gain[better], kind="stable")]:
            nodes = [int(a[move]), int(c[move]), int(b[move]), int(d[move])]
            involved = [node for node in nodes if node >= 0]
            if touched[involved].any():
                continue
            touched[involved] = True
            i, j, k, m = nodes
            mate[i], mate[j] = j, i
            if k >= 0 and m >= 0 and weights[k, m] > 0:
                mate[k], mate[m] = m, k
            else:
                if k >= 0:
                    mate[k] = -1
                if m >= 0:
                    mate[m] = -1
    return mate

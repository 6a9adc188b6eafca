"""Cohorts for partner events: join with a code, pair the whole cohort, edit the proposal, confirm it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.input_checks import single_line_problem
from core.models import Cohort, CohortMember, CohortPair, Dismissal, Invitation, Match, Profile, User
from core.safety import ENDED_MATCH_STATES, blocked_pairs, is_blocked_either_way

CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_MAX = 40
DEFAULT_STRATEGY = "bridge"
REPAIR_ALL_UP_TO = 600
"""Cohorts up to this size are paired again as a whole when the strategy proposed a forbidden pair."""


class CohortError(ValueError):
    """A cohort request that cannot be done as asked; the message says why, for people."""

    def __init__(self, message: str, *, needs_profile: bool = False) -> None:
        super().__init__(message)
        self.needs_profile = needs_profile


class UnknownCodeError(CohortError):
    """No cohort has the code (what a guesser sees; the join page throttles it)."""


@dataclass(frozen=True)
class Leftover:
    """A member left unpaired, and why."""

    user_id: int
    reason: str


# --- codes and membership --------------------------------------------------------------------

def normalise_code(code: str) -> str:
    """An event code as stored: trimmed and lower-case (codes are case-insensitive)."""
    return (code or "").strip().lower()


def check_code(code: str) -> str:
    """The normalised code, or CohortError saying what is wrong with it."""
    normalised = normalise_code(code)
    if not normalised:
        raise CohortError("Enter an event code.")
    if len(normalised) > CODE_MAX:
        raise CohortError(f"An event code has at most {CODE_MAX} characters.")
    if not CODE_PATTERN.match(normalised):
        raise CohortError("An event code uses letters, digits and single dashes between them, like spring-town-hall.")
    return normalised


def by_code(code: str) -> Cohort | None:
    """The cohort with this code (any case), or None."""
    normalised = normalise_code(code)
    if not CODE_PATTERN.match(normalised):
        return None  # no such code can exist; the database is not asked
    return Cohort.get_or_none(Cohort.code == normalised)


def create_cohort(name: str, code: str, admin: Any = None) -> Cohort:
    """Create a cohort (admins); raises CohortError on a bad or taken code or a missing name."""
    name = (name or "").strip()
    if not name:
        raise CohortError("Give the cohort a name, like the event's title.")
    if len(name) > 120:
        raise CohortError("A cohort name has at most 120 characters.")
    problem = single_line_problem(name, "The cohort name")
    if problem:
        raise CohortError(problem)
    normalised = check_code(code)
    if by_code(normalised) is not None:
        raise CohortError(f"The code '{normalised}' is taken by another cohort: choose another.")
    return Cohort.create(name=name, code=normalised, created_by=getattr(admin, "id", admin))


def has_complete_profile(user_id: int) -> bool:
    """True when the participant's profile is complete under the current questionnaire."""
    from core.questionnaire.store import active_questionnaire

    questionnaire = active_questionnaire()
    if questionnaire is None:
        return False
    return Profile.select().where(
        (Profile.user == user_id) & Profile.completed_at.is_null(False)
        & (Profile.questionnaire_id == questionnaire.id)
        & (Profile.completed_version == questionnaire.version)).exists()


def join(user: Any, code: str) -> tuple[Cohort, bool]:
    """Add a participant to the cohort with `code`; returns (cohort, joined now). Joining twice is a no-op."""
    cohort = by_code(code)
    if cohort is None:
        raise UnknownCodeError("No event has that code. Check the code you were given (letters, digits and dashes).")
    existing = CohortMember.get_or_none((CohortMember.cohort == cohort) & (CohortMember.user == user.id))
    if existing is not None:
        return cohort, False
    if not has_complete_profile(user.id):
        raise CohortError("Finish your profile first: the organisers pair people from their answers.",
                          needs_profile=True)
    CohortMember.create(cohort=cohort, user=user.id)
    return cohort, True


def member_ids(cohort: Cohort) -> list[int]:
    """Ids of the cohort's members, in joining order."""
    query = CohortMember.select(CohortMember.user).where(CohortMember.cohort == cohort).order_by(CohortMember.id)
    return [user_id for (user_id,) in query.tuples()]


# --- the strategy ----------------------------------------------------------------------------

def strategy_name() -> str:
    """The configured matching strategy (`matching.strategy`), or the default."""
    settings = current_app.extensions["oss_connect"].settings
    return getattr(getattr(settings, "matching", None), "strategy", None) or DEFAULT_STRATEGY


def strategy() -> Any:
    """The configured MatchingStrategy, or CohortError naming what is registered."""
    name = strategy_name()
    try:
        return current_app.extensions["oss_connect"].provider("matching_strategy", name)
    except LookupError as error:
        raise CohortError(f"Cannot pair: {error}. Enable a plugin that provides it (e.g. matching_bridge) "
                          f"or set matching.strategy in the config.") from None


def _instance(found: Any) -> Any:
    return found() if isinstance(found, type) else found


# --- proposing, editing, confirming ------------------------------------------------------------

def _busy_ids(user_ids: list[int]) -> set[int]:
    """Members who already have an active match (not cancelled, completed or ended)."""
    if not user_ids:
        return set()
    query = Match.select(Match.a, Match.b).where((Match.a.in_(user_ids) | Match.b.in_(user_ids))
                                                 & Match.status.not_in(ENDED_MATCH_STATES))
    return {user_id for row in query.tuples() for user_id in row}


def _confirmed_ids(cohort: Cohort) -> set[int]:
    query = CohortPair.select(CohortPair.a, CohortPair.b).where(
        (CohortPair.cohort == cohort) & (CohortPair.status == "confirmed"))
    return {user_id for row in query.tuples() for user_id in row}


def _available_ids(cohort: Cohort) -> list[int]:
    """Members who may be paired now: active, not yet paired in this cohort, without an active match."""
    members = member_ids(cohort)
    active = {user_id for (user_id,) in User.select(User.id).where(User.id.in_(members) & User.is_active).tuples()}
    taken = _busy_ids(members) | _confirmed_ids(cohort)
    return [user_id for user_id in members if user_id in active and user_id not in taken]


def _met_before(user_ids: list[int]) -> set[frozenset[int]]:
    if not user_ids:
        return set()
    query = Match.select(Match.a, Match.b).where(Match.a.in_(user_ids) & Match.b.in_(user_ids))
    return {frozenset(row) for row in query.tuples()}


def forbidden_pairs(user_ids: list[int]) -> set[frozenset[int]]:
    """Pairs among `user_ids` never proposed: blocked, matched before, hidden ("not for me") or already invited."""
    if not user_ids:
        return set()
    hidden = Dismissal.select(Dismissal.user, Dismissal.dismissed).where(
        Dismissal.user.in_(user_ids) & Dismissal.dismissed.in_(user_ids))
    invited = Invitation.select(Invitation.inviter, Invitation.invitee).where(
        Invitation.inviter.in_(user_ids) & Invitation.invitee.in_(user_ids) & (Invitation.status == "open"))
    return (blocked_pairs(user_ids) | _met_before(user_ids)
            | {frozenset(row) for row in hidden.tuples()} | {frozenset(row) for row in invited.tuples()})


def propose_pairs(cohort: Cohort, progress: Callable[[int], None] | None = None) -> list[CohortPair]:
    """Replace the cohort's proposal with the strategy's pairs of the available members.

    Blocked pairs, earlier partners, hidden people and open invitations are never proposed. When the
    strategy proposed such a pair, the cohort is paired again from the strategy's scores with those
    pairs ruled out (`core.matching.pairing`: exact for two sides, else greedy plus local improvement).
    `progress(n)` is told how many members were scored so far.
    """
    kept = pair_ids(_available_ids(cohort), progress=progress)
    with database.atomic():
        CohortPair.delete().where((CohortPair.cohort == cohort) & (CohortPair.status == "proposed")).execute()
        created = [CohortPair.create(cohort=cohort, a=min(a, b), b=max(a, b), score=score) for a, b, score in kept]
    return created


def pair_ids(available: list[int], extra_forbidden: set[frozenset[int]] | None = None,
             progress: Callable[[int], None] | None = None) -> list[tuple[int, int, float]]:
    """Pairs (a, b, score) of `available` by the configured strategy under the cohort rules (see propose_pairs)."""
    chosen = _instance(strategy())
    forbidden = forbidden_pairs(available) | (extra_forbidden or set())
    pairings = chosen.pair(available) if len(available) >= 2 else []
    kept: list[tuple[int, int, float]] = []
    used: set[int] = set()
    allowed_ids = set(available)
    dropped = False
    for pairing in pairings:
        a, b = int(pairing.a), int(pairing.b)
        if a == b or {a, b} & used or not {a, b} <= allowed_ids:
            continue
        if frozenset((a, b)) in forbidden:
            dropped = True
            continue
        kept.append((a, b, float(pairing.score)))
        used |= {a, b}
    if dropped and len(available) <= REPAIR_ALL_UP_TO:
        kept = _pair_by_scores(chosen, available, forbidden, progress)
    else:
        kept += _pair_by_scores(chosen, [user_id for user_id in available if user_id not in used], forbidden,
                                progress)
    return kept


def _pair_by_scores(chosen: Any, ids: list[int], forbidden: set[frozenset[int]],
                    progress: Callable[[int], None] | None = None) -> list[tuple[int, int, float]]:
    """Pairs of `ids` maximising the strategy's summed `score`, with forbidden pairs ruled out."""
    import numpy as np

    from core.matching.pairing import pair_by_score

    if len(ids) < 2:
        return []
    profiles = _profiles(ids)
    scores = np.zeros((len(ids), len(ids)))
    for i, a in enumerate(ids):
        for j in range(i + 1, len(ids)):
            b = ids[j]
            if a in profiles and b in profiles and frozenset((a, b)) not in forbidden:
                value = _score(chosen, profiles[a], profiles[b])
                scores[i, j] = scores[j, i] = value if value is not None and value > 0 else 0.0
        if progress:
            progress(i + 1)
    return [(ids[i], ids[j], float(scores[i, j])) for i, j in pair_by_score(scores)]


def _profiles(user_ids: list[int]) -> dict[int, Any]:
    from core.questionnaire.profiles import matching_profiles

    return matching_profiles(user_ids)


def _score(chosen: Any, a: Any, b: Any) -> float | None:
    try:
        value = chosen.score(a, b)
    except NotImplementedError:
        return None
    return None if value is None else float(value)


def proposal(cohort: Cohort) -> list[CohortPair]:
    """The cohort's pairs (proposed and confirmed), best score first."""
    return list(CohortPair.select().where(CohortPair.cohort == cohort)
                .order_by(CohortPair.status, CohortPair.score.desc(), CohortPair.id))


def unpair(cohort: Cohort, pair_id: int) -> None:
    """Remove a proposed pair (its two members become unpaired)."""
    pair = CohortPair.get_or_none((CohortPair.id == pair_id) & (CohortPair.cohort == cohort))
    if pair is None:
        raise CohortError("That pair is not part of this cohort's proposal (reload the page).")
    if pair.status == "confirmed":
        raise CohortError("That pair is confirmed and its invitation sent: it cannot be undone here.")
    pair.delete_instance()


def pair_by_hand(cohort: Cohort, a_id: int, b_id: int) -> CohortPair:
    """Pair two unpaired members by hand, scored by the strategy; refuses blocked or impossible pairs."""
    if a_id == b_id:
        raise CohortError("Choose two different people.")
    available = set(_available_ids(cohort))
    paired = {user_id for pair in proposal(cohort) for user_id in (pair.a_id, pair.b_id)}
    for user_id in (a_id, b_id):
        if user_id not in available or user_id in paired:
            raise CohortError("Both people must be unpaired members of this cohort without an active match.")
    if is_blocked_either_way(a_id, b_id):
        raise CohortError("These two cannot be paired: one of them blocked the other.")
    if frozenset((a_id, b_id)) in forbidden_pairs([a_id, b_id]):
        raise CohortError("These two cannot be paired: they were matched before, one hid the other, "
                          "or an invitation between them is open.")
    chosen = _instance(strategy())
    profiles = _profiles([a_id, b_id])
    if a_id not in profiles or b_id not in profiles:
        raise CohortError("One of them has no complete profile any more.")
    value = _score(chosen, profiles[a_id], profiles[b_id])
    if value is None:
        raise CohortError("The matching strategy says these two may not be matched (e.g. no shared language).")
    return CohortPair.create(cohort=cohort, a=min(a_id, b_id), b=max(a_id, b_id), score=value)


def leftovers(cohort: Cohort) -> list[Leftover]:
    """Members without a pair, each with the reason."""
    members = member_ids(cohort)
    paired = {user_id for pair in proposal(cohort) for user_id in (pair.a_id, pair.b_id)}
    unpaired = [user_id for user_id in members if user_id not in paired]
    if not unpaired:
        return []
    inactive = {user_id for (user_id,) in User.select(User.id).where(User.id.in_(unpaired) & ~User.is_active).tuples()}
    busy = _busy_ids(unpaired)
    free = [user_id for user_id in unpaired if user_id not in inactive and user_id not in busy]
    forbidden = forbidden_pairs(free)
    result = []
    for user_id in unpaired:
        if user_id in inactive:
            reason = "account suspended"
        elif user_id in busy:
            reason = "already has an active match"
        elif all(frozenset((user_id, other)) in forbidden for other in free if other != user_id):
            reason = "odd number: nobody else is left" if len(free) == 1 else "no compatible partner among the others"
        elif len(free) % 2 == 1:
            reason = "odd number: one person is left over"
        else:
            reason = "no compatible partner (the strategy found no good pair; pair by hand if you wish)"
        result.append(Leftover(user_id, reason))
    return result


@dataclass
class Confirmation:
    """What confirming made: invitations (or matches) created, and pairs that could not be invited, with why."""

    created: list[Any] = field(default_factory=list)
    failed: list[tuple[CohortPair, str]] = field(default_factory=list)


def confirm(cohort: Cohort) -> Confirmation:
    """Confirm the proposed pairs: each becomes an invitation (source "cohort"); a pair that cannot stays proposed."""
    pairs = [pair for pair in proposal(cohort) if pair.status == "proposed"]
    if not pairs:
        raise CohortError("There are no proposed pairs to confirm: propose pairs first.")
    result = Confirmation()
    for pair in pairs:
        if is_blocked_either_way(pair.a_id, pair.b_id):
            pair.delete_instance()  # blocked after the proposal was made
            result.failed.append((pair, "one of them blocked the other since the proposal"))
            continue
        try:
            result.created.append(_invite(pair, cohort))
        except ValueError as problem:  # the invitations module refused (InvitationError)
            result.failed.append((pair, str(problem)))
            continue
        pair.status = "confirmed"
        pair.save()
    if result.created:
        cohort.paired_at = utcnow()
        cohort.save()
    return result


def _invite(pair: CohortPair, cohort: Cohort) -> Any:
    """Send the pair's invitation through the invitations module, or create the match directly without it."""
    try:
        from core.matching.invitations import send_invitation
    except ImportError:
        return Match.create(a=pair.a_id, b=pair.b_id, cohort=cohort)
    return send_invitation(User.get_by_id(pair.a_id), User.get_by_id(pair.b_id), source="cohort", cohort=cohort,
                           score=pair.score, reason=f"You were paired at {cohort.name}.")

"""Who may be suggested to a participant: every exclusion rule in one SQL query, then plugin vetoes.

Never suggested: oneself, anyone blocked in either direction, an earlier partner (a match of any
status), anyone the participant hid ("not for me"), anyone who declined the other within
`matching.decline_cooldown_days`, anyone with an open invitation between the two, suspended or
inactive accounts and participants whose profile is not complete under the current questionnaire.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee
from flask import current_app

from core.db import utcnow
from core.models import Profile
from core.models.matching import Dismissal, Invitation, Match
from core.models.safety import Block
from core.questionnaire.profiles import complete_participants


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.matching


def is_ready(user: Any) -> bool:
    """Whether `user` is an active participant with a complete profile (may be suggested and suggest)."""
    query = complete_participants()
    return query is not None and query.where(Profile.user == user.id).exists()


def open_invitations() -> Any:
    """The condition of invitations still waiting for an answer (an expired one never counts as open)."""
    return (Invitation.status == "open") & (Invitation.expires_at > utcnow())


def _excluded_ids(user_id: int, cooldown_days: int) -> list[peewee.ModelSelect]:
    """Subqueries, one per rule, of user ids `user_id` must not be suggested."""
    since = utcnow() - dt.timedelta(days=cooldown_days)
    declined = (Invitation.status == "declined") & (Invitation.responded_at >= since)
    return [
        Block.select(Block.blocked).where(Block.blocker == user_id),
        Block.select(Block.blocker).where(Block.blocked == user_id),
        Match.select(Match.b).where(Match.a == user_id),
        Match.select(Match.a).where(Match.b == user_id),
        Dismissal.select(Dismissal.dismissed).where(Dismissal.user == user_id),
        Invitation.select(Invitation.invitee).where((Invitation.inviter == user_id) & declined),
        Invitation.select(Invitation.inviter).where((Invitation.invitee == user_id) & declined),
        Invitation.select(Invitation.invitee).where((Invitation.inviter == user_id) & open_invitations()),
        Invitation.select(Invitation.inviter).where((Invitation.invitee == user_id) & open_invitations()),
    ]


def unfiltered_candidate_ids(user: Any, among: list[int] | None = None) -> list[int]:
    """The ids (of `among`, when given) that pass every core exclusion rule, before plugin vetoes, in id order."""
    query = complete_participants()
    if query is None:
        return []
    query = query.where(Profile.user != user.id)
    if among is not None:
        query = query.where(Profile.user.in_(among))
    for excluded in _excluded_ids(user.id, _settings().decline_cooldown_days):
        query = query.where(Profile.user.not_in(excluded))
    return [user_id for (user_id,) in query.order_by(Profile.user).tuples()]


def eligible_candidate_ids(user: Any, among: list[int] | None = None) -> list[int]:
    """The ids (of `among`, when given) that may be suggested to `user`: core's rules in SQL, then
    `filter_match_candidates` vetoes."""
    ids = unfiltered_candidate_ids(user, among)
    if not ids:
        return []
    hook = current_app.extensions["oss_connect"].hook
    vetoed: set[int] = set()
    for answer in hook.filter_match_candidates(participant=user, candidates=list(ids)):
        vetoed.update(int(user_id) for user_id in (answer or ()))
    return [user_id for user_id in ids if user_id not in vetoed]


def may_be_suggested(user: Any, other_id: int) -> bool:
    """Whether `other_id` may be suggested to `user` now (one person checked, not the whole pool)."""
    return bool(eligible_candidate_ids(user, among=[other_id]))

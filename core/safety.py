"""Safety services: blocks (both ways, for good), reports, and the moderators' actions on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee

from core import audit, sessions
from core.db import database, utcnow
from core.matching.access import may_see_profile
from core.models import Block, Invitation, Match, ModerationAction, Report, User

REASONS: dict[str, str] = {
    "disrespectful": "Disrespectful or hostile",
    "harassment": "Harassment or threats",
    "spam_or_scam": "Spam, advertising or a scam",
    "shared_contact_details": "Pushed to move off the platform or shared contact details",
    "no_show": "Did not show up to a conversation",
    "other": "Something else",
}
"""Why a participant may report another, with the label people see."""

CONTEXTS = ("profile", "suggestion", "invitation", "match", "cohort", "conversation", "call")
DETAILS_MAX = 2000
"""The longest report details (characters)."""

NOTE_MAX = 2000
AUDITED_ACTIONS = {"suspend": audit.SUSPENDED, "reinstate": audit.REINSTATED}
"""Moderation actions that change what an account may do, and so go into the audit record."""
CLOSING = {"dismiss": "dismissed", "warn": "warned", "suspend": "suspended"}
ACTION_LABELS = {"dismiss": "Dismiss the report", "warn": "Warn the participant by email",
                 "suspend": "Suspend the account", "reinstate": "Reinstate the account"}
ENDED_MATCH_STATES = ("cancelled", "completed", "ended", "declined")


class SafetyError(ValueError):
    """A safety request that cannot be done as asked; the message says why, for people."""


def _id(user: Any) -> int:
    return user if isinstance(user, int) else user.id


# --- blocks ----------------------------------------------------------------------------------

def block(user: Any, other: Any) -> Block:
    """`user` blocks `other` for good (idempotent); open invitations between them are cancelled.

    Nothing is sent to the blocked person: their invitations simply close like expired ones.
    """
    user_id, other_id = _id(user), _id(other)
    if user_id == other_id:
        raise SafetyError("You cannot block yourself.")
    with database.atomic():
        existing = Block.get_or_none((Block.blocker == user_id) & (Block.blocked == other_id))
        created = existing or Block.create(blocker=user_id, blocked=other_id)
        cancel_open_invitations(user_id, other_id)
    return created


def is_blocked_either_way(a_id: int, b_id: int) -> bool:
    """True when either of the two participants blocked the other."""
    return Block.select().where(((Block.blocker == a_id) & (Block.blocked == b_id))
                                | ((Block.blocker == b_id) & (Block.blocked == a_id))).exists()


def blocked_ids(user_id: int) -> set[int]:
    """Everyone `user_id` blocked or was blocked by: they never see each other."""
    made = Block.select(Block.blocked).where(Block.blocker == user_id)
    received = Block.select(Block.blocker).where(Block.blocked == user_id)
    return {row for (row,) in made.tuples()} | {row for (row,) in received.tuples()}


def blocked_pairs(user_ids: list[int]) -> set[frozenset[int]]:
    """Pairs among `user_ids` where one blocked the other (for pairing a whole cohort)."""
    if not user_ids:
        return set()
    query = Block.select(Block.blocker, Block.blocked).where(Block.blocker.in_(user_ids) & Block.blocked.in_(user_ids))
    return {frozenset(row) for row in query.tuples()}


def blocks_made(user_id: int) -> list[Block]:
    """The blocks `user_id` made, newest first (the participant's own list)."""
    return list(Block.select().where(Block.blocker == user_id).order_by(Block.created_at.desc(), Block.id.desc()))


def cancel_open_invitations(user_id: int, other_id: int | None = None) -> int:
    """Cancel open invitations between two people (either way), or all of `user_id`'s when `other_id` is None."""
    if other_id is None:
        between = (Invitation.inviter == user_id) | (Invitation.invitee == user_id)
    else:
        between = (((Invitation.inviter == user_id) & (Invitation.invitee == other_id))
                   | ((Invitation.inviter == other_id) & (Invitation.invitee == user_id)))
    return (Invitation.update(status="cancelled", responded_at=utcnow())
            .where(between & (Invitation.status == "open")).execute())


def has_seen(user_id: int, other_id: int) -> bool:
    """True when `user_id` may see `other_id`'s profile: they share an invitation, a match or a conversation,
    or `other_id` is among the suggestions `user_id` is shown right now (not merely eligible, so that counting
    through ids cannot reveal everybody's shared profile). The rule is core.matching.access.may_see_profile."""
    user = User.get_or_none(User.id == user_id)
    return user is not None and may_see_profile(user, other_id)


# --- reports ---------------------------------------------------------------------------------

def report(reporter: Any, reported: Any, reason: str, details: str = "", context: str = "profile") -> Report:
    """File a report; it waits in the moderation queue. Raises SafetyError on a bad reason or too long details."""
    reporter_id, reported_id = _id(reporter), _id(reported)
    if reporter_id == reported_id:
        raise SafetyError("You cannot report yourself.")
    if reason not in REASONS:
        raise SafetyError(f"Choose a reason from the list ({', '.join(REASONS)}).")
    details = (details or "").strip()
    if len(details) > DETAILS_MAX:
        raise SafetyError(f"Use at most {DETAILS_MAX} characters for the details (you wrote {len(details)}).")
    return Report.create(reporter=reporter_id, reported=reported_id, reason=reason, details=details,
                         context=context if context in CONTEXTS else "profile")


def open_reports() -> list[Report]:
    """The moderation queue: open reports, newest first."""
    return list(Report.select().where(Report.status == "open").order_by(Report.created_at.desc(), Report.id.desc()))


def report_counts() -> dict[str, int]:
    """How many reports are in each state (open, dismissed, warned, suspended)."""
    counts = {state: 0 for state in ("open", "dismissed", "warned", "suspended")}
    for status, count in Report.select(Report.status, peewee.fn.COUNT(Report.id)).group_by(Report.status).tuples():
        counts[status] = count
    return counts


@dataclass(frozen=True)
class History:
    """What an admin sees about a reported participant (never their private answers)."""

    user: User
    reports: list[Report]
    actions: list[ModerationAction]
    invitations_sent: int
    invitations_received: int
    matches: int
    blocks_received: int
    blocks_made: int
    reports_made: int


def history(user_id: int) -> History:
    """The reported participant's record: reports against them, moderation actions, and activity counts."""
    user = User.get_by_id(user_id)
    return History(
        user=user,
        reports=list(Report.select().where(Report.reported == user_id).order_by(Report.created_at.desc(),
                                                                                 Report.id.desc())),
        actions=list(ModerationAction.select().where(ModerationAction.subject == user_id)
                     .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())),
        invitations_sent=Invitation.select().where(Invitation.inviter == user_id).count(),
        invitations_received=Invitation.select().where(Invitation.invitee == user_id).count(),
        matches=Match.select().where((Match.a == user_id) | (Match.b == user_id)).count(),
        blocks_received=Block.select().where(Block.blocked == user_id).count(),
        blocks_made=Block.select().where(Block.blocker == user_id).count(),
        reports_made=Report.select().where(Report.reporter == user_id).count(),
    )


# --- moderation ------------------------------------------------------------------------------

def allowed_actions(subject: User) -> list[str]:
    """The actions that make sense for this account now (suspend or reinstate, not both)."""
    return ["dismiss", "warn", "suspend"] if subject.is_active else ["dismiss", "reinstate"]


def act(report_or_subject: Report | User, admin: Any, action: str, note: str = "") -> ModerationAction:
    """Apply a moderation action and record it.

    dismiss: close the report; warn: email the participant a neutral warning, close the report as
    warned; suspend: deactivate the account, sign it out everywhere (open sockets too), cancel its open
    invitations, close its open reports as suspended; reinstate: reactivate the account.
    """
    if action not in ACTION_LABELS:
        raise SafetyError(f"Unknown action '{action}': use one of {', '.join(ACTION_LABELS)}.")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise SafetyError(f"Use at most {NOTE_MAX} characters for the note.")
    report_row = report_or_subject if isinstance(report_or_subject, Report) else None
    subject = User.get_by_id(report_row.reported_id) if report_row else report_or_subject
    if action == "dismiss" and report_row is None:
        raise SafetyError("Only a report can be dismissed.")
    if action == "suspend" and not subject.is_active:
        raise SafetyError("This account is already suspended.")
    if action == "reinstate" and subject.is_active:
        raise SafetyError("This account is active: there is nothing to reinstate.")
    with database.atomic():
        if action == "suspend":
            User.update(is_active=False, session_version=User.session_version + 1).where(
                User.id == subject.id).execute()
            cancel_open_invitations(subject.id)
            sessions.end_all_for_user(subject.id, sessions.SUSPENDED, actor_id=_id(admin) if admin else None)
            still_open = Report.select().where((Report.reported == subject.id) & (Report.status == "open"))
            _close(still_open, "suspended", admin)
        elif action == "reinstate":
            User.update(is_active=True).where(User.id == subject.id).execute()
        if report_row is not None and action in CLOSING:
            _close([report_row], CLOSING[action], admin)
        recorded = ModerationAction.create(subject=subject.id, admin=_id(admin) if admin else None,
                                           report=report_row.id if report_row else None, action=action, note=note)
        if action in AUDITED_ACTIONS:
            audit.record_event(AUDITED_ACTIONS[action], actor_id=_id(admin) if admin else None,
                               subject_id=subject.id, details={"moderation_action_id": recorded.id,
                                                               "report_id": report_row.id if report_row else None})
    if action == "warn":
        _send_warning(subject)
    return recorded


def _close(reports: Any, status: str, admin: Any) -> None:
    for row in reports:
        Report.update(status=status, resolved_at=utcnow(), resolved_by=_id(admin) if admin else None).where(
            Report.id == row.id).execute()
        row.status = status


def _send_warning(subject: User) -> None:
    from core.mail import queue_email

    queue_email(subject.email, "A note about how you take part", "warning")

"""Invitations between participants: send, accept, decline, cancel and expire.

The invitee learns of an invitation by email and, when online, by the Socket.IO event
"invitation"; both carry only what the inviter shares with partners. An invitation whose
`expires_at` has passed counts as expired everywhere, even before the periodic job marks it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.mail import queue_email
from core.matching.access import may_invite
from core.matching.candidates import is_ready, may_be_suggested, open_invitations
from core.matching.suggestions import ranked_suggestions
from core.models import User
from core.models.matching import Invitation, Match
from core.questionnaire.profiles import profile_for
from core.realtime import notify_user
from core.safety import is_blocked_either_way
from core.scheduling.conversations import conversation_for_match
from core.urls import external_url

EXPIRE_INVITATIONS_JOB = "expire_invitations"


class InvitationError(ValueError):
    """An invitation cannot be sent or answered; the message says why, in words for the participant."""


def _platform() -> Any:
    return current_app.extensions["oss_connect"]


def status_of(invitation: Invitation) -> str:
    """The invitation's state, counting an open one past its expiry as expired."""
    if invitation.status == "open" and invitation.expires_at <= utcnow():
        return "expired"
    return invitation.status


def open_sent_count(user: Any) -> int:
    """How many invitations `user` sent that still wait for an answer."""
    return Invitation.select().where((Invitation.inviter == user.id) & open_invitations()).count()


def send_invitation(inviter: Any, invitee: Any, *, source: str = "suggestion", cohort: Any = None,
                    reason: str = "", score: float | None = None) -> Invitation:
    """Invite `invitee` to talk with `inviter`; email and notify the invitee. InvitationError when not allowed.

    Both must be ready (active, complete profile). From suggestions and "match me automatically",
    `invitee` must be among the suggestions the strategy shows `inviter` right now (core.matching.access);
    such invitations also count against `matching.max_open_invitations`. An admin's cohort pairing needs
    only eligibility and has no such count.
    """
    settings = _platform().settings.matching
    if not is_ready(inviter):
        raise InvitationError("Complete your profile before you invite anyone.")
    if source != "cohort":
        refusal = may_invite(inviter, invitee.id)
        if refusal:
            raise InvitationError(refusal)
    elif invitee.id == inviter.id or not may_be_suggested(inviter, invitee.id):
        raise InvitationError("This person can't be invited right now.")
    with database.atomic():
        if source != "cohort" and open_sent_count(inviter) >= settings.max_open_invitations:
            raise InvitationError(
                f"You already have {settings.max_open_invitations} invitations waiting for an answer, the most "
                "at a time. Wait for an answer, or cancel one on your invitations page, then try again.")
        now = utcnow()
        invitation = Invitation.create(
            inviter=inviter.id, invitee=invitee.id, source=source, cohort=cohort, reason=reason or "",
            score=score, created_at=now, expires_at=now + dt.timedelta(hours=settings.invitation_hours))
    _tell_invitee(invitation, inviter, invitee)
    return invitation


def auto_match(user: Any) -> Invitation | None:
    """"Match me automatically": invite the best available partner by the same strategy; the Invitation, or
    None when nobody fits. InvitationError (like send_invitation) when not allowed."""
    best = ranked_suggestions(user, 1)
    if not best:
        return None
    invitee = User.get_by_id(best[0].user_id)
    return send_invitation(user, invitee, source="auto", reason=best[0].reason, score=best[0].score)


def _tell_invitee(invitation: Invitation, inviter: Any, invitee: Any) -> None:
    """Email the invitee a link and notify their open pages; only shared answers leave the profile."""

    shared = profile_for(inviter.id, "partners")
    url = external_url("matching.invitation", invitation_id=invitation.id)
    queue_email(invitee.email, f"{shared.name} would like to talk with you", "invitation",
               inviter=shared, reason=invitation.reason, url=url, expires_at=invitation.expires_at,
               hours=_platform().settings.matching.invitation_hours)
    notify_user(invitee.id, "invitation", {"invitation_id": invitation.id, "inviter": shared.as_dict(),
                                      "reason": invitation.reason,
                                      "url": url.removeprefix(_platform().settings.site.base_url)})


def _answerable(invitation: Invitation, user: Any, role: str) -> None:
    """InvitationError unless `user` is the invitation's `role` ("invitee" or "inviter") and it is open."""
    if getattr(invitation, f"{role}_id") != user.id:
        raise InvitationError("Only the person who received this invitation can answer it."
                              if role == "invitee" else "Only the person who sent this invitation can cancel it.")
    state = status_of(invitation)
    if state != "open":
        raise InvitationError(f"This invitation is already {state}.")


def _close(invitation: Invitation, status: str) -> bool:
    """Move an open invitation to `status` (atomically: a concurrent answer loses); True when it moved."""
    now = utcnow()
    moved = (Invitation.update(status=status, responded_at=now)
             .where((Invitation.id == invitation.id) & open_invitations()).execute())
    if moved:
        invitation.status, invitation.responded_at = status, now
    return bool(moved)


def accept(invitation: Invitation, user: Any) -> Match:
    """The invitee accepts: a Match is made, both are told, and `match_made` fires. Other invitations stay."""
    _answerable(invitation, user, "invitee")
    if is_blocked_either_way(invitation.inviter_id, invitation.invitee_id) or not invitation.inviter.is_active:
        raise InvitationError("This invitation can no longer be accepted.")
    with database.atomic():
        if not _close(invitation, "accepted"):
            raise InvitationError(f"This invitation is already {status_of(Invitation.get_by_id(invitation.id))}.")
        low, high = sorted((invitation.inviter_id, invitation.invitee_id))
        match = Match.create(a=low, b=high, invitation=invitation.id, cohort=invitation.cohort_id)
        conversation_for_match(match)
    _tell_both(match, invitation)
    _platform().hook.match_made(match=match)
    return match


def _tell_both(match: Match, invitation: Invitation) -> None:
    """Email and notify both participants that they are matched, each with the other's shared profile."""

    url = external_url("scheduling.conversation", conversation_id=conversation_for_match(match).id)
    for me, other in ((invitation.inviter_id, invitation.invitee_id), (invitation.invitee_id, invitation.inviter_id)):
        partner = profile_for(other, "partners")
        queue_email(User.get_by_id(me).email, f"You and {partner.name} are matched", "match_made",
                   partner=partner, url=url)
        notify_user(me, "match", {"match_id": match.id, "invitation_id": invitation.id, "partner": partner.as_dict(),
                             "url": url.removeprefix(_platform().settings.site.base_url)})


def decline(invitation: Invitation, user: Any) -> None:
    """The invitee declines; the two are not suggested to each other for `matching.decline_cooldown_days`."""

    _answerable(invitation, user, "invitee")
    if not _close(invitation, "declined"):
        raise InvitationError("This invitation was answered already.")
    notify_user(invitation.inviter_id, "invitation_closed", {"invitation_id": invitation.id, "status": "declined"})


def cancel(invitation: Invitation, user: Any) -> None:
    """The inviter takes an open invitation back."""

    _answerable(invitation, user, "inviter")
    if not _close(invitation, "cancelled"):
        raise InvitationError("This invitation was answered already.")
    notify_user(invitation.invitee_id, "invitation_closed", {"invitation_id": invitation.id, "status": "cancelled"})


def expire_due() -> int:
    """Mark open invitations past their expiry as expired (the periodic job); returns how many."""
    return (Invitation.update(status="expired")
            .where((Invitation.status == "open") & (Invitation.expires_at <= utcnow())).execute())


def invitation_for(invitation_id: int, user: Any) -> Invitation | None:
    """The invitation if `user` sent or received it, else None (others must not learn it exists)."""
    invitation = Invitation.get_or_none(Invitation.id == invitation_id)
    if invitation is None or user.id not in (invitation.inviter_id, invitation.invitee_id):
        return None
    return invitation


def invitations_of(user: Any) -> tuple[list[Invitation], list[Invitation]]:
    """(received, sent) invitations of `user`, newest first."""
    received = list(Invitation.select().where(Invitation.invitee == user.id).order_by(Invitation.created_at.desc()))
    sent = list(Invitation.select().where(Invitation.inviter == user.id).order_by(Invitation.created_at.desc()))
    return received, sent

"""Suggested partners, invitations and "match me automatically" for participants; pool health for admins.

Every page works without JavaScript. Another participant appears only through their profile for
partners; an id that is not among my suggestions right now (core.matching.access), or an invitation
of someone else, is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core.matching import invitations as service
from core.matching.access import suggested_now
from core.matching.candidates import is_ready
from core.matching.pool import admin_rows, pool_health, wait_estimate_now
from core.matching.suggestions import (
    MatchingNotSetUpError,
    configured_strategy,
    suggestions_for,
)
from core.models import User
from core.models.matching import Dismissal
from core.providers import Suggestion
from core.questionnaire.profiles import profile_for
from core.views.admin import admin_required

blueprint = Blueprint("matching", __name__)

NOT_SET_UP = "Matching is not set up on this site yet."
INVITE_ENDPOINTS = ("matching.invite", "matching.auto")


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.matching


def _me() -> Any:
    return current_user._get_current_object()


def _not_set_up(error: MatchingNotSetUpError) -> tuple[str, int]:
    """The participant's page when no strategy is available; admins also read what to change."""
    return render_template("matching/not_set_up.html", message=NOT_SET_UP,
                           detail=str(error) if current_user.has_role("admin") else None), 503


def _require_ready() -> Response | None:
    """A redirect to the profile overview when the participant's profile is not complete."""
    if is_ready(current_user):
        return None
    flash("Complete your profile first: suggestions are made from your answers.", "error")
    return redirect(url_for("questionnaire.overview"))


@blueprint.route("/suggestions")
@login_required
def suggestions() -> Any:
    """The top suggested partners, each with "invite" and "not for me"."""
    if (redirect_to := _require_ready()) is not None:
        return redirect_to
    try:
        found = suggestions_for(_me())
    except MatchingNotSetUpError as error:
        return _not_set_up(error)
    return render_template("matching/suggestions.html", suggestions=found, settings=_settings(),
                           open_sent=service.open_sent_count(current_user), estimate=wait_estimate_now(_me()))


def _candidate_or_404(user_id: int) -> tuple[User, Suggestion]:
    """The user behind an id the strategy suggests to me now, with that suggestion; anything else is a 404.

    A guessed id, a person the strategy never suggests (or suggests below the page's top), a vetoed or
    blocked one all answer the same. MatchingNotSetUpError when no strategy is available."""
    suggestion = suggested_now(_me(), user_id)
    if suggestion is None:
        abort(404)
    return User.get_by_id(user_id), suggestion


@blueprint.route("/suggestions/<int:user_id>/dismiss", methods=["POST"])
@login_required
def dismiss(user_id: int) -> Any:
    """"Not for me": hide one suggestion for good."""
    try:
        other, _ = _candidate_or_404(user_id)
    except MatchingNotSetUpError as error:
        return _not_set_up(error)
    Dismissal.get_or_create(user=current_user.id, dismissed=other.id)
    flash(f"{profile_for(other.id, 'partners').name} is hidden. You will not see them again.", "success")
    return redirect(url_for("matching.suggestions"))


@blueprint.route("/suggestions/<int:user_id>/invite", methods=["POST"])
@login_required
def invite(user_id: int) -> Any:
    """Invite one suggested partner (by email and, when they are online, a live notification)."""
    try:
        other, suggestion = _candidate_or_404(user_id)
        invitation = service.send_invitation(_me(), other, source="suggestion", reason=suggestion.reason,
                                             score=suggestion.score)
    except MatchingNotSetUpError as error:
        return _not_set_up(error)
    except service.InvitationError as error:
        flash(str(error), "error")
        return redirect(url_for("matching.suggestions"))
    flash(f"Invitation sent to {profile_for(other.id, 'partners').name}: we'll tell you when they answer.", "success")
    return redirect(url_for("matching.invitation", invitation_id=invitation.id))


@blueprint.route("/suggestions/auto", methods=["POST"])
@login_required
def auto() -> Any:
    """"Match me automatically": invite the best available partner at once."""
    if not _settings().auto_match:
        abort(404)
    if (redirect_to := _require_ready()) is not None:
        return redirect_to
    try:
        invitation = service.auto_match(_me())
    except MatchingNotSetUpError as error:
        return _not_set_up(error)
    except service.InvitationError as error:
        flash(str(error), "error")
        return redirect(url_for("matching.suggestions"))
    if invitation is None:
        flash("Nobody is available for you right now. Please try again in a few days.", "error")
        return redirect(url_for("matching.suggestions"))
    name = profile_for(invitation.invitee_id, "partners").name
    flash(f"We invited {name}, the best available partner for you. We'll tell you when they answer.", "success")
    return redirect(url_for("matching.invitation", invitation_id=invitation.id))


@blueprint.route("/invitations")
@login_required
def invitations() -> str:
    """Invitations received and sent, with their states."""
    received, sent = service.invitations_of(current_user)
    names = {user_id: profile_for(user_id, "partners").name
             for user_id in {item.inviter_id for item in received} | {item.invitee_id for item in sent}}
    return render_template("matching/invitations.html", received=received, sent=sent, names=names,
                           status_of=service.status_of)


def _invitation_or_404(invitation_id: int) -> Any:
    invitation = service.invitation_for(invitation_id, current_user)
    if invitation is None:
        abort(404)
    return invitation


@blueprint.route("/invitations/<int:invitation_id>")
@login_required
def invitation(invitation_id: int) -> str:
    """One invitation: the other person's shared profile, and accept/decline (or cancel) while open."""
    item = _invitation_or_404(invitation_id)
    received = item.invitee_id == current_user.id
    other_id = item.inviter_id if received else item.invitee_id
    return render_template("matching/invitation.html", invitation=item, received=received, other_id=other_id,
                           other=profile_for(other_id, "partners"), status=service.status_of(item))


def _answer(invitation_id: int, action: Any, done: str) -> Response:
    item = _invitation_or_404(invitation_id)
    try:
        action(item, _me())
    except service.InvitationError as error:
        flash(str(error), "error")
    else:
        flash(done, "success")
    return redirect(url_for("matching.invitation", invitation_id=item.id))


@blueprint.route("/invitations/<int:invitation_id>/accept", methods=["POST"])
@login_required
def accept(invitation_id: int) -> Response:
    """Accept: the two are matched and both are told."""
    return _answer(invitation_id, service.accept,
                   "You accepted. You are matched: next, you agree on a time for your conversation.")


@blueprint.route("/invitations/<int:invitation_id>/decline", methods=["POST"])
@login_required
def decline(invitation_id: int) -> Response:
    """Decline politely; the inviter is not told who else you talk to."""
    return _answer(invitation_id, service.decline, "You declined the invitation.")


@blueprint.route("/invitations/<int:invitation_id>/cancel", methods=["POST"])
@login_required
def cancel(invitation_id: int) -> Response:
    """The inviter takes an open invitation back."""
    return _answer(invitation_id, service.cancel, "You cancelled the invitation.")


@blueprint.route("/admin/pool")
@admin_required
def pool_admin() -> str:
    """Pool health for admins: who is waiting, by political side and region, and recent matches."""
    try:
        configured_strategy()
        problem = None
    except MatchingNotSetUpError as error:
        problem = str(error)
    health = pool_health(max_age=0)
    return render_template("matching/pool.html", health=health, rows=admin_rows(health), problem=problem,
                           tilted=health.lopsided())


def apply_invitation_limit(app: Any, limiter: Any, settings: Any) -> None:
    """Count invitations (suggested and automatic) per signed-in account against `matching.invitation_rate_limit`."""
    rate = settings.invitation_rate_limit.replace(";", ",")
    shared = limiter.shared_limit(rate, scope="matching:invitations", methods=["POST"],
                                  key_func=lambda: f"user:{current_user.get_id()}")
    for endpoint in INVITE_ENDPOINTS:
        app.view_functions[endpoint] = shared(app.view_functions[endpoint])

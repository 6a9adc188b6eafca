"""The join (waiting) page of a conversation, marking a no-show, the standby rematch and "I'm available now".

Every page works without JavaScript. Another participant appears only through their profile for partners;
a conversation of someone else is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core.db import utcnow
from core.matching.candidates import is_ready
from core.matching.suggestions import MatchingNotSetUpError
from core.models import Conversation
from core.questionnaire.profiles import profile_for
from core.scheduling import no_shows, standby
from core.scheduling.conversations import is_participant, partner_id
from core.scheduling.presence import join_window, record_presence, was_present, window_state

blueprint = Blueprint("no_shows", __name__)


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def _me() -> Any:
    return current_user._get_current_object()


def _conversation(conversation_id: int) -> Conversation:
    """The conversation if the signed-in user takes part in it, else 404."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None or not is_participant(conversation, current_user.id):
        abort(404)
    return conversation


def _offers(conversation: Conversation) -> tuple[list[tuple[Any, Any]], str | None]:
    """Standby partners offered to the reporter of a no-show (with their profiles), and any problem."""
    try:
        partners = standby.standby_partners(_me())
    except MatchingNotSetUpError:
        return [], "Matching is not set up on this site, so no standby partner can be offered."
    return [(item, profile_for(item.user_id, "partners")) for item in partners], None


@blueprint.route("/conversations/<int:conversation_id>/join", methods=["GET", "POST"])
@login_required
def join(conversation_id: int) -> Any:
    """GET shows the conversation's waiting page (and changes nothing); POST, within the window, records
    that the participant is here ("I'm here"; entering the room records it too)."""
    conversation = _conversation(conversation_id)
    state = window_state(conversation)
    if request.method == "POST":
        if state == "open" and conversation.status != "no_show":
            record_presence(conversation, current_user.id)
        else:
            flash("The conversation is not open now, so there is nothing to arrive at.", "error")
        return redirect(url_for("no_shows.join", conversation_id=conversation.id))
    other_id = partner_id(conversation, current_user.id)
    partner = profile_for(other_id, "partners")
    context: dict[str, Any] = {"conversation": conversation, "partner": partner, "state": state,
                               "window": join_window(conversation), "settings": _settings()}
    context["me_here"] = was_present(conversation, current_user.id)
    context["partner_here"] = was_present(conversation, other_id)
    context["no_show_from"] = no_shows.may_mark_from(conversation)
    context["may_mark"] = (state == "open" and conversation.status in ("scheduled", "in_progress")
                           and no_shows.refusal(conversation, current_user.id) is None)
    context["reported"] = standby.may_rematch(conversation, current_user.id)
    context["offers"], context["offers_problem"] = _offers(conversation) if context["reported"] else ([], None)
    return render_template("scheduling/join.html", **context)


@blueprint.route("/conversations/<int:conversation_id>/no-show", methods=["POST"])
@login_required
def mark(conversation_id: int) -> Response:
    """Mark the partner absent; refusals come back as a message on the join page."""
    conversation = _conversation(conversation_id)
    try:
        no_shows.mark_no_show(conversation, _me())
    except no_shows.NoShowRefusedError as error:
        flash(str(error), "error")
        return redirect(url_for("no_shows.join", conversation_id=conversation.id))
    flash("Thank you: we have noted that your partner did not come.", "success")
    return redirect(url_for("no_shows.join", conversation_id=conversation.id) + "#standby-heading")


@blueprint.route("/conversations/<int:conversation_id>/rematch/<int:user_id>", methods=["POST"])
@login_required
def rematch(conversation_id: int, user_id: int) -> Response:
    """"Talk with X now": a conversation starting now with a standby participant; both go to its join page."""
    conversation = _conversation(conversation_id)
    try:
        fresh = standby.rematch(conversation, _me(), user_id)
    except (standby.RematchRefusedError, MatchingNotSetUpError) as error:
        flash(str(error), "error")
        return redirect(url_for("no_shows.join", conversation_id=conversation.id) + "#standby-heading")
    return redirect(url_for("no_shows.join", conversation_id=fresh.id))


@blueprint.route("/standby", methods=["GET", "POST"])
@login_required
def standby_page() -> Any:
    """"I'm available now" and "Not any more" for participants with a complete profile."""
    if not is_ready(current_user):
        flash("Complete your profile first: a standby partner is chosen from your answers.", "error")
        return redirect(url_for("questionnaire.overview"))
    if request.method == "POST":
        action = request.form.get("action", "")
        if action == "on":
            standby.stand_by(current_user.id)
            flash(f"Thank you: you are standing by for {_settings().standby_minutes} minutes.", "success")
        elif action == "off":
            standby.stop_standing_by(current_user.id)
            flash("You are no longer standing by.", "success")
        else:
            flash("Choose \"I'm available now\" or \"Not any more\".", "error")
            return render_template("scheduling/standby.html", current=standby.current_standby(current_user.id),
                                   settings=_settings(), now=utcnow()), 400
        return redirect(url_for("no_shows.standby_page"))
    return render_template("scheduling/standby.html", current=standby.current_standby(current_user.id),
                           settings=_settings(), now=utcnow())

"""Conversation pages: finding a time, agreements, the pair's messages, rescheduling and cancelling.

Only the two participants, the assigned facilitator and admins see a conversation; anyone else gets
a 404 on every page and form. Everything works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_format
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required
from wtforms import StringField, TextAreaField
from wtforms.validators import Optional

from core.input_checks import multi_line_problem
from core.models.scheduling import Conversation, SlotProposal
from core.questionnaire.profiles import profile_for
from core.scheduling import booking, messages
from core.scheduling.conversations import conversations_of, is_participant, may_view, partner_id
from core.timezones import usable_time_zone
from core.views.forms import TextForm

blueprint = Blueprint("scheduling", __name__)


class ProposeForm(TextForm):
    """Propose a start: one of the suggested options, or a date and time in the viewer's zone."""

    option = StringField("Suggested time", validators=[Optional()])
    date = StringField("Date", validators=[Optional()])
    time = StringField("Time", validators=[Optional()])


class MessageForm(TextForm):
    """A message to the partner."""

    body = TextAreaField("Message", validators=[Optional()])


class CancelForm(TextForm):
    """Cancel with an optional reason."""

    reason = TextAreaField("Reason (optional, kept private)", validators=[Optional()])


def _me() -> Any:
    return current_user._get_current_object()


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings.scheduling


def _viewer_zone() -> str:
    site_zone = current_app.extensions["oss_connect"].settings.site.default_time_zone
    return usable_time_zone(current_user.time_zone, site_zone)


def _conversation_or_404(conversation_id: int, participants_only: bool = False) -> Conversation:
    """The conversation when the viewer may see it (or act on it, for participants_only); else 404."""
    found = Conversation.get_or_none(Conversation.id == conversation_id)
    if found is None or not may_view(found, current_user):
        abort(404)
    if participants_only and not is_participant(found, current_user.id):
        abort(404)
    return found


def in_zone(value: dt.datetime | None, zone: str) -> str:
    """A UTC instant shown in the time zone `zone` (the partner's), in the viewer's locale."""
    if value is None:
        return ""
    return babel_format(value, "EEEE d MMMM, h:mm a", tzinfo=ZoneInfo(zone), locale=get_locale())


def parse_local(date_text: str, time_text: str, zone: str) -> dt.datetime:
    """A date and time typed in `zone` as a UTC instant; refuses nonexistent and ambiguous local times."""
    try:
        day = dt.date.fromisoformat(date_text.strip())
    except ValueError:
        raise booking.BookingError("Enter the date as YYYY-MM-DD, for example 2026-03-14.") from None
    try:
        clock = dt.time.fromisoformat(time_text.strip())
    except ValueError:
        raise booking.BookingError("Enter the time as HH:MM (24-hour), for example 19:30.") from None
    local = dt.datetime.combine(day, clock.replace(second=0, microsecond=0), tzinfo=ZoneInfo(zone))
    early, late = local.replace(fold=0), local.replace(fold=1)
    if early.utcoffset() != late.utcoffset():
        back = early.astimezone(dt.UTC).astimezone(ZoneInfo(zone))
        if back.replace(tzinfo=None, fold=0) != early.replace(tzinfo=None, fold=0):
            raise booking.BookingError(f"{day} {clock:%H:%M} does not exist in {zone}: the clocks skip that hour "
                                       "for daylight-saving time. Choose a time an hour later.")
        raise booking.BookingError(f"{day} {clock:%H:%M} happens twice in {zone} (the clocks go back an hour). "
                                   "Choose a time outside that hour.")
    return early.astimezone(dt.UTC)


def _page(conversation: Conversation, *, status: int = 200, propose_form: ProposeForm | None = None,
          message_form: MessageForm | None = None, propose_error: str = "", message_error: str = "") -> Any:
    """Render the conversation page (with any form errors)."""
    me = current_user.id
    participant = is_participant(conversation, me)
    other_ids = [partner_id(conversation, me)] if participant else [conversation.a_id, conversation.b_id]
    partners = [(user_id, profile_for(user_id, "partners")) for user_id in other_ids]
    partner_zone = booking.availability_of(other_ids[0]).time_zone if participant else None
    match = conversation.match
    thread = messages.thread(match, _me()) if (participant and match is not None) else []
    proposals = list(SlotProposal.select()
                     .where((SlotProposal.conversation == conversation.id) & (SlotProposal.status == "proposed"))
                     .order_by(SlotProposal.starts_at))
    changeable = conversation.status in ("proposing", "scheduled") and not booking.has_started(conversation)
    settings = _settings()
    opens_at = (conversation.starts_at - dt.timedelta(minutes=settings.early_entry_minutes)
                if conversation.starts_at else None)
    return render_template(
        "scheduling/conversation.html", conversation=conversation, partners=partners, participant=participant,
        partner_zone=partner_zone, in_zone=in_zone, thread=thread, proposals=proposals, changeable=changeable,
        options=booking.options_for(conversation) if (participant and changeable) else [],
        my_zone=_viewer_zone(), settings=settings, opens_at=opens_at,
        accepted={user_id: booking.has_accepted(conversation, user_id)
                  for user_id in (conversation.a_id, conversation.b_id)},
        propose_form=propose_form or ProposeForm(formdata=None),
        message_form=message_form or MessageForm(formdata=None),
        cancel_form=CancelForm(formdata=None), propose_error=propose_error, message_error=message_error,
        is_participant=participant), status


@blueprint.route("/conversations")
@login_required
def conversations() -> Any:
    """Your upcoming and past conversations, times in your zone."""
    now = booking.utcnow()
    upcoming, past = [], []
    for conversation in conversations_of(current_user.id):
        partner = profile_for(partner_id(conversation, current_user.id), "partners")
        ended = conversation.status in ("completed", "cancelled", "no_show") or (
            conversation.starts_at is not None and conversation.starts_at + dt.timedelta(
                minutes=conversation.duration_minutes) < now)
        (past if ended else upcoming).append((conversation, partner))
    upcoming.sort(key=lambda item: (item[0].starts_at is not None, item[0].starts_at or now))
    return render_template("scheduling/conversations.html", upcoming=upcoming, past=past)


@blueprint.route("/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int) -> Any:
    """One conversation: the partner, the time, proposals, agreements, messages and actions."""
    return _page(_conversation_or_404(conversation_id))


@blueprint.route("/conversations/<int:conversation_id>/propose", methods=["POST"])
@login_required
def propose(conversation_id: int) -> Any:
    """Propose a start time (a suggested option, or a typed date and time in your zone)."""
    found = _conversation_or_404(conversation_id, participants_only=True)
    form = ProposeForm()
    if not form.validate():
        errors = [error for field in form for error in field.errors]
        return _page(found, status=400, propose_form=form,
                     propose_error=errors[0] if errors else "The form expired; please try again.")
    try:
        if form.option.data:
            try:
                chosen = dt.datetime.fromisoformat(form.option.data)
                starts_at = (chosen if chosen.tzinfo else chosen.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
            except ValueError:
                raise booking.BookingError("That suggested time is not valid; choose one from the list.") from None
        elif form.date.data or form.time.data:
            starts_at = parse_local(form.date.data or "", form.time.data or "", _viewer_zone())
        else:
            raise booking.BookingError("Choose one of the suggested times, or enter a date and a time.")
        booking.propose(found, _me(), starts_at)
    except booking.BookingError as error:
        return _page(found, status=400, propose_form=form, propose_error=str(error))
    flash("Time proposed. Your partner confirms it (and you will see it here).", "success")
    return redirect(url_for("scheduling.conversation", conversation_id=found.id))


def _free_text(value: str, label: str) -> str:
    """`value` if it holds no control character but line breaks and tabs; a BookingError (flashed) if not."""
    problem = multi_line_problem(value, label)
    if problem:
        raise booking.BookingError(problem)
    return value


def _action(conversation_id: int, run: Any, success: str) -> Any:
    """Run a booking action for a participant; flash its refusal, redirect to the conversation."""
    found = _conversation_or_404(conversation_id, participants_only=True)
    if not TextForm().validate():
        return "The form expired: go back, reload the page and try again.", 400
    try:
        run(found)
    except booking.BookingError as error:
        flash(str(error), "error")
        return redirect(url_for("scheduling.conversation", conversation_id=found.id)), 303
    flash(success, "success")
    return redirect(url_for("scheduling.conversation", conversation_id=found.id))


def _proposal_or_404(found: Conversation, proposal_id: int) -> SlotProposal:
    proposal = SlotProposal.get_or_none((SlotProposal.id == proposal_id) & (SlotProposal.conversation == found.id))
    if proposal is None:
        abort(404)
    return proposal


@blueprint.route("/conversations/<int:conversation_id>/proposals/<int:proposal_id>/confirm", methods=["POST"])
@login_required
def confirm(conversation_id: int, proposal_id: int) -> Any:
    """Confirm the partner's proposed time: the conversation is booked."""
    return _action(conversation_id, lambda found: booking.confirm(_proposal_or_404(found, proposal_id), _me()),
                   "Booked. A calendar invitation is on its way by email.")


@blueprint.route("/conversations/<int:conversation_id>/proposals/<int:proposal_id>/withdraw", methods=["POST"])
@login_required
def withdraw(conversation_id: int, proposal_id: int) -> Any:
    """Take back your own proposed time."""
    return _action(conversation_id, lambda found: booking.withdraw(_proposal_or_404(found, proposal_id), _me()),
                   "Proposal withdrawn.")


@blueprint.route("/conversations/<int:conversation_id>/agreements", methods=["POST"])
@login_required
def agreements(conversation_id: int) -> Any:
    """Accept the conversation agreements."""
    return _action(conversation_id, lambda found: booking.accept_agreements(found, _me()),
                   "Thank you: you accepted the conversation agreements.")


@blueprint.route("/conversations/<int:conversation_id>/cancel", methods=["POST"])
@login_required
def cancel(conversation_id: int) -> Any:
    """Cancel the conversation."""
    reason = request.form.get("reason", "") if isinstance(request.form.get("reason", ""), str) else ""
    return _action(conversation_id, lambda found: booking.cancel(found, _me(), _free_text(reason, "The reason")),
                   "The conversation is cancelled. We told your partner.")


@blueprint.route("/conversations/<int:conversation_id>/messages", methods=["POST"])
@login_required
def post_message(conversation_id: int) -> Any:
    """Send a message to your partner (contact details are hidden)."""
    found = _conversation_or_404(conversation_id, participants_only=True)
    form = MessageForm()
    if found.match is None:
        abort(404)
    if not form.validate():
        error = form.body.errors[0] if form.body.errors else "The form expired; please try again."
        return _page(found, status=400, message_form=form, message_error=error)
    try:
        sent = messages.send(found.match, _me(), form.body.data)
    except messages.MessageError as error:
        return _page(found, status=400, message_form=form, message_error=str(error))
    if sent.hidden:
        flash(f"Sent, but we hid {', '.join(sent.hidden)}: contact details stay private on this platform.", "error")
    else:
        flash("Message sent.", "success")
    return redirect(url_for("scheduling.conversation", conversation_id=found.id) + "#messages")

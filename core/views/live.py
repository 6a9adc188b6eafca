"""Live-session pages: admins open sessions and pair them; participants RSVP and wait in the waiting room."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length

from core.db import utcnow
from core.models import Cohort, LiveRsvp, LiveSession
from core.questionnaire.profiles import profile_for
from core.scheduling import live
from core.views.admin import admin_required
from core.views.forms import TextForm

blueprint = Blueprint("live", __name__)


class SessionForm(TextForm):
    """Open a live session."""

    title = StringField("Title", validators=[InputRequired("Give the session a title."),
                                             Length(max=120, message="Use at most 120 characters.")])
    date = StringField("Date", render_kw={"type": "date"},
                       validators=[InputRequired("Choose the date, like 2027-03-18.")])
    time = StringField("Start time", render_kw={"type": "time"},
                       validators=[InputRequired("Choose the start time, like 19:00.")])
    region = StringField("Region (optional)", validators=[Length(max=80, message="Use at most 80 characters.")])
    cohort = SelectField("Cohort (optional)", choices=[])


class ActionForm(TextForm):
    """RSVP, cancel, I'm here, pair now (CSRF only)."""


def _starts_at(form: SessionForm) -> dt.datetime | None:
    """The form's date and time, in the admin's zone, as an aware datetime; errors go to the fields."""
    try:
        day = dt.date.fromisoformat((form.date.data or "").strip())
    except ValueError:
        form.date.errors = ["Enter the date as year-month-day, like 2027-03-18."]
        return None
    try:
        clock = dt.time.fromisoformat((form.time.data or "").strip())
    except ValueError:
        form.time.errors = ["Enter the time as hours:minutes (24-hour clock), like 19:00."]
        return None
    return dt.datetime.combine(day, clock.replace(tzinfo=None), tzinfo=ZoneInfo(str(get_timezone())))


def _session(session_id: int) -> LiveSession:
    session = LiveSession.get_or_none(LiveSession.id == session_id)
    if session is None:
        abort(404)
    return session


# --- admin -----------------------------------------------------------------------------------------

@blueprint.route("/admin/live", methods=["GET", "POST"])
@admin_required
def admin_list() -> str | Response | tuple[str, int]:
    """Every live session, and a form to open one (date and time in the admin's zone)."""
    form = SessionForm()
    form.cohort.choices = [("", "None")] + [(str(c.id), c.name) for c in Cohort.select().order_by(Cohort.name)]
    if form.validate_on_submit():
        starts_at = _starts_at(form)
        cohort = Cohort.get_or_none(Cohort.id == int(form.cohort.data)) if form.cohort.data else None
        if starts_at is not None:
            try:
                session = live.create_session(form.title.data, starts_at, form.region.data, cohort, current_user)
            except live.LiveError as problem:
                target = {"title": form.title, "region": form.region}.get(problem.field_name, form.date)
                target.errors = [str(problem)]
            else:
                flash(f"Session {session.title} is open: participants RSVP at /live.", "success")
                return redirect(url_for("live.admin_detail", session_id=session.id))
    sessions = list(LiveSession.select().order_by(LiveSession.starts_at.desc(), LiveSession.id.desc()))
    counts = {session.id: session.rsvps.count() for session in sessions}
    return render_template("live/admin_list.html", form=form, sessions=sessions, counts=counts,
                           zone=str(get_timezone()), audience=live.audience), 400 if form.errors else 200


@blueprint.route("/admin/live/<int:session_id>")
@admin_required
def admin_detail(session_id: int) -> str:
    """RSVPs, who is present now, and the result after pairing."""
    session = _session(session_id)
    rsvps = list(LiveRsvp.select().where(LiveRsvp.session == session).order_by(LiveRsvp.created_at, LiveRsvp.id))
    names = {rsvp.user_id: profile_for(rsvp.user_id, "partners").name for rsvp in rsvps}
    since = utcnow() - live.PRESENCE_WINDOW
    here = {rsvp.user_id for rsvp in rsvps if rsvp.present_at and rsvp.present_at >= since}
    conversations = list(session.conversations)
    reasons = {rsvp.user_id: live.leftover_reason(session, rsvp.user_id) for rsvp in rsvps
               if rsvp.outcome == "left_over"}
    return render_template("live/admin_detail.html", session=session, rsvps=rsvps, names=names, here=here,
                           conversations=conversations, reasons=reasons, action_form=ActionForm(),
                           audience=live.audience(session), window=int(live.PRESENCE_WINDOW.total_seconds() // 60))


@blueprint.route("/admin/live/<int:session_id>/pair", methods=["POST"])
@admin_required
def admin_pair(session_id: int) -> Response:
    """"Pair now": pair the people present (only at or after the start time)."""
    session = _session(session_id)
    if not ActionForm().validate_on_submit():
        flash("The form expired: reload the page and try again.", "error")
    elif utcnow() < session.starts_at:
        flash("The session has not started yet: it can be paired from its start time.", "error")
    else:
        try:
            result = live.pair_session(session)
        except live.LiveError as problem:
            flash(str(problem), "error")
        else:
            if result is None:
                flash("This session was already paired (or cancelled).", "error")
            else:
                flash(f"Paired {len(result.conversations)} pair(s); {len(result.left_over)} left over.", "success")
    return redirect(url_for("live.admin_detail", session_id=session.id))


@blueprint.route("/admin/live/<int:session_id>/cancel", methods=["POST"])
@admin_required
def admin_cancel(session_id: int) -> Response:
    """Cancel an open session."""
    session = _session(session_id)
    if ActionForm().validate_on_submit():
        try:
            live.cancel_session(session)
        except live.LiveError as problem:
            flash(str(problem), "error")
        else:
            flash("The session is cancelled.", "success")
    return redirect(url_for("live.admin_detail", session_id=session.id))


# --- participants ----------------------------------------------------------------------------------

@blueprint.route("/live")
@login_required
def sessions() -> str:
    """Upcoming sessions for this participant, with RSVP and cancel buttons."""
    upcoming = live.upcoming_for(current_user.id)
    mine = {rsvp.session_id for rsvp in LiveRsvp.select().where(
        (LiveRsvp.user == current_user.id) & LiveRsvp.session.in_([session.id for session in upcoming]))} \
        if upcoming else set()
    started = [rsvp.session for rsvp in LiveRsvp.select().join(LiveSession).where(
        (LiveRsvp.user == current_user.id) & (LiveSession.status == "open") & (LiveSession.starts_at <= utcnow()))]
    return render_template("live/sessions.html", upcoming=upcoming, mine=mine, started=started,
                           action_form=ActionForm(), audience=live.audience)


def _back(session: LiveSession) -> Response:
    target = request.form.get("next", "")
    if target == "room":
        return redirect(url_for("live.room", session_id=session.id))
    return redirect(url_for("live.sessions"))


@blueprint.route("/live/<int:session_id>/rsvp", methods=["POST"])
@login_required
def rsvp(session_id: int) -> Response | tuple[str, int]:
    """RSVP to a session (one click; also from a left-over participant's offer)."""
    session = _session(session_id)
    if not ActionForm().validate_on_submit():
        flash("The form expired: reload the page and try again.", "error")
        return _back(session)
    try:
        _, created = live.rsvp(session, current_user)
    except live.LiveError as problem:
        flash(str(problem), "error")
        if problem.needs_profile:
            return redirect(url_for("questionnaire.overview"))
        return _back(session)
    flash(f"You're in for {session.title}." if created else f"You had already RSVP'd to {session.title}.", "success")
    return _back(session)


@blueprint.route("/live/<int:session_id>/cancel", methods=["POST"])
@login_required
def cancel(session_id: int) -> Response:
    """Withdraw an RSVP."""
    session = _session(session_id)
    if not ActionForm().validate_on_submit():
        flash("The form expired: reload the page and try again.", "error")
    else:
        try:
            live.cancel_rsvp(session, current_user)
        except live.LiveError as problem:
            flash(str(problem), "error")
        else:
            flash(f"Your RSVP to {session.title} is withdrawn.", "success")
    return redirect(url_for("live.sessions"))


@blueprint.route("/live/<int:session_id>")
@login_required
def room(session_id: int) -> str | Response:
    """The waiting room: before the start, keep the page open; after the pairing, where to go or why not."""
    session = _session(session_id)
    mine = live.rsvp_of(session, current_user.id)
    if session.status == "paired" and mine is not None and mine.outcome == "paired":
        conversation = live.conversation_of(session, current_user.id)
        if conversation is not None:
            return redirect(live.conversation_path(conversation.id))
    if mine is None and session.status == "open" and not live.is_for(session, current_user.id):
        abort(404)
    reason = following = None
    if mine is not None and mine.outcome == "left_over":
        reason = live.leftover_reason(session, current_user.id)
        following = live.next_session_for(current_user.id, session)
    return render_template("live/room.html", session=session, mine=mine, reason=reason, following=following,
                           action_form=ActionForm(), room_open=live.waiting_room_open(session),
                           started=utcnow() >= session.starts_at)


@blueprint.route("/live/<int:session_id>/here", methods=["POST"])
@login_required
def here(session_id: int) -> Response | tuple[Response, int]:
    """The heartbeat (JSON from live.js) or the "I'm here" button (form): records presence."""
    session = _session(session_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    if not ActionForm().validate_on_submit():
        message = "The form expired: reload the page and try again."
        if wants_json:
            return jsonify(error=message), 400
        flash(message, "error")
        return redirect(url_for("live.room", session_id=session.id))
    try:
        live.present(session, current_user)
    except live.LiveError as problem:
        if wants_json:
            return jsonify(error=str(problem), status=session.status), 409
        flash(str(problem), "error")
    else:
        if wants_json:
            return jsonify(ok=True, status=session.status)
        flash("You're here. Reload this page at the start time to see your partner.", "success")
    return redirect(url_for("live.room", session_id=session.id))

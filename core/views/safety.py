"""Safety pages: block and report someone you met here, your blocked list, and the admins' moderation queue."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from core import safety
from core.models import Report, User
from core.questionnaire.profiles import profile_for
from core.room.events import close_rooms_between
from core.views.admin import admin_required
from core.views.forms import TextForm

blueprint = Blueprint("safety", __name__)


class BlockForm(TextForm):
    """Confirm a block (CSRF only)."""


class ReportForm(TextForm):
    """Report a participant: a reason from the list, optional details, and optionally block them too."""

    reason = RadioField("What happened?",
                        choices=[SelectChoice(value, label) for value, label in safety.REASONS.items()],
                        validators=[InputRequired("Choose what happened.")])
    details = TextAreaField("Details (optional)", validators=[Length(
        max=safety.DETAILS_MAX, message=f"Use at most {safety.DETAILS_MAX} characters.")])
    also_block = BooleanField("Block this person as well: you will not see each other again")


class ModerationForm(TextForm):
    """An admin's action on a report, with a note for the record."""

    action = RadioField("Action", choices=[SelectChoice(value, label) for value, label in safety.ACTION_LABELS.items()],
                        validators=[InputRequired("Choose an action.")])
    note = TextAreaField("Note for the record (optional; the participant does not see it)", validators=[
        Length(max=safety.NOTE_MAX, message=f"Use at most {safety.NOTE_MAX} characters.")])


def _someone_seen(user_id: int) -> User:
    """The participant `user_id`, if the current user met them here; 404 otherwise (ids cannot be probed)."""
    other = User.get_or_none(User.id == user_id)
    if other is None or not safety.has_seen(current_user.id, user_id):
        abort(404)
    return other


def _block(other: User) -> None:
    """Block, and close the room of any conversation of the two that is open now."""
    safety.block(current_user, other)
    close_rooms_between(current_user.id, other.id, "This conversation cannot take place. If you reported a "
                                                   "problem, our moderators are looking at it.")


@blueprint.route("/people/<int:user_id>/block", methods=["GET", "POST"])
@login_required
def block(user_id: int) -> str | Response | tuple[str, int]:
    """Confirm, then block someone for good: each disappears from the other's suggestions and invitations."""
    other = _someone_seen(user_id)
    profile = profile_for(other.id, "partners")
    form = BlockForm()
    if form.validate_on_submit():
        _block(other)
        flash(f"{profile.name} is blocked. You will not see each other on this site again.", "success")
        return redirect(url_for("safety.blocked"))
    return render_template("safety/block.html", profile=profile, other=other, form=form), 400 if form.errors else 200


@blueprint.route("/people/<int:user_id>/report", methods=["GET", "POST"])
@login_required
def report(user_id: int) -> str | Response | tuple[str, int]:
    """Report someone you met here; the report goes to the site's admins, never to the person."""
    other = _someone_seen(user_id)
    profile = profile_for(other.id, "partners")
    form = ReportForm()
    if form.validate_on_submit():
        safety.report(current_user, other, form.reason.data, form.details.data or "", "profile")
        if form.also_block.data:
            _block(other)
        return render_template("safety/reported.html", profile=profile, blocked=bool(form.also_block.data))
    return render_template("safety/report.html", profile=profile, other=other, form=form,
                           reasons=safety.REASONS), 400 if form.errors else 200


@blueprint.route("/people/blocked")
@login_required
def blocked() -> str:
    """The people you blocked (blocks are for good: there is no unblocking)."""
    rows = [(row, profile_for(row.blocked_id, "partners")) for row in safety.blocks_made(current_user.id)]
    return render_template("safety/blocked.html", rows=rows)


# --- admin: the moderation queue ---------------------------------------------------------------

@blueprint.route("/admin/moderation")
@admin_required
def queue() -> str:
    """Open reports, newest first, with counts of every state."""
    reports = safety.open_reports()
    return render_template("safety/queue.html", reports=reports, counts=safety.report_counts(),
                           reasons=safety.REASONS, names=_names({row.reported_id for row in reports}))


@blueprint.route("/admin/moderation/<int:report_id>", methods=["GET", "POST"])
@admin_required
def report_detail(report_id: int) -> str | Response | tuple[str, int]:
    """One report, the reported participant's record, and the actions (dismiss, warn, suspend, reinstate)."""
    row = Report.get_or_none(Report.id == report_id)
    if row is None:
        abort(404)
    subject = User.get_by_id(row.reported_id)
    form = ModerationForm()
    allowed = safety.allowed_actions(subject) if row.status == "open" else [
        action for action in safety.allowed_actions(subject) if action != "dismiss"]
    form.action.choices = [SelectChoice(action, safety.ACTION_LABELS[action]) for action in allowed]
    error = None
    if form.validate_on_submit():
        try:
            safety.act(row, current_user, form.action.data, form.note.data or "")
        except safety.SafetyError as problem:
            error = str(problem)
        else:
            flash(_done_message(form.action.data), "success")
            return redirect(url_for("safety.report_detail", report_id=row.id))
    history = safety.history(subject.id)
    return render_template("safety/report_detail.html", report=row, subject=subject, history=history, form=form,
                           reasons=safety.REASONS, error=error,
                           names=_names({row.reporter_id, row.reported_id}
                                        | {item.reporter_id for item in history.reports})), \
        400 if (form.errors or error) else 200


def _done_message(action: str) -> str:
    return {"dismiss": "The report is dismissed.", "warn": "The warning is on its way by email.",
            "suspend": "The account is suspended and signed out everywhere.",
            "reinstate": "The account is active again."}[action]


def _names(user_ids: set[int]) -> dict[int, str]:
    """Names as partners see them (admins identify people by these and by account id)."""
    return {user_id: profile_for(user_id, "partners").name for user_id in user_ids}

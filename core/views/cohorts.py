"""Cohort pages: participants join with an event code; admins create cohorts, pair, edit and confirm them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange

from core import throttle
from core.ids import MAX_ID
from core.matching import cohorts
from core.models import Cohort, CohortMember
from core.questionnaire.profiles import profile_for
from core.views.admin import admin_required
from core.views.forms import TextForm

blueprint = Blueprint("cohorts", __name__)


class JoinForm(TextForm):
    """Join a cohort with the event code."""

    code = StringField("Event code", validators=[InputRequired("Enter the event code you were given."),
                                                 Length(max=cohorts.CODE_MAX, message="That code is too long.")])


class CohortForm(TextForm):
    """Create a cohort."""

    name = StringField("Name", validators=[InputRequired("Give the cohort a name."),
                                           Length(max=120, message="Use at most 120 characters.")])
    code = StringField("Event code", validators=[InputRequired("Choose an event code."),
                                                 Length(max=cohorts.CODE_MAX, message="That code is too long.")])


class ActionForm(TextForm):
    """Propose, confirm (CSRF only)."""


class UnpairForm(TextForm):
    """Remove one proposed pair."""

    pair = IntegerField("Pair", validators=[InputRequired("Choose a pair."),
                                            NumberRange(1, MAX_ID, "Choose a pair from the list.")])


class PairForm(TextForm):
    """Pair two unpaired members by hand."""

    a = SelectField("First person", coerce=int, validators=[InputRequired("Choose the first person.")])
    b = SelectField("Second person", coerce=int, validators=[InputRequired("Choose the second person.")])


@blueprint.route("/cohorts/join", methods=["GET", "POST"])
@login_required
def join() -> str | Response | tuple[str, int]:
    """Join a partner event's cohort with its code (needs a complete profile)."""
    form = JoinForm()
    error, needs_profile, refused = None, False, False
    if form.validate_on_submit():
        attempt = throttle.start_code_attempt(current_user.id)  # refused: the code is not even looked up
        try:
            if attempt.refusal is not None:
                refused = True
                raise cohorts.CohortError(f"Too many wrong codes: try again in {attempt.refusal.wait}. "
                                          "Check the code with the event's organisers.")
            cohort, joined = cohorts.join(current_user, form.code.data)
        except cohorts.CohortError as problem:
            error, needs_profile = str(problem), problem.needs_profile
            form.code.errors = [error]
            if not isinstance(problem, cohorts.UnknownCodeError):
                throttle.code_was_right(attempt)
        else:
            throttle.code_was_right(attempt)
            flash(f"You joined {cohort.name}." if joined else f"You are already in {cohort.name}.", "success")
            return redirect(url_for("cohorts.join"))
    memberships = list(CohortMember.select().where(CohortMember.user == current_user.id).order_by(CohortMember.id))
    status = 429 if refused else 400 if form.errors else 200
    return render_template("cohorts/join.html", form=form, needs_profile=needs_profile,
                           memberships=memberships), status


# --- admin -----------------------------------------------------------------------------------

@blueprint.route("/admin/cohorts", methods=["GET", "POST"])
@admin_required
def admin_list() -> str | Response | tuple[str, int]:
    """Every cohort, and a form to create one."""
    form = CohortForm()
    if form.validate_on_submit():
        try:
            cohort = cohorts.create_cohort(form.name.data, form.code.data, current_user)
        except cohorts.CohortError as problem:
            target = form.name if "name" in str(problem) else form.code
            target.errors = [str(problem)]
        else:
            flash(f"Cohort {cohort.name} is ready: participants join at /cohorts/join with the code {cohort.code}.",
                  "success")
            return redirect(url_for("cohorts.admin_detail", cohort_id=cohort.id))
    rows = [(cohort, CohortMember.select().where(CohortMember.cohort == cohort).count())
            for cohort in Cohort.select().order_by(Cohort.created_at.desc(), Cohort.id.desc())]
    return render_template("cohorts/admin_list.html", form=form, rows=rows), 400 if form.errors else 200


def _cohort(cohort_id: int) -> Cohort:
    cohort = Cohort.get_or_none(Cohort.id == cohort_id)
    if cohort is None:
        abort(404)
    return cohort


def _page(cohort: Cohort, error: str | None = None, pair_form: PairForm | None = None) -> tuple[str, int]:
    pairs = cohorts.proposal(cohort)
    left = cohorts.leftovers(cohort)
    members = cohorts.member_ids(cohort)
    names = {user_id: profile_for(user_id, "partners").name for user_id in members}
    form = pair_form or PairForm()
    pairable = [item.user_id for item in left if item.reason.startswith(("odd", "no compatible"))]
    choices = [SelectChoice(user_id, f"{names[user_id]} (account {user_id})") for user_id in pairable]
    form.a.choices, form.b.choices = choices, choices
    status = 400 if error or (pair_form is not None and pair_form.errors) else 200
    return render_template("cohorts/admin_detail.html", cohort=cohort, pairs=pairs, leftovers=left,
                           members=members, names=names, pair_form=form, action_form=ActionForm(),
                           unpair_form=UnpairForm(), error=error,
                           strategy=cohorts.strategy_name()), status


@blueprint.route("/admin/cohorts/<int:cohort_id>")
@admin_required
def admin_detail(cohort_id: int) -> tuple[str, int]:
    """Members, the proposed pairs with scores, edit controls, leftovers and the confirm button."""
    return _page(_cohort(cohort_id))


@blueprint.route("/admin/cohorts/<int:cohort_id>/propose", methods=["POST"])
@admin_required
def propose(cohort_id: int) -> Response | tuple[str, int]:
    """Replace the proposal with the strategy's pairs."""
    cohort = _cohort(cohort_id)
    if not ActionForm().validate_on_submit():
        return _page(cohort, "The form expired: reload the page and try again.")
    try:
        pairs = cohorts.propose_pairs(cohort)
    except cohorts.CohortError as problem:
        return _page(cohort, str(problem))
    flash(f"Proposed {len(pairs)} pair(s). Check them, edit if needed, then confirm.", "success")
    return redirect(url_for("cohorts.admin_detail", cohort_id=cohort.id))


@blueprint.route("/admin/cohorts/<int:cohort_id>/unpair", methods=["POST"])
@admin_required
def unpair(cohort_id: int) -> Response | tuple[str, int]:
    """Remove one proposed pair."""
    cohort = _cohort(cohort_id)
    form = UnpairForm()
    if not form.validate_on_submit():
        return _page(cohort, "Choose a pair to remove.")
    try:
        cohorts.unpair(cohort, form.pair.data)
    except cohorts.CohortError as problem:
        return _page(cohort, str(problem))
    flash("The pair is removed; both people are unpaired now.", "success")
    return redirect(url_for("cohorts.admin_detail", cohort_id=cohort.id))


@blueprint.route("/admin/cohorts/<int:cohort_id>/pair", methods=["POST"])
@admin_required
def pair(cohort_id: int) -> Response | tuple[str, int]:
    """Pair two unpaired members by hand."""
    cohort = _cohort(cohort_id)
    form = PairForm()
    left = [item.user_id for item in cohorts.leftovers(cohort)]
    form.a.choices = form.b.choices = [SelectChoice(user_id, str(user_id)) for user_id in left]
    if not form.validate_on_submit():
        return _page(cohort, "Choose two unpaired people.", form)
    try:
        made = cohorts.pair_by_hand(cohort, form.a.data, form.b.data)
    except cohorts.CohortError as problem:
        return _page(cohort, str(problem), form)
    flash(f"Paired by hand (score {made.score:.2f}).", "success")
    return redirect(url_for("cohorts.admin_detail", cohort_id=cohort.id))


@blueprint.route("/admin/cohorts/<int:cohort_id>/confirm", methods=["POST"])
@admin_required
def confirm(cohort_id: int) -> Response | tuple[str, int]:
    """Confirm the proposed pairs: their invitations go out."""
    cohort = _cohort(cohort_id)
    if not ActionForm().validate_on_submit():
        return _page(cohort, "The form expired: reload the page and try again.")
    try:
        result = cohorts.confirm(cohort)
    except cohorts.CohortError as problem:
        return _page(cohort, str(problem))
    flash(f"Confirmed {len(result.created)} pair(s): their invitations are on their way.", "success")
    for pair, reason in result.failed:
        flash(f"Not invited: accounts {pair.a_id} and {pair.b_id}: {reason}", "error")
    return redirect(url_for("cohorts.admin_detail", cohort_id=cohort.id))

"""The participant's questionnaire: consent, short steps with progress, what's new, preview, export.

Every page works without JavaScript; answers are checked on the server and errors shown at their
fields, with everything typed kept in the form.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from core.questionnaire import store
from core.questionnaire.definition import Questionnaire, QuestionnaireSection
from core.questionnaire.sharing import VISIBILITY_LABELS, shared_profile
from core.questionnaire.steps import step_list, step_status
from core.views.forms import ConfirmForm, ConsentForm, WithdrawForm

blueprint = Blueprint("questionnaire", __name__, url_prefix="/profile")


def _questionnaire() -> Questionnaire:
    questionnaire = store.active_questionnaire()
    if questionnaire is None:
        abort(503, "This site has no questionnaire yet. Admins: enable the questionnaire_yaml plugin.")
    return questionnaire


def _notice() -> Any:
    return current_app.extensions["oss_connect"].settings.program.privacy_notice


def _stored_form(questionnaire: Questionnaire, questions: list[Any], answers: dict[str, Any]) -> MultiDict:
    """The stored answers of `questions` as form data, to pre-fill their fields."""
    pairs: list[tuple[str, str]] = []
    for question in questions:
        pairs += store.form_fields(question, answers.get(question.id))
    return MultiDict(pairs)


@blueprint.route("/")
@login_required
def overview() -> str | Response:
    """Where the participant stands: consent, each step's status, what is new, the preview."""
    questionnaire = _questionnaire()
    answers = store.current_answers(current_user.id, questionnaire.id)
    consented = store.has_consent(current_user)
    missing = store.missing_questions(questionnaire, answers)
    profile = store.profile_of(current_user)
    returning = profile is not None and profile.completed_version is not None and bool(missing) and consented
    steps = step_list(questionnaire, answers, consented)
    return render_template("questionnaire/overview.html", questionnaire=questionnaire, steps=steps,
                           consented=consented, missing=missing, returning=returning,
                           complete=consented and not missing, withdraw_form=WithdrawForm())


@blueprint.route("/consent", methods=["GET", "POST"])
@login_required
def consent() -> str | Response:
    """Explicit consent to process political views, with the privacy notice's version; nothing is stored before."""
    questionnaire = _questionnaire()
    form = ConsentForm()
    if form.validate_on_submit():
        notice = _notice()
        store.give_consent(current_user, notice.version, consent_text(notice.text))
        store.refresh_profile(current_user, questionnaire)
        return redirect(_next_step_url(questionnaire))
    already = store.has_consent(current_user)
    return render_template("questionnaire/consent.html", form=form, notice=_notice(), already=already,
                           steps=step_list(questionnaire, store.current_answers(current_user.id, questionnaire.id),
                                           already),
                           statement=CONSENT_STATEMENT), 400 if form.errors else 200


CONSENT_STATEMENT = ("I agree that my answers, including my political views, are used to suggest conversation "
                     "partners, and shown to others only where I choose so.")


def consent_text(notice_text: str) -> str:
    """The exact wording agreed to: the statement and the privacy notice (its hash is stored)."""
    return CONSENT_STATEMENT + "\n\n" + notice_text


@blueprint.route("/step/<section_id>", methods=["GET", "POST"])
@login_required
def step(section_id: str) -> str | Response:
    """One step of the questionnaire: save and continue, save and finish later, or preview without saving."""
    questionnaire = _questionnaire()
    section = questionnaire.section(section_id)
    if section is None:
        abort(404)
    if not store.has_consent(current_user):
        flash("Please read and agree to how your answers are used first.", "error")
        return redirect(url_for(".consent"))
    answers = store.current_answers(current_user.id, questionnaire.id)
    if request.method == "POST":
        return _submit(questionnaire, list(section.questions), answers,
                       template_args={"section": section},
                       next_url=lambda: _next_step_url(questionnaire, after=section))
    values = _stored_form(questionnaire, section.questions, answers)
    return _render_step(questionnaire, answers, list(section.questions), values, {}, section=section)


@blueprint.route("/update", methods=["GET", "POST"])
@login_required
def update() -> str | Response:
    """After the questionnaire changed: only the questions that are new or must be answered again."""
    questionnaire = _questionnaire()
    if not store.has_consent(current_user):
        return redirect(url_for(".consent"))
    answers = store.current_answers(current_user.id, questionnaire.id)
    missing = store.missing_questions(questionnaire, answers)
    if not missing:
        return redirect(url_for(".overview"))
    if request.method == "POST":
        return _submit(questionnaire, missing, answers, template_args={"section": None},
                       next_url=lambda: url_for(".preview"))
    return _render_step(questionnaire, answers, missing, _stored_form(questionnaire, missing, answers), {},
                        section=None)


def _submit(questionnaire: Questionnaire, questions: list[Any], answers: dict[str, Any],
            template_args: dict[str, Any], next_url: Any) -> str | Response:
    if not ConfirmForm().validate_on_submit():
        abort(400, "The form expired or came from elsewhere. Reload the page and try again.")
    action = request.form.get("action", "continue")
    result = store.read_step(questionnaire, questions, request.form, allow_missing=action == "later")
    if action == "preview":
        merged = {**answers, **result.values}
        preview = shared_profile(questionnaire, merged, "partners")
        return _render_step(questionnaire, answers, questions, request.form, result.errors, preview=preview,
                            **template_args), 400 if result.errors else 200
    if result.errors:
        if action == "later" and result.values:
            store.save_answers(current_user, questionnaire, result.values)
        return _render_step(questionnaire, answers, questions, request.form, result.errors,
                            partly_saved=action == "later" and bool(result.values), **template_args), 400
    store.save_answers(current_user, questionnaire, result.values)
    if action == "later":
        flash("Saved. Come back whenever you like: your answers are kept.", "success")
        return redirect(url_for(".overview"))
    return redirect(next_url())


def _render_step(questionnaire: Questionnaire, answers: dict[str, Any], questions: list[Any], values: Any,
                 errors: dict[str, str], *, section: QuestionnaireSection | None, preview: Any = None,
                 partly_saved: bool = False) -> str:
    from core.questionnaire.choices import field_options

    consented = store.has_consent(current_user)
    steps = step_list(questionnaire, answers, consented)
    new_ids = {question.id for question in store.missing_questions(questionnaire, answers)}
    profile = store.profile_of(current_user)
    returning = profile is not None and profile.completed_version is not None
    return render_template("questionnaire/step.html", questionnaire=questionnaire, section=section,
                           questions=questions, values=values, errors=errors, steps=steps,
                           preview=preview, partly_saved=partly_saved, options=field_options(),
                           new_ids=new_ids if returning else set(), visibility_labels=VISIBILITY_LABELS,
                           form=ConfirmForm())


def _next_step_url(questionnaire: Questionnaire, after: QuestionnaireSection | None = None) -> str:
    """The next step with something to answer (after `after`), else the preview."""
    answers = store.current_answers(current_user.id, questionnaire.id)
    sections = questionnaire.sections
    start = 0 if after is None else next(i for i, s in enumerate(sections) if s.id == after.id) + 1
    profile = store.profile_of(current_user)
    first_time = profile is None or profile.completed_version is None
    for section in sections[start:]:
        if first_time or step_status(section, answers) != "done":
            return url_for(".step", section_id=section.id)
    return url_for(".preview")


@blueprint.route("/preview")
@login_required
def preview() -> str:
    """Exactly what a suggested partner sees, rendered by the component that shows suggestions."""
    questionnaire = _questionnaire()
    answers = store.current_answers(current_user.id, questionnaire.id)
    partner_view = shared_profile(questionnaire, answers, "partners")
    public_view = shared_profile(questionnaire, answers, "public")
    private = [question for question in questionnaire.questions()
               if (stored := answers.get(question.id)) is not None and stored.value is not None
               and stored.visibility == "private"]
    consented = store.has_consent(current_user)
    return render_template("questionnaire/preview.html", partner_view=partner_view, public_view=public_view,
                           private=private, steps=step_list(questionnaire, answers, consented),
                           missing=store.missing_questions(questionnaire, answers) if consented else None)


@blueprint.route("/withdraw", methods=["POST"])
@login_required
def withdraw() -> Response:
    """Withdraw consent: every answer is erased at once and the profile stops being matched."""
    form = WithdrawForm()
    if not form.validate_on_submit():
        flash("Tick the box to confirm that your answers should be erased.", "error")
        return redirect(url_for(".overview"))
    deleted = store.withdraw_consent(current_user)
    flash(f"Your consent is withdrawn and your {deleted} answers are erased.", "success")
    return redirect(url_for(".overview"))


@blueprint.route("/export.json")
@login_required
def export() -> Response:
    """A copy of the participant's own answers and consents (their data, for them only)."""
    from core.questionnaire.export import export_own_data

    response = jsonify(export_own_data(current_user))
    response.headers["Content-Disposition"] = "attachment; filename=my-profile.json"
    return response

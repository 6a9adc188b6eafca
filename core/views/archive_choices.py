"""After a recorded conversation: each participant's choices and the description both approve.

Only the conversation's two participants reach these pages; anyone else, admins included (they have
their own area), gets a 404. Every refusal is a message on the page, never a server error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.archive import deposits
from core.archive.consent import PURPOSES, Choice, ConsentError, choice_of, deadline, may_decide, record_choice
from core.archive.descriptions import (
    DescriptionError,
    approved_proposal,
    as_description,
    decide,
    own_pending,
    pending_for,
    propose,
)
from core.archive.notices import deposit_institutions, send_proposal_waiting
from core.db import utcnow
from core.models import Conversation
from core.models.recording import Recording
from core.platform import platform
from core.questionnaire.profiles import profile_for
from core.scheduling.conversations import is_participant, partner_id
from core.views.forms import ArchiveChoicesForm, DescriptionDecisionForm, DescriptionForm

blueprint = Blueprint("archive_choices", __name__)
log = logging.getLogger(__name__)

SHORT_LABELS = {"deposit": "Deposit at the archive", "public": "Public on this site", "broadcast": "Broadcast use"}
RESULT_PHRASES = {"deposit": "deposited at the archive", "public": "public", "broadcast": "usable in broadcasts"}
NOUNS = {"deposit": "the deposit", "public": "public", "broadcast": "broadcast use"}


@dataclass(frozen=True)
class Purpose:
    """One of the three choices as the page shows it."""

    key: str
    label: str
    short: str
    explanation: str
    mine: bool | None
    theirs: bool | None
    status: str
    locked: bool  # after the deadline, a purpose not given can no longer be given


def _conversation(conversation_id: int) -> Conversation:
    """The conversation when the viewer is one of its two participants; else 404 (admins included)."""
    found = Conversation.get_or_none(Conversation.id == conversation_id)
    if found is None or not is_participant(found, current_user.id):
        abort(404)
    return found


def _partner_name(conversation: Conversation) -> str:
    return profile_for(partner_id(conversation, current_user.id), "partners").name or "your partner"


def join_words(words: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _explanations() -> dict[str, str]:
    settings = platform().settings
    institutions = deposit_institutions()
    where = join_words(institutions) if institutions else "the archive institution the organisers work with"
    return {
        "deposit": (f"{where[0].upper()}{where[1:]} keep{'s' if len(institutions) <= 1 else ''} the recording for "
                    "the future, with its "
                    "description and the first names you shared; never your email address. People who use the "
                    "archive may listen to it there."),
        "public": (f"Anyone can listen to it on this site's “{settings.archive.public.title}” page and its podcast "
                   "feed, with its description and the first names and bios you chose to show."),
        "broadcast": f"{settings.site.organisation} may use it, or parts of it, on air and in its programmes.",
    }


def status_text(mine: bool | None, theirs: bool | None, partner: str) -> str:
    """What results for one purpose from both decisions, in words."""
    if mine and theirs:
        return "Yes: you both chose it"
    if mine and theirs is None:
        return f"Only if you both choose it — waiting for {partner}"
    if mine:
        return f"No: {partner} did not choose it (it happens only if you both do)"
    if mine is None and theirs:
        return f"Only if you both choose it — {partner} did; waiting for you"
    if mine is None:
        return "No: nobody has chosen it yet"
    return "No: you did not choose it"


def _purposes(conversation: Conversation, mine: Choice | None, theirs: Choice | None, closed: bool) -> list[Purpose]:
    partner = _partner_name(conversation)
    explanations = _explanations()
    labels = {"deposit": "Deposit it at the archive", "public": "Publish it on this site",
              "broadcast": f"Allow {platform().settings.site.organisation} to use it in broadcasts"}
    found = []
    for key in PURPOSES:
        given = mine.allows(key) if mine is not None else None
        partners = theirs.allows(key) if theirs is not None else None
        found.append(Purpose(key=key, label=labels[key], short=SHORT_LABELS[key], explanation=explanations[key],
                             mine=given, theirs=partners, status=status_text(given, partners, partner),
                             locked=closed and not given))
    return found


def _audio_url(conversation_id: int) -> str | None:
    """The private listening URL of a processed recording (the listen blueprint's route), else None."""
    recording = Recording.get_or_none(Recording.conversation == conversation_id)
    if recording is None or recording.status != "processed":
        return None
    if "listen.conversation_audio" in current_app.view_functions:
        return url_for("listen.conversation_audio", conversation_id=conversation_id)
    return f"{request.script_root}/conversations/{conversation_id}/recording/audio"


def _prefill(conversation: Conversation) -> dict[str, str]:
    """The description form's values: the viewer's own pending proposal, else the approved description."""
    source = own_pending(conversation, current_user.id) or approved_proposal(conversation)
    if source is None:
        return {}
    description = as_description(source)
    values = {"title": description.title, "summary": description.summary, "location": description.location,
              "places": "\n".join(description.places)}
    for facet in ("keywords", "people", "organisations", "languages"):
        values[facet] = ", ".join(getattr(description, facet))
    return values


def _page(conversation: Conversation, *, description_form: DescriptionForm | None = None,
          description_error: str = "", status: int = 200) -> Any:
    """Render the choices page (with any description form errors)."""
    me = current_user.id
    mine, theirs = choice_of(conversation, me), choice_of(conversation, partner_id(conversation, me))
    closes = deadline(conversation)
    closed = closes is not None and utcnow() > closes
    release = platform().settings.archive.release
    choices_form = ArchiveChoicesForm(formdata=None, data={key: bool(mine and mine.allows(key)) for key in PURPOSES})
    if description_form is None:
        description_form = DescriptionForm(formdata=None, data=_prefill(conversation))
    approved = approved_proposal(conversation)
    waiting = pending_for(conversation, me)
    mine_pending = own_pending(conversation, me)
    return render_template(
        "archive/choices.html", conversation=conversation, partner_name=_partner_name(conversation),
        decidable=may_decide(conversation), audio_url=_audio_url(conversation.id), release=release,
        mine=mine, theirs=theirs, closes=closes, closed=closed,
        purposes=_purposes(conversation, mine, theirs, closed), choices_form=choices_form,
        approved=as_description(approved) if approved else None,
        waiting=waiting, waiting_description=as_description(waiting) if waiting else None,
        own_pending=mine_pending, own_description=as_description(mine_pending) if mine_pending else None,
        description_form=description_form, description_error=description_error,
        decision_form=DescriptionDecisionForm(formdata=None)), status


def _plan(conversation: Conversation) -> None:
    """Bring deposits and publication in line; a failure is logged for the admins, the choice stays saved."""
    try:
        deposits.plan(conversation)
    except Exception:
        log.exception("planning the deposits of conversation %s failed", conversation.id)


def change_message(before: Choice | None, after: dict[str, bool], theirs: Choice | None, partner: str) -> str:
    """One sentence saying what a saved choice changed ("Saved. Your conversation will be public once
    Ben chooses public too." / "Withdrawn: it is no longer public.")."""
    held = {key: bool(before and before.allows(key)) for key in PURPOSES}
    given = [key for key in PURPOSES if after[key] and not held[key]]
    taken = [key for key in PURPOSES if held[key] and not after[key]]
    partner_agrees = {key: bool(theirs and theirs.allows(key)) for key in PURPOSES}
    if not given and not taken:
        if before is None and not any(after.values()):
            return ("Saved: the recording stays private. Nothing is deposited, published or used in broadcasts "
                    "unless you change your mind.")
        return "Saved. Nothing changed."
    parts = []
    if given:
        now = [key for key in given if partner_agrees[key]]
        later = [key for key in given if not partner_agrees[key]]
        saved = []
        if now:
            saved.append(f"your conversation will be {join_words([RESULT_PHRASES[key] for key in now])}")
        if later:
            saved.append(f"your conversation will be {join_words([RESULT_PHRASES[key] for key in later])} once "
                         f"{partner} chooses {join_words([NOUNS[key] for key in later])} too")
        text = "; ".join(saved)
        parts.append("Saved. " + text[0].upper() + text[1:])
    if taken:
        ended = [key for key in taken if partner_agrees[key]]
        dropped = [key for key in taken if not partner_agrees[key]]
        withdrawn = []
        if ended:
            withdrawn.append(f"it is no longer {join_words([RESULT_PHRASES[key] for key in ended])}")
        if dropped:
            withdrawn.append(f"you no longer agree to {join_words([NOUNS[key] for key in dropped])}")
        parts.append(("withdrawn: " if given else "Withdrawn: ") + "; ".join(withdrawn))
    return "; ".join(parts) + "."


@blueprint.app_context_processor
def _links() -> dict[str, Any]:
    return {"archive_choices_link": archive_choices_link}


def archive_choices_link(conversation: Any) -> str:
    """The choices page of a conversation with a recording, for its participants (else "")."""
    if not (current_user and current_user.is_authenticated) or conversation is None:
        return ""
    if not is_participant(conversation, current_user.id) or not may_decide(conversation):
        return ""
    return url_for("archive_choices.page", conversation_id=conversation.id)


@blueprint.route("/conversations/<int:conversation_id>/archive")
@login_required
def page(conversation_id: int) -> Any:
    """The participant's choices (deposit, public, broadcast), their partner's, and the description."""
    return _page(_conversation(conversation_id))


@blueprint.route("/conversations/<int:conversation_id>/archive/choices", methods=["POST"])
@login_required
def save_choices(conversation_id: int) -> Any:
    """Record the participant's choices with the release's version and SHA-256, then plan the deposits."""
    conversation = _conversation(conversation_id)
    back = url_for("archive_choices.page", conversation_id=conversation.id)
    form = ArchiveChoicesForm()
    if not form.validate():
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
        return redirect(back + "#choices", 303)
    me = current_user.id
    before, theirs = choice_of(conversation, me), choice_of(conversation, partner_id(conversation, me))
    after = {key: bool(getattr(form, key).data) for key in PURPOSES}
    try:
        record_choice(conversation, me, **after)
    except ConsentError as error:
        flash(str(error), "error")
        return redirect(back + "#choices", 303)
    _plan(conversation)
    flash(change_message(before, after, theirs, _partner_name(conversation)), "success")
    return redirect(back + "#choices", 303)


@blueprint.route("/conversations/<int:conversation_id>/archive/description", methods=["POST"])
@login_required
def propose_description(conversation_id: int) -> Any:
    """Propose a title, summary and keywords; the partner approves (and is told by email)."""
    conversation = _conversation(conversation_id)
    form = DescriptionForm()
    if not may_decide(conversation):
        flash("There is no recording of this conversation to describe yet.", "error")
        return redirect(url_for("archive_choices.page", conversation_id=conversation.id), 303)
    if not form.validate():
        return _page(conversation, description_form=form, status=400,
                     description_error="Please correct the highlighted fields.")
    try:
        proposal = propose(conversation, current_user.id, title=form.title.data, summary=form.summary.data,
                           **{facet: form.terms(facet) for facet in ("keywords", "people", "places", "organisations",
                                                                     "languages")},
                           location=form.location.data or "")
    except DescriptionError as error:
        _place_error(form, str(error))
        return _page(conversation, description_form=form, status=400, description_error=str(error))
    try:
        send_proposal_waiting(conversation, proposal)
    except Exception:  # the proposal stands; the partner still sees it on the page
        log.exception("could not email the partner about proposal %s", proposal.id)
    flash(f"Proposed. {_partner_name(conversation)} sees it on this page and approves it; we let them know by email.",
          "success")
    return redirect(url_for("archive_choices.page", conversation_id=conversation.id) + "#description", 303)


def _place_error(form: DescriptionForm, message: str) -> None:
    """Show a description service's refusal at the field it is about (else only above the form)."""
    lowered = message.casefold()
    for name in ("title", "summary", "keyword", "people", "places", "organisations", "languages", "location"):
        if name in lowered:
            field = form.keywords if name == "keyword" else getattr(form, name)
            field.errors = [*field.errors, message]
            return


@blueprint.route("/conversations/<int:conversation_id>/archive/description/<int:proposal_id>/decide",
                 methods=["POST"])
@login_required
def decide_description(conversation_id: int, proposal_id: int) -> Any:
    """Approve or decline the partner's proposed description; an approval replans the deposits."""
    conversation = _conversation(conversation_id)
    back = url_for("archive_choices.page", conversation_id=conversation.id) + "#description"
    form = DescriptionDecisionForm()
    if not form.validate():
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
        return redirect(back, 303)
    approve = form.decision.data == "approve"
    try:
        decide(conversation, current_user.id, proposal_id, approve=approve)
    except DescriptionError as error:
        flash(str(error), "error")
        return redirect(back, 303)
    if approve:
        _plan(conversation)
        flash("Approved: this is now your conversation's description.", "success")
    else:
        flash(f"Declined. {_partner_name(conversation)} can propose another, or you can propose your own below.",
              "success")
    return redirect(back, 303)


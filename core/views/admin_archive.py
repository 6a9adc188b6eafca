"""Admin → Archive: each recorded conversation's choices and description, its deposits per destination
with their progress, and the actions: retry, withdraw, release, and "told the institution"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from core.archive import deposits as pipeline
from core.archive.consent import choice_of, deadline
from core.archive.descriptions import approved_proposal
from core.archive.gather import identifier_of
from core.models import Conversation, User
from core.models.archive import Deposit, DescriptionProposal
from core.models.recording import Recording
from core.platform import platform
from core.room.calls import display_name
from core.views.admin import admin_required
from core.views.forms import TextForm

blueprint = Blueprint("admin_archive", __name__, url_prefix="/admin/archive")
ACTIVE = ("pending", "running")


def progress_of(row: Deposit) -> dict[str, Any]:
    """A deposit's state, as the page and its poller show it."""
    return {"id": row.id, "status": row.status, "status_label": pipeline.status_label(row),
            "active": row.status in ACTIVE, "progress": round(row.progress, 3), "label": row.progress_label,
            "error": row.error}


@blueprint.route("")
@admin_required
def archive() -> str:
    """Recorded conversations, newest first, with choices, description and deposits."""
    recordings = list(Recording.select().where(Recording.status == "processed")
                      .order_by(Recording.processed_at.desc()).limit(200))
    ids = [recording.conversation_id for recording in recordings]
    conversations = {c.id: c for c in Conversation.select().where(Conversation.id.in_(ids))}
    people = {user.id: display_name(user, "participant") for user in User.select().where(User.id.in_(
        [c.a_id for c in conversations.values()] + [c.b_id for c in conversations.values()]))}
    deposits: dict[int, list[Deposit]] = {conversation_id: [] for conversation_id in ids}
    for row in Deposit.select().where(Deposit.conversation.in_(ids)).order_by(Deposit.destination):
        deposits[row.conversation_id].append(row)
    pending_descriptions = {row.conversation_id for row in DescriptionProposal.select(
        DescriptionProposal.conversation).where(DescriptionProposal.conversation.in_(ids)
                                                & (DescriptionProposal.status == "proposed"))}
    items = []
    for recording in recordings:
        conversation = conversations[recording.conversation_id]
        items.append({
            "conversation": conversation, "recording": recording,
            "names": (people.get(conversation.a_id, "?"), people.get(conversation.b_id, "?")),
            "choices": (choice_of(conversation, conversation.a_id), choice_of(conversation, conversation.b_id)),
            "description": approved_proposal(conversation),
            "description_waiting": conversation.id in pending_descriptions,
            "deadline": deadline(conversation),
            "deposits": deposits[conversation.id],
        })
    by_hand = list(Deposit.select().where(Deposit.by_hand.is_null(False) & Deposit.told_at.is_null())
                   .order_by(Deposit.withdrawn_at.desc()))
    names = {name: destination.institution for name, destination in pipeline.destinations().items()}
    contacts = {name: destination.contact for name, destination in pipeline.destinations().items()}
    identifiers = {conversation.id: identifier_of(conversation) for conversation in Conversation.select().where(
        Conversation.id.in_([row.conversation_id for row in by_hand]))}
    return render_template("archive/admin_archive.html", items=items, by_hand=by_hand, institutions=names,
                           identifiers=identifiers, contacts=contacts,
                           status_label=pipeline.status_label, form=TextForm(),
                           identifier_prefix=platform().settings.archive.identifier_prefix)


@blueprint.route("/deposits/<int:deposit_id>/progress.json")
@admin_required
def progress(deposit_id: int) -> Any:
    """One deposit's progress (polled by the page)."""
    row = Deposit.get_or_none(Deposit.id == deposit_id)
    if row is None:
        return jsonify(error="There is no such deposit.", code="not_found"), 404
    return jsonify(ok=True, **progress_of(row))


def _act(deposit_id: int, action: str) -> Response:
    """Run one admin action on a deposit after the CSRF check, with a message saying what happens."""
    row = Deposit.get_or_none(Deposit.id == deposit_id)
    if row is None:
        abort(404)
    if not TextForm().validate():
        flash("The form expired; try again.", "error")
    elif action == "retry":
        if row.status == "running":
            flash("This deposit is being worked on right now; its progress is shown below.", "error")
        elif row.held:
            flash("An admin withdrew this deposit; release it first to let the participants' choices decide.",
                  "error")
        else:
            pipeline.retry(row)
            flash(f"{row.destination}: queued now; this page shows its progress.", "success")
    elif action == "withdraw":
        pipeline.withdraw_by_admin(row)
        flash(f"{row.destination}: withdrawal queued. It stays withdrawn until you release it.", "success")
    elif action == "release":
        queued = pipeline.release(row)
        flash(f"{row.destination}: released; the participants' choices decide again"
              f"{' and a deposit is queued' if queued else ''}.", "success")
    elif action == "told":
        pipeline.mark_told(row, current_user.id)
        flash(f"Noted: {row.destination}'s institution was told of the withdrawal.", "success")
    return redirect(url_for("admin_archive.archive") + f"#conversation-{row.conversation_id}")


@blueprint.route("/deposits/<int:deposit_id>/retry", methods=["POST"])
@admin_required
def retry(deposit_id: int) -> Response:
    """Do a failed or waiting deposit (or withdrawal) now."""
    return _act(deposit_id, "retry")


@blueprint.route("/deposits/<int:deposit_id>/withdraw", methods=["POST"])
@admin_required
def withdraw(deposit_id: int) -> Response:
    """Withdraw a deposit whatever the participants chose, until released."""
    return _act(deposit_id, "withdraw")


@blueprint.route("/deposits/<int:deposit_id>/release", methods=["POST"])
@admin_required
def release(deposit_id: int) -> Response:
    """Undo an admin's withdrawal: the participants' choices decide again."""
    return _act(deposit_id, "release")


@blueprint.route("/deposits/<int:deposit_id>/told", methods=["POST"])
@admin_required
def told(deposit_id: int) -> Response:
    """Record that the institution was told of a withdrawal by hand."""
    return _act(deposit_id, "told")

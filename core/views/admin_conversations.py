"""Admin: upcoming and recent conversations, assigning a facilitator, and joining a room to observe."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core.db import utcnow
from core.ids import valid_id
from core.models import Conversation, User
from core.room.access import role_in
from core.room.calls import display_name
from core.room.events import expel
from core.views.admin import admin_required
from core.views.forms import TextForm

blueprint = Blueprint("admin_conversations", __name__, url_prefix="/admin")

LISTED_STATES = ("scheduled", "in_progress", "completed")


def _names(conversation: Conversation) -> str:
    return " and ".join(display_name(User.get_by_id(user_id), "participant")
                        for user_id in (conversation.a_id, conversation.b_id))


def _expel_removed_facilitator(before: Conversation) -> None:
    """A facilitator taken off a conversation leaves its room at once (an admin may stay, as an admin)."""
    previous = User.get_or_none(User.id == before.facilitator_id) if before.facilitator_id else None
    after = Conversation.get_by_id(before.id)
    if previous is not None and after.facilitator_id != previous.id and role_in(after, previous) is None:
        expel(after, previous.id, "You no longer facilitate this conversation, so you have left its room.")


@blueprint.route("/conversations")
@admin_required
def conversations() -> str:
    """Booked conversations from a week ago on, soonest first, with their facilitators."""
    since = utcnow() - dt.timedelta(days=7)
    listed = list(Conversation.select().where(Conversation.status.in_(LISTED_STATES)
                                              & (Conversation.starts_at >= since))
                  .order_by(Conversation.starts_at))
    facilitators = list(User.select().where((User.role.in_(("facilitator", "admin"))) & User.is_active)
                        .order_by(User.email))
    return render_template("room/admin_conversations.html", conversations=listed, facilitators=facilitators,
                           names={c.id: _names(c) for c in listed}, form=TextForm())


@blueprint.route("/conversations/<int:conversation_id>/facilitator", methods=["POST"])
@admin_required
def assign(conversation_id: int) -> Response:
    """Assign (or remove) the facilitator of a conversation."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        abort(404)
    form = TextForm()
    if not form.validate():
        flash("The form expired; try again.", "error")
        return redirect(url_for("admin_conversations.conversations"))
    chosen = (request.form.get("facilitator") or "").strip()
    facilitator: Any = None
    if chosen:
        facilitator = User.get_or_none(User.id == (valid_id(chosen) or 0))
        if facilitator is None or not facilitator.has_role("facilitator") or not facilitator.is_active:
            flash("Choose a facilitator from the list (accounts with the facilitator role).", "error")
            return redirect(url_for("admin_conversations.conversations"))
        if facilitator.id in (conversation.a_id, conversation.b_id):
            flash("A participant cannot facilitate their own conversation.", "error")
            return redirect(url_for("admin_conversations.conversations"))
    Conversation.update(facilitator=facilitator.id if facilitator else None, updated_at=utcnow()).where(
        Conversation.id == conversation.id).execute()
    _expel_removed_facilitator(conversation)
    flash(f"{facilitator.email if facilitator else 'Nobody'} now facilitates the conversation of "
          f"{_names(conversation)}.", "success")
    return redirect(url_for("admin_conversations.conversations"))

"""The calendar download: a conversation's .ics for its participants, its facilitator and admins."""

from __future__ import annotations

from flask import Blueprint, Response, abort
from flask_login import current_user, login_required

from core.models import Conversation
from core.scheduling.calendar import ics_for, recipient_zone

blueprint = Blueprint("calendar", __name__)


@blueprint.get("/conversations/<int:conversation_id>/calendar.ics")
@login_required
def download(conversation_id: int) -> Response:
    """The conversation's invitation (or cancellation) in the viewer's zone; 404 for anyone else."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None or conversation.starts_at is None:
        abort(404)
    allowed = (current_user.id in (conversation.a_id, conversation.b_id, conversation.facilitator_id)
               or current_user.has_role("admin"))
    if not allowed:
        abort(404)
    method = "CANCEL" if conversation.status == "cancelled" else "REQUEST"
    participant = current_user.id in (conversation.a_id, conversation.b_id)
    body = ics_for(conversation, method, recipient=current_user if participant else None,
                   zone=recipient_zone(current_user))
    return Response(body, mimetype="text/calendar", headers={
        "Content-Type": f"text/calendar; charset=utf-8; method={method}",
        "Content-Disposition": f'attachment; filename="conversation-{conversation.id}.ics"'})

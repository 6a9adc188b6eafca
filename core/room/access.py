"""Who may be in a conversation's room, and when: the two participants, the assigned facilitator and
admins, only within the booked window (from `scheduling.early_entry_minutes` before the start to the
end of the slot), and never two participants whose contact is frozen by a block or a report."""

from __future__ import annotations

import datetime as dt

from core.db import utcnow
from core.models import Conversation, User
from core.safety import is_blocked_either_way
from core.scheduling.presence import join_window

ROOM_STATES = ("scheduled", "in_progress")


def role_in(conversation: Conversation, user: User) -> str | None:
    """The user's role in the conversation, whatever the time: participant, facilitator, admin or None."""
    if user is None or not user.is_active:
        return None
    if user.id in (conversation.a_id, conversation.b_id):
        return "participant"
    if conversation.facilitator_id == user.id:
        return "facilitator"
    if user.role == "admin":
        return "admin"
    return None


def refusal(conversation: Conversation | None, user: User | None, now: dt.datetime | None = None) -> str | None:
    """Why `user` may not be in the room now (a sentence for them), or None when they may."""
    if conversation is None or user is None or role_in(conversation, user) is None:
        return "not_found"
    if conversation.status not in ROOM_STATES:
        return "This conversation's room is closed."
    window = join_window(conversation)
    now = now or utcnow()
    if window is None:
        return "This conversation has no time booked yet."
    if now < window[0]:
        return "The room is not open yet."
    if now > window[1]:
        return "The time of this conversation has passed, so its room is closed."
    if is_blocked_either_way(conversation.a_id, conversation.b_id):
        return "This conversation cannot take place. If you reported a problem, our moderators are looking at it."
    return None


def room_role(user_id: int, conversation_id: int, now: dt.datetime | None = None) -> str | None:
    """The role of `user_id` if they may be in the conversation's room right now, else None."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    user = User.get_or_none(User.id == user_id)
    if refusal(conversation, user, now) is not None:
        return None
    return role_in(conversation, user)

"""The room's Socket.IO events. Every event is authorised against the conversation: the sender must be
one of its two participants, its facilitator or an admin, within the booked window, and (after
`room_join`) admitted on this very connection. Answers are acknowledgements: {"ok": true, ...} or
{"error": sentence, "code": word}; a handler never raises to the client. Each connection has a rate
limit (core.realtime_limits, `realtime.event_burst` / `events_per_second`): a flood is refused with
"rate_limited" and never broadcast.

Events (client → server): room_join, room_leave, room_action, room_note, call_status.
Broadcasts (server → the conversation's Socket.IO room): room_state, room_members, member_status,
room_closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_login import current_user
from flask_socketio import SocketIO, join_room, leave_room

from core.db import database, utcnow
from core.ids import valid_id
from core.input_checks import multi_line_problem
from core.models import Conversation, ConversationNote, RoomConnection, User
from core.realtime import drop_connections, leave_socket_room, on_disconnect
from core.realtime_limits import allow, handler_slot, rate_limited
from core.room import state as room_state
from core.room.access import ROOM_STATES, refusal, role_in
from core.room.calls import display_name, end_call
from core.room.notes import NOTE_MAX
from core.scheduling.presence import record_presence

log = logging.getLogger(__name__)


CLIENT_STATUSES = ("connecting", "connected", "reconnecting", "disconnected", "failed", "left")


def conversation_room(conversation_id: int) -> str:
    """The Socket.IO room of a conversation (only admitted connections are in it)."""
    return f"conversation:{conversation_id}"


def refused(message: str, code: str = "forbidden") -> dict[str, Any]:
    """An acknowledgement that refuses an event."""
    return {"error": message, "code": code}


def members(conversation: Conversation) -> list[dict[str, Any]]:
    """Everyone connected to the room now, once each: id, name and role (no emails)."""
    seen: dict[int, dict[str, Any]] = {}
    for connection in (RoomConnection.select(RoomConnection, User).join(User)
                       .where(RoomConnection.conversation == conversation.id)
                       .order_by(RoomConnection.connected_at)):
        if connection.user_id not in seen:
            seen[connection.user_id] = {"id": connection.user_id, "role": connection.role,
                                        "name": display_name(connection.user, connection.role)}
    return list(seen.values())


def _authorised(data: Any, joined: bool = True) -> tuple[Conversation, User, str] | dict[str, Any]:
    """The conversation, user and role for an event's data, or a refusal to acknowledge with."""
    if not isinstance(data, dict):
        return refused("Send an object with the conversation_id.", "bad_request")
    conversation_id = data.get("conversation_id")
    if isinstance(conversation_id, str) or valid_id(conversation_id) is None:
        return refused("conversation_id must be a positive whole number.", "bad_request")
    if not current_user.is_authenticated:
        drop_connections([request.sid], delay=0.5)  # its session ended: this connection goes too, after the answer
        return refused("Sign in again.", "unauthenticated")
    user = User.get_or_none(User.id == current_user.id)
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    reason = refusal(conversation, user)
    if reason == "not_found":
        return refused("There is no such conversation.", "not_found")
    if reason is not None:
        return refused(reason, "closed")
    if joined and not RoomConnection.select().where((RoomConnection.sid == request.sid)
                                                    & (RoomConnection.conversation == conversation_id)).exists():
        return refused("Join the room first.", "not_joined")
    return conversation, user, role_in(conversation, user)


def _handler(function: Callable[..., dict[str, Any]], joined: bool = True) -> Callable[[Any], dict[str, Any]]:
    """Wrap an event: the connection's rate limit, database connection, authorisation, and no exception ever
    reaching the client. An event over the limit is refused ("rate_limited") before anything else happens."""
    def handle(data: Any = None) -> dict[str, Any]:
        try:
            if not allow("events"):
                return rate_limited("events")
            with handler_slot(), database.connection_context():
                checked = _authorised(data, joined=joined)
                if isinstance(checked, dict):
                    return checked
                return function(data, *checked)
        except Exception:
            log.exception("room event %s failed", function.__name__)
            return refused("Something went wrong on our side; reload the page.", "server_error")
    handle.__name__ = function.__name__
    return handle


def _socketio() -> SocketIO:
    return current_app.extensions["socketio"]


def broadcast_members(conversation: Conversation) -> None:
    """Tell everyone in the room who is there now."""
    _socketio().emit("room_members", {"conversation_id": conversation.id, "members": members(conversation)},
                     to=conversation_room(conversation.id))


def room_join(data: Any, conversation: Conversation, user: User, role: str) -> dict[str, Any]:
    """Admit this connection to the room; answer with the state, the members and who I am."""
    with database.atomic():
        RoomConnection.delete().where(RoomConnection.sid == request.sid).execute()
        RoomConnection.create(conversation=conversation.id, user=user.id, sid=request.sid, role=role,
                              connected_at=utcnow())
    if role == "participant":
        record_presence(conversation, user.id)
    join_room(conversation_room(conversation.id))
    broadcast_members(conversation)
    current_app.extensions["oss_connect"].hook.call_status_changed(conversation=conversation, status="joined")
    return {"ok": True, "state": room_state.snapshot(conversation), "members": members(conversation),
            "me": {"id": user.id, "role": role, "name": display_name(user, role)}}


def room_leave(data: Any, conversation: Conversation, user: User, role: str) -> dict[str, Any]:
    """Take this connection out of the room."""
    RoomConnection.delete().where(RoomConnection.sid == request.sid).execute()
    leave_room(conversation_room(conversation.id))
    broadcast_members(conversation)
    current_app.extensions["oss_connect"].hook.call_status_changed(conversation=conversation, status="left")
    return {"ok": True}


def room_action(data: Any, conversation: Conversation, user: User, role: str) -> dict[str, Any]:
    """Move the guide, consent, pause/resume/stop the recording, give a cue, or end the conversation."""
    action = data.get("action")
    if not isinstance(action, str):
        return refused("Say which action: " + ", ".join(room_state.ACTIONS) + ".", "bad_request")
    outcome: dict[str, Any] = {}
    try:
        snapshot = room_state.apply_action(conversation, user, role, action, data, outcome)
    except room_state.StaleStateError as stale:
        return {"error": str(stale), "code": stale.code, "state": stale.state}
    except room_state.RoomActionError as error:
        return refused(str(error), error.code)
    _socketio().emit("room_state", snapshot, to=conversation_room(conversation.id))
    if action == "end" and outcome.get("changed"):
        finish(conversation)
    return {"ok": True, "state": snapshot}


def finish(conversation: Conversation, message: str = "The conversation has ended. Thank you.") -> None:
    """End the call for everyone in the room, once, and fire conversation_ended."""
    end_call(conversation)
    _socketio().emit("room_closed", {"conversation_id": conversation.id, "message": message},
                     to=conversation_room(conversation.id))
    current_app.extensions["oss_connect"].hook.conversation_ended(conversation=conversation)


def room_note(data: Any, conversation: Conversation, user: User, role: str) -> dict[str, Any]:
    """A facilitator's keyword note, timestamped with the conversation's timer."""
    if role not in room_state.LEAD_ROLES:
        return refused("Only the facilitator writes notes during the conversation.", "forbidden")
    keywords = data.get("keywords")
    if not isinstance(keywords, str) or not keywords.strip():
        return refused("Write a few keywords.", "bad_request")
    if len(keywords) > NOTE_MAX or "\x00" in keywords:
        return refused(f"Keep a note under {NOTE_MAX} characters.", "bad_request")
    problem = multi_line_problem(keywords, "A note")
    if problem:
        return refused(problem, "bad_request")
    state = room_state.room_state(conversation)
    offset = room_state.elapsed_seconds(state) if state.timer_started_at else 0.0
    note = ConversationNote.create(conversation=conversation.id, author=user.id, offset_seconds=offset,
                                   keywords=keywords.strip(), created_at=utcnow())
    return {"ok": True, "note": {"id": note.id, "offset_seconds": offset, "keywords": note.keywords}}


def call_status(data: Any, conversation: Conversation, user: User, role: str) -> dict[str, Any]:
    """The browser's call status (connected, reconnecting, ...), shown to the others in the room."""
    status = data.get("status")
    if status not in CLIENT_STATUSES:
        return refused("status must be one of " + ", ".join(CLIENT_STATUSES) + ".", "bad_request")
    _socketio().emit("member_status", {"conversation_id": conversation.id, "user_id": user.id, "status": status},
                     to=conversation_room(conversation.id), skip_sid=request.sid)
    current_app.extensions["oss_connect"].hook.call_status_changed(conversation=conversation, status=status)
    return {"ok": True}


def disconnected(*args: Any) -> None:
    """A connection closed: take it out of every room it was in and tell the others."""
    try:
        with database.connection_context():
            rows = list(RoomConnection.select().where(RoomConnection.sid == request.sid))
            if not rows:
                return
            RoomConnection.delete().where(RoomConnection.sid == request.sid).execute()
            for row in rows:
                conversation = Conversation.get_or_none(Conversation.id == row.conversation_id)
                if conversation is not None:
                    broadcast_members(conversation)
    except Exception:
        log.exception("room disconnect cleanup failed")


def expel(conversation: Conversation, user_id: int,
          message: str = "You are no longer part of this conversation.") -> int:
    """Take every connection of `user_id` out of the conversation's room (on any process), tell them
    why, and tell the others who is left; their session stays. Returns how many connections left."""
    rows = list(RoomConnection.select().where((RoomConnection.conversation == conversation.id)
                                              & (RoomConnection.user == user_id)))
    if not rows:
        return 0
    RoomConnection.delete().where(RoomConnection.id.in_([row.id for row in rows])).execute()
    for row in rows:
        leave_socket_room(row.sid, conversation_room(conversation.id))
        _socketio().emit("room_closed", {"conversation_id": conversation.id, "message": message}, to=row.sid)
    broadcast_members(conversation)
    return len(rows)


def close_rooms_between(a_id: int, b_id: int, message: str) -> int:
    """After a block: everyone leaves the rooms of the two people's open conversations (such a room
    refuses every event from now on; see core.room.access)."""
    conversations = Conversation.select().where(
        (((Conversation.a == a_id) & (Conversation.b == b_id)) | ((Conversation.a == b_id) & (Conversation.b == a_id)))
        & Conversation.status.in_(ROOM_STATES))
    expelled = 0
    for conversation in conversations:
        for user_id in {row.user_id for row in RoomConnection.select(RoomConnection.user)
                        .where(RoomConnection.conversation == conversation.id)}:
            expelled += expel(conversation, user_id, message)
    return expelled


def register_room_events(socketio: SocketIO) -> None:
    """Register the room's events on the app's Socket.IO server."""
    socketio.on_event("room_join", _handler(room_join, joined=False))
    socketio.on_event("room_leave", _handler(room_leave))
    socketio.on_event("room_action", _handler(room_action))
    socketio.on_event("room_note", _handler(room_note))
    socketio.on_event("call_status", _handler(call_status))
    on_disconnect(socketio, disconnected)

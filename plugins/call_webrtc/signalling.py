"""Signalling over the site's Socket.IO: offers, answers and ICE candidates between the browsers of a call.

Every event is checked before anything is relayed: the connection's rate limit (`realtime.signal_burst`
and `signals_per_second` for signals; a flood is refused with code "rate_limited" and relayed to nobody),
its shape and size, that the sender may be in that conversation's room right now, and that the recipient
is a member of the same conversation.
A refusal is the event's acknowledgement, `{"error": "..."}`; it never raises.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from flask_login import current_user
from flask_socketio import join_room

from core.api import database, limit_socket_events, notify, room_role
from plugins.call_webrtc.provider import webrtc_room

log = logging.getLogger(__name__)

SIGNAL_EVENT = "webrtc_signal"
JOIN_EVENT = "webrtc_join"
MAX_SDP_BYTES = 100 * 1024
MAX_CANDIDATE_CHARS = 1024
SESSION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SIGNAL_KEYS = {"conversation_id", "to", "description", "candidate", "restart", "session", "to_session", "pc",
               "to_pc"}
CANDIDATE_KEYS = {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}


class SignalError(ValueError):
    """A signalling event that is malformed or not allowed; the message goes back as the ack."""


@dataclass(frozen=True)
class Signal:
    """A checked `webrtc_signal` event."""

    conversation_id: int
    to: int
    message: dict[str, Any]  # what is relayed besides conversation_id and from


def _whole_number(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise SignalError(f"{key} must be a positive whole number")
    return value


def _description(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"type", "sdp"}:
        raise SignalError("description must be {type, sdp}")
    if value.get("type") not in ("offer", "answer"):
        raise SignalError("description.type must be offer or answer")
    sdp = value.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise SignalError("description.sdp must be text")
    if len(sdp.encode("utf-8")) > MAX_SDP_BYTES:
        raise SignalError(f"description.sdp is too large (at most {MAX_SDP_BYTES // 1024} KB)")
    return {"type": value["type"], "sdp": sdp}


def _candidate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - CANDIDATE_KEYS or not isinstance(value.get("candidate"), str):
        raise SignalError("candidate must be {candidate, sdpMid, sdpMLineIndex, usernameFragment}")
    if len(value["candidate"]) > MAX_CANDIDATE_CHARS:
        raise SignalError(f"candidate.candidate is too long (at most {MAX_CANDIDATE_CHARS} characters)")
    for key in ("sdpMid", "usernameFragment"):
        if value.get(key) is not None and (not isinstance(value[key], str) or len(value[key]) > 256):
            raise SignalError(f"candidate.{key} must be short text or null")
    index = value.get("sdpMLineIndex")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1024):
        raise SignalError("candidate.sdpMLineIndex must be a small whole number or null")
    return {key: value.get(key) for key in CANDIDATE_KEYS if key in value}


def parse_signal(data: Any, sender_id: int) -> Signal:
    """Check a `webrtc_signal` payload's shape and size (not yet who may send it); raise SignalError."""
    if not isinstance(data, dict):
        raise SignalError("the signal must be an object")
    unknown = sorted(str(key) for key in set(data) - SIGNAL_KEYS)
    if unknown:
        raise SignalError(f"unknown field(s): {', '.join(unknown)[:200]}")
    conversation_id = _whole_number(data, "conversation_id")
    to = _whole_number(data, "to")
    if to == sender_id:
        raise SignalError("to must be another member of the call")
    kinds = [key for key in ("description", "candidate") if data.get(key) is not None]
    restart = data.get("restart", False)
    if not isinstance(restart, bool):
        raise SignalError("restart must be true or false")
    if len(kinds) > 1 or not (kinds or restart):
        raise SignalError("send one of description or candidate (or restart: true alone)")
    message: dict[str, Any] = {"restart": restart}
    if kinds == ["description"]:
        message["description"] = _description(data["description"])
    elif kinds == ["candidate"]:
        message["candidate"] = _candidate(data["candidate"])
    for key in ("session", "to_session", "pc", "to_pc"):  # page and peer-connection ids: relayed as they are
        value = data.get(key)
        if value is not None:
            if not isinstance(value, str) or not SESSION.match(value):
                raise SignalError(f"{key} must be 1 to 64 letters, digits, - or _")
            message[key] = value
    return Signal(conversation_id, to, message)


def authorise(signal: Signal, sender_id: int) -> None:
    """Raise SignalError unless the sender may be in the room now and the recipient belongs to the same call."""
    if room_role(sender_id, signal.conversation_id) is None:
        raise SignalError("you are not in this conversation's room now")
    if room_role(signal.to, signal.conversation_id) is None:
        raise SignalError("the recipient is not in this conversation")


def _signed_in_id() -> int | None:
    return int(current_user.id) if current_user and current_user.is_authenticated else None


def handle_signal(data: Any) -> dict[str, Any]:
    """Check one `webrtc_signal` event and relay it to the recipient's connections; the ack."""
    try:
        with database.connection_context():
            sender_id = _signed_in_id()
            if sender_id is None:
                return {"error": "sign in first"}
            signal = parse_signal(data, sender_id)
            authorise(signal, sender_id)
    except SignalError as refused:
        return {"error": str(refused)}
    except Exception:  # never a traceback to the browser; the log has it
        log.exception("webrtc_signal could not be checked")
        return {"error": "the signal could not be relayed; try again"}
    notify(signal.to, SIGNAL_EVENT, {"conversation_id": signal.conversation_id, "from": sender_id, **signal.message})
    return {"ok": True}


def handle_join(data: Any) -> dict[str, Any]:
    """Put this connection in the call's Socket.IO room (so that it hears `webrtc_end`); the ack."""
    try:
        with database.connection_context():
            user_id = _signed_in_id()
            if user_id is None:
                return {"error": "sign in first"}
            if not isinstance(data, dict) or set(data) - {"conversation_id"}:
                raise SignalError("send {conversation_id}")
            conversation_id = _whole_number(data, "conversation_id")
            role = room_role(user_id, conversation_id)
            if role is None:
                raise SignalError("you are not in this conversation's room now")
    except SignalError as refused:
        return {"error": str(refused)}
    except Exception:
        log.exception("webrtc_join could not be checked")
        return {"error": "could not join the call; try again"}
    join_room(webrtc_room(conversation_id))
    return {"ok": True, "role": role}


def register_handlers(socketio: Any) -> None:
    """Attach the `webrtc_signal` and `webrtc_join` handlers to the site's Socket.IO server."""

    @socketio.on(SIGNAL_EVENT)
    @limit_socket_events("signals")
    def webrtc_signal(data: Any = None, *_extra: Any) -> dict[str, Any]:
        return handle_signal(data)

    @socketio.on(JOIN_EVENT)
    @limit_socket_events("events")
    def webrtc_join(data: Any = None, *_extra: Any) -> dict[str, Any]:
        return handle_join(data)

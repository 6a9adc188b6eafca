"""Shared by the room tests: a small real call provider (no media; it only records what core asks of
it), people with complete profiles, and a conversation booked around now."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from typing import Any

from core.api import CallProvider, CallRoom, hookimpl
from core.db import database, utcnow
from tests.matching_fakes import MATCHING_SETTINGS, LeanPlugin, participant


class EchoCall(CallProvider):
    """A call provider that moves no media: rooms are names, payloads say who joins."""

    name = "echo"
    capabilities = frozenset({"mute", "camera_off", "audio_only", "facilitator"})

    def __init__(self) -> None:
        self.created: list[int] = []
        self.ended: list[str] = []

    def create_room(self, conversation: Any) -> CallRoom:
        """A fresh random room name per call."""
        self.created.append(conversation.id)
        return CallRoom(provider=self.name, name=f"echo-{secrets.token_hex(8)}", conversation_id=conversation.id,
                        data={"uid": conversation.uid})

    def join_payload(self, room: CallRoom, participant: Any, role: str) -> dict[str, Any]:
        """Who joins which room."""
        return {"room": room.name, "name": participant.display_name, "role": role, "user": participant.user_id}

    def end_room(self, room: CallRoom) -> None:
        """Remember the room as ended."""
        self.ended.append(room.name)


class EchoPlugin:
    """Registers one EchoCall instance (kept on the plugin so tests can look at it)."""

    def __init__(self) -> None:
        self.provider = EchoCall()
        self.statuses: list[tuple[int, str]] = []
        self.ended: list[int] = []

    @hookimpl
    def register_call_providers(self) -> list[Any]:
        return [self.provider]

    @hookimpl
    def call_status_changed(self, conversation: Any, status: str) -> None:
        self.statuses.append((conversation.id, status))

    @hookimpl
    def conversation_ended(self, conversation: Any) -> None:
        self.ended.append(conversation.id)


ROOM_SETTINGS = {**MATCHING_SETTINGS, "room": {"call_provider": "echo"},
                 "scheduling": {"early_entry_minutes": 10, "slot_minutes": 75, "recorded_minutes": 50}}


def room_plugins() -> dict[str, Any]:
    """The lean strategy (for profiles) and the echo call provider."""
    return {"lean": LeanPlugin(), "echo": EchoPlugin()}


def people(app: Any, make_user: Any) -> dict[str, Any]:
    """Ann and Ben (the pair), Cal (another participant), Fay (a facilitator), Ada (an admin)."""
    found = {"ann": participant(app, make_user, "ann@example.org", lean="2", first_name="Ann"),
             "ben": participant(app, make_user, "ben@example.org", lean="6", first_name="Ben"),
             "cal": participant(app, make_user, "cal@example.org", lean="7", first_name="Cal")}
    found["fay"] = make_user("fay@example.org", role="facilitator")
    found["ada"] = make_user("ada@example.org", role="admin")
    return found


def booked(app: Any, a: Any, b: Any, minutes_ago: float = 0, facilitator: Any = None) -> Any:
    """A conversation of a and b that started `minutes_ago` minutes ago (negative: in the future)."""
    from core.models import Conversation
    from core.scheduling.conversations import create_conversation

    with app.app_context(), database.connection_context():
        conversation = create_conversation(a.id, b.id, starts_at=utcnow() - dt.timedelta(minutes=minutes_ago))
        if facilitator is not None:
            Conversation.update(facilitator=facilitator.id).where(Conversation.id == conversation.id).execute()
            conversation = Conversation.get_by_id(conversation.id)
        return conversation


def room_data(html: str) -> dict[str, Any]:
    """The JSON the room page embeds for its script."""
    found = re.search(r'<script type="application/json" id="room-data">(.*?)</script>', html, re.S)
    assert found, "the room page carries its data"
    return json.loads(found.group(1))


def prepare_call(client: Any, conversation: Any) -> Any:
    """What the room page's script does when the call room is not made yet: open the page, then POST to
    the call's `prepare` URL with the page's CSRF token in a header. The response (JSON)."""
    data = room_data(client.get(f"/conversations/{conversation.id}/room").get_data(as_text=True))
    return client.post(f"/conversations/{conversation.id}/room/call", headers={"X-CSRFToken": data["csrfToken"],
                                                                              "Accept": "application/json"})

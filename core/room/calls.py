"""The call provider's side of a room: pick the configured provider, create its room once per
conversation (on a POST: opening the room page reads the stored room only), build each person's join
payload, end the room. Providers see no emails."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import peewee
from flask import current_app

from core.db import database, utcnow
from core.models import CallRoomRecord, Conversation, User
from core.providers import (
    CallConversation,
    CallParticipant,
    CallProvider,
    CallProviderError,
    CallRoom,
)
from core.questionnaire.profiles import profile_for

log = logging.getLogger(__name__)


class CallNotSetUpError(LookupError):
    """The configured call provider is not available; the message says which plugin to enable."""


def call_provider() -> CallProvider:
    """The provider named by `room.call_provider`, or CallNotSetUpError naming the plugin to enable."""
    platform = current_app.extensions["oss_connect"]
    name = platform.settings.room.call_provider
    provider = platform.providers.get("call_provider", {}).get(name)
    if provider is None:
        known = ", ".join(sorted(platform.providers.get("call_provider", {}))) or "none"
        raise CallNotSetUpError(
            f"The call provider '{name}' is not available (available: {known}). Enable its plugin under "
            f"`plugins:` in the config (call_{name} for the bundled providers), or set room.call_provider "
            "to one that is available.")
    return provider


def call_conversation(conversation: Conversation) -> CallConversation:
    """What a provider may know of the conversation: its id, calendar UID and times."""
    settings = current_app.extensions["oss_connect"].settings.scheduling
    starts = conversation.starts_at or utcnow()
    return CallConversation(id=conversation.id, uid=conversation.uid, starts_at=starts,
                            ends_at=starts + dt.timedelta(minutes=settings.slot_minutes),
                            recorded_minutes=settings.recorded_minutes)


def display_name(user: User, role: str) -> str:
    """The name others in the room see: the one the participant shares with partners, never an email."""
    if role == "participant":
        return profile_for(user.id, "partners").name or "A participant"
    return "Facilitator" if role == "facilitator" else "Organiser"


def as_call_room(record: CallRoomRecord) -> CallRoom:
    """The provider API's view of a stored call room."""
    return CallRoom(provider=record.provider, name=record.name, conversation_id=record.conversation_id,
                    data=dict(record.data or {}))


def stored_room(conversation: Conversation, provider: CallProvider) -> CallRoom | None:
    """The conversation's live call room with this provider if one was made, else None; writes nothing."""
    record = CallRoomRecord.get_or_none(conversation=conversation.id, provider=provider.name)
    if record is None or record.ended_at is not None:
        return None
    return as_call_room(record)


def room_for(conversation: Conversation, provider: CallProvider | None = None) -> CallRoom:
    """The conversation's call room with the configured provider, created on first use."""
    provider = provider or call_provider()
    record = CallRoomRecord.get_or_none(conversation=conversation.id, provider=provider.name)
    if record is not None and record.ended_at is None:
        return as_call_room(record)
    room = provider.create_room(call_conversation(conversation))
    if not isinstance(room, CallRoom):
        raise CallProviderError(f"the call provider '{provider.name}' returned {type(room).__name__} from "
                                "create_room instead of a CallRoom; fix the plugin")
    try:
        with database.atomic():
            if record is None:
                record = CallRoomRecord.create(conversation=conversation.id, provider=provider.name,
                                               name=room.name, data=room.data)
            else:
                CallRoomRecord.update(name=room.name, data=room.data, ended_at=None).where(
                    CallRoomRecord.id == record.id).execute()
    except peewee.IntegrityError:  # made meanwhile by another request (the partner's page): that room stands
        existing = CallRoomRecord.get_or_none(conversation=conversation.id, provider=provider.name)
        if existing is None or existing.ended_at is not None:
            raise
        return as_call_room(existing)
    current_app.extensions["oss_connect"].hook.call_status_changed(conversation=conversation, status="created")
    return room


def payload_for(provider: CallProvider, room: CallRoom, user: User, role: str) -> dict[str, Any]:
    """The provider's join payload for this person in this room (the provider writes nothing here)."""
    participant = CallParticipant(user_id=user.id, display_name=display_name(user, role), role=role)
    payload = provider.join_payload(room, participant, role)
    if not isinstance(payload, dict):
        raise CallProviderError(f"the call provider '{provider.name}' returned {type(payload).__name__} from "
                                "join_payload instead of a dict; fix the plugin")
    return payload


def join_payload(conversation: Conversation, user: User, role: str) -> dict[str, Any]:
    """This person's payload for the conversation's call room, creating the room on first use."""
    provider = call_provider()
    return payload_for(provider, room_for(conversation, provider), user, role)


def end_call(conversation: Conversation) -> None:
    """End the provider's room (once), and fire call_status_changed(ended)."""
    platform = current_app.extensions["oss_connect"]
    for record in CallRoomRecord.select().where((CallRoomRecord.conversation == conversation.id)
                                                & CallRoomRecord.ended_at.is_null()):
        provider = platform.providers.get("call_provider", {}).get(record.provider)
        if provider is not None:
            try:
                provider.end_room(as_call_room(record))
            except Exception:  # the provider's own failure: the room expires on its own; note it for the admin
                log.exception("call provider %s could not end room %s", record.provider, record.name)
        CallRoomRecord.update(ended_at=utcnow()).where(CallRoomRecord.id == record.id).execute()
    platform.hook.call_status_changed(conversation=conversation, status="ended")


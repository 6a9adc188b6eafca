"""Calendar updates for a conversation (being built: .ics invitations attached to emails)."""

from __future__ import annotations

from typing import Any


def notify_calendar(conversation: Any, method: str) -> None:
    """Tell both participants that the conversation was booked, moved (method REQUEST) or cancelled (CANCEL).

    Placeholder until the calendar module is written: it does nothing yet.
    """
    return None

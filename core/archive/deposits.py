"""The deposit pipeline: one state machine per (conversation, destination). Being written."""

from __future__ import annotations

from core.models import Conversation


def plan(conversation: Conversation) -> None:
    """Bring the conversation's deposits and publication in line with its consent and description.

    Call after every change of a participant's choices, an approved description, or a finished
    recording: it withdraws what consent no longer covers (the public pages at once) and queues the
    deposits that are now agreed. Safe to call any number of times.
    """
    return None

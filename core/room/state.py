"""The room's shared state and its transitions: the guide (phase, prompt, passes), the timer, consent
to record and the recording's state machine.

Every change is a compare-and-set on `RoomState.version`: the version only goes up, so a late or
repeated event can never move the room backwards. Guide moves carry the version the sender saw and
are refused when it is stale (two "next" presses at once advance one prompt, not two). Safety
actions (pause, stop, consent, cue, end) apply whatever version the sender saw.

Recording: off → recording (when both participants have consented to the current release) →
paused ⇄ recording → stopped (final; the conversation may go on unrecorded).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import current_app

from core.db import database, utcnow
from core.models import Conversation, Recording, RecordingConsent, RecordingEvent, RoomState, User
from core.room.guide import Guide

GUIDE_ACTIONS = ("next", "pass", "pick", "phase", "begin", "resume")
ACTIONS = (*GUIDE_ACTIONS, "consent", "pause", "stop", "cue", "end")
LEAD_ROLES = ("facilitator", "admin")


class RoomActionError(ValueError):
    """An action that cannot be applied; the message is for the person who tried."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Release:
    """The recording release in force: version, text and the SHA-256 of the text."""

    version: str
    text: str
    sha256: str


def current_release() -> Release:
    """The release text participants accept in the room, from `room.release` in the config."""
    release = current_app.extensions["oss_connect"].settings.room.release
    return Release(release.version, release.text, hashlib.sha256(release.text.encode("utf-8")).hexdigest())


def current_guide() -> Guide:
    """The conversation guide loaded with the config."""
    return current_app.extensions["oss_connect"].config.guide


def room_state(conversation: Conversation) -> RoomState:
    """The conversation's state row, created (at the first phase) on first use."""
    state = RoomState.get_or_none(RoomState.conversation == conversation.id)
    if state is not None:
        return state
    guide = current_guide()
    first = guide.phases[0].prompts[0].id if guide.phases[0].prompts else ""
    try:
        with database.atomic():
            return RoomState.create(conversation=conversation.id, guide_version=guide.version, prompt=first,
                                    asked=[first] if first else [], passed=[], updated_at=utcnow())
    except Exception:  # another connection created it first (unique conversation)
        return RoomState.get(RoomState.conversation == conversation.id)


def elapsed_seconds(state: RoomState, now: dt.datetime | None = None) -> float:
    """Conversation seconds on the timer: time running since the first start, pauses excluded."""
    total = state.timer_accumulated or 0.0
    if state.timer_running_since is not None:
        total += max(0.0, ((now or utcnow()) - state.timer_running_since).total_seconds())
    return round(total, 3)


def consented_ids(conversation: Conversation, release: Release | None = None) -> list[int]:
    """The participants who consented in the room to the current release."""
    release = release or current_release()
    rows = RecordingConsent.select(RecordingConsent.user).where(
        (RecordingConsent.conversation == conversation.id) & (RecordingConsent.release_version == release.version)
        & RecordingConsent.user.in_([conversation.a_id, conversation.b_id]))
    return sorted(row.user_id for row in rows)


def snapshot(conversation: Conversation, state: RoomState | None = None) -> dict[str, Any]:
    """The state as both screens render it (JSON): no emails, no answers, nothing private."""
    state = state or room_state(conversation)
    now = utcnow()
    release = current_release()
    return {
        "conversation_id": conversation.id,
        "version": state.version,
        "guide_version": state.guide_version,
        "phase": state.phase,
        "prompt": state.prompt,
        "asked": list(state.asked or []),
        "passed": list(state.passed or []),
        "timer": {"started": state.timer_started_at is not None, "running": state.timer_running_since is not None,
                  "elapsed": elapsed_seconds(state, now), "server_now": now.isoformat(),
                  "total": current_app.extensions["oss_connect"].settings.scheduling.recorded_minutes * 60},
        "recording": {"state": state.recording, "consented": consented_ids(conversation, release),
                      "release_version": release.version, "changed_by": state.recording_changed_by_id,
                      "changed_at": state.recording_changed_at.isoformat() if state.recording_changed_at else None},
        "cue": state.last_cue,
        "ended": state.ended_at is not None,
    }


def _next_prompt(guide: Guide, phase: int, asked: list[str], after: str) -> tuple[int, str]:
    """The next prompt not yet asked: later in this phase, else in the following phases."""
    for index in range(phase, len(guide.phases)):
        prompts = [prompt.id for prompt in guide.phases[index].prompts]
        start = prompts.index(after) + 1 if index == phase and after in prompts else 0
        for prompt_id in prompts[start:] + (prompts[:start] if index == phase else []):
            if prompt_id not in asked:
                return index, prompt_id
        if index + 1 < len(guide.phases) and not guide.phases[index + 1].prompts:
            return index + 1, ""
    raise RoomActionError("That was the last question. Pick any question from the list, or close the conversation.",
                          code="no_more_prompts")


def _first_open_prompt(guide: Guide, phase: int, asked: list[str]) -> str:
    for prompt in guide.phases[phase].prompts:
        if prompt.id not in asked:
            return prompt.id
    return ""


def _changes(conversation: Conversation, state: RoomState, user: User, role: str, action: str,
             data: dict[str, Any], now: dt.datetime) -> tuple[dict[str, Any], list[str]]:
    """The field changes `action` makes to `state`, and recording events to log; or RoomActionError."""
    guide = current_guide()
    asked, passed = list(state.asked or []), list(state.passed or [])
    if state.ended_at is not None and action != "end":
        raise RoomActionError("This conversation has ended.", code="ended")
    if action in ("next", "pass"):
        if action == "pass" and state.prompt and state.prompt not in passed:
            passed.append(state.prompt)
        phase, prompt = _next_prompt(guide, state.phase, asked, state.prompt)
        return {"phase": phase, "prompt": prompt, "asked": asked + ([prompt] if prompt else []),
                "passed": passed}, []
    if action == "pick":
        prompt_id = data.get("prompt_id")
        if not isinstance(prompt_id, str) or guide.prompt(prompt_id) is None:
            raise RoomActionError("Choose a question from the list.", code="bad_request")
        return {"phase": guide.prompt_phase[prompt_id], "prompt": prompt_id,
                "asked": asked + ([prompt_id] if prompt_id not in asked else [])}, []
    if action == "phase":
        phase = data.get("phase")
        if not isinstance(phase, int) or isinstance(phase, bool) or not 0 <= phase < len(guide.phases):
            raise RoomActionError(f"Choose a phase from 1 to {len(guide.phases)}.", code="bad_request")
        prompt = _first_open_prompt(guide, phase, asked)
        return {"phase": phase, "prompt": prompt, "asked": asked + ([prompt] if prompt else [])}, []
    if action == "begin":
        if state.timer_started_at is not None:
            return {}, []
        return {"timer_started_at": now, "timer_running_since": now}, []
    if action == "consent":
        return _consent(conversation, state, user, role, now)
    if action == "pause":
        if state.recording == "paused":
            return {}, []
        if state.recording != "recording":
            raise RoomActionError("The recording is not running.", code="not_recording")
        return {"recording": "paused", "timer_running_since": None,
                "timer_accumulated": elapsed_seconds(state, now)}, ["pause"]
    if action == "resume":
        if state.recording != "paused":
            raise RoomActionError("Only a paused recording can be resumed.", code="not_paused")
        if len(consented_ids(conversation)) < 2:
            raise RoomActionError("Both of you need to agree to the recording again.", code="consent_needed")
        return {"recording": "recording", "timer_running_since": now}, ["resume"]
    if action == "stop":
        if state.recording == "stopped":
            return {}, []
        if state.recording == "off":
            raise RoomActionError("The recording has not started.", code="not_recording")
        changes = {"recording": "stopped"}
        if state.timer_running_since is None:  # stopped while paused: the conversation goes on, unrecorded
            changes["timer_running_since"] = now
        return changes, ["stop"]
    if action == "cue":
        if role not in LEAD_ROLES:
            raise RoomActionError("Only the facilitator gives time cues.", code="forbidden")
        minutes = data.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= 180:
            raise RoomActionError("Give the minutes left as a whole number from 0 to 180.", code="bad_request")
        return {"last_cue": {"minutes": minutes, "by": user.id, "at": now.isoformat()}}, []
    if action == "end":
        if state.ended_at is not None:
            return {}, []
        changes: dict[str, Any] = {"ended_at": now, "timer_running_since": None,
                                   "timer_accumulated": elapsed_seconds(state, now)}
        events = []
        if state.recording in ("recording", "paused"):
            changes["recording"] = "stopped"
            events.append("stop")
        return changes, events
    raise RoomActionError(f"Unknown action '{action}'.", code="bad_request")


def _consent(conversation: Conversation, state: RoomState, user: User, role: str,
             now: dt.datetime) -> tuple[dict[str, Any], list[str]]:
    """Record the participant's consent; start the recording once both consented."""
    if role != "participant":
        raise RoomActionError("Only the two participants consent to the recording.", code="forbidden")
    if state.recording == "stopped":
        raise RoomActionError("The recording was stopped and cannot start again.", code="stopped")
    release = current_release()
    if RecordingConsent.get_or_none(conversation=conversation.id, user=user.id,
                                    release_version=release.version) is None:
        RecordingConsent.create(conversation=conversation.id, user=user.id, release_version=release.version,
                                release_sha256=release.sha256, consented_at=now)
    if state.recording != "off" or len(consented_ids(conversation, release)) < 2:
        return {"updated_at": now}, []
    changes: dict[str, Any] = {"recording": "recording"}
    if state.timer_started_at is None:
        changes["timer_started_at"] = now
    if state.timer_running_since is None:
        changes["timer_running_since"] = now
    return changes, ["start"]


def apply_action(conversation: Conversation, user: User, role: str, action: str,
                 data: dict[str, Any] | None = None, outcome: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply `action` for `user` (in `role`) and return the new snapshot; RoomActionError if refused.

    Guide moves need `data["version"]` equal to the current version (else code "stale" with the
    current state in the error's `state`); safety actions retry on a concurrent change. When this
    call changed the state, `outcome["changed"]` is set to True (of two concurrent "end"s, one).
    """
    data = data or {}
    if action not in ACTIONS:
        raise RoomActionError(f"Unknown action '{action}'.", code="bad_request")
    needs_version = action in GUIDE_ACTIONS
    seen = data.get("version")
    if needs_version and (not isinstance(seen, int) or isinstance(seen, bool)):
        raise RoomActionError("Missing the version of the state you saw; reload the page.", code="bad_request")
    for _attempt in range(8):
        with database.atomic():
            state = room_state(conversation)
            if needs_version and seen != state.version:
                raise StaleStateError(snapshot(conversation, state))
            now = utcnow()
            changes, events = _changes(conversation, state, user, role, action, data, now)
            if not changes and not events:
                return snapshot(conversation, state)
            if any(key.startswith("recording") for key in changes) or events:
                changes.setdefault("recording_changed_at", now)
                changes.setdefault("recording_changed_by", user.id)
            changes["updated_at"] = now
            updated = (RoomState.update(**changes, version=RoomState.version + 1)
                       .where((RoomState.id == state.id) & (RoomState.version == state.version)).execute())
            if not updated:
                if needs_version:
                    raise StaleStateError(snapshot(conversation, RoomState.get_by_id(state.id)))
                continue
            fresh = RoomState.get_by_id(state.id)
            if outcome is not None:
                outcome["changed"] = True
            for event in events:
                RecordingEvent.create(conversation=conversation.id, user=user.id, action=event, at=now,
                                      elapsed_seconds=elapsed_seconds(fresh, now))
                _track_recording(conversation, event, now)
            _conversation_status(conversation, fresh, now)
            return snapshot(conversation, fresh)
    raise RoomActionError("Too many changes at once; try again.", code="busy")


def _track_recording(conversation: Conversation, event: str, now: dt.datetime) -> None:
    """The recording row the uploads and the processing hang on: made at the start, closed at the stop."""
    if event == "start":
        Recording.insert(conversation=conversation.id, started_at=now).on_conflict_ignore().execute()
    elif event == "stop":
        Recording.update(stopped_at=now).where(Recording.conversation == conversation.id).execute()


class StaleStateError(RoomActionError):
    """The sender saw an older state; `state` is the current one to re-render."""

    def __init__(self, state: dict[str, Any]):
        super().__init__("Someone changed the conversation a moment ago; here is where you are now.", code="stale")
        self.state = state


def _conversation_status(conversation: Conversation, state: RoomState, now: dt.datetime) -> None:
    """in_progress once the timer starts; completed once the room ends."""
    status = conversation.status
    if state.ended_at is not None:
        status = "completed"
    elif state.timer_started_at is not None and status == "scheduled":
        status = "in_progress"
    if status != conversation.status:
        Conversation.update(status=status, updated_at=now).where(Conversation.id == conversation.id).execute()
        conversation.status = status

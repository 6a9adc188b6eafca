"""The room's shared state: the guide's moves, the version that only goes up, the timer, consent to
record and the recording's state machine, and who may be in the room when."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

from core.db import database, utcnow
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return ROOM_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def conversation(app, cast) -> Any:
    return booked(app, cast["ann"], cast["ben"], minutes_ago=1, facilitator=cast["fay"])


def act(app: Any, conversation: Any, user: Any, action: str, role: str = "participant", **data: Any) -> Any:
    from core.models import Conversation
    from core.room.state import apply_action

    with app.test_request_context("/"), database.connection_context():
        return apply_action(Conversation.get_by_id(conversation.id), user, role, action, data)


def current(app: Any, conversation: Any) -> dict[str, Any]:
    from core.models import Conversation
    from core.room.state import snapshot

    with app.test_request_context("/"), database.connection_context():
        return snapshot(Conversation.get_by_id(conversation.id))


def test_the_room_starts_at_the_first_phase_with_nothing_recorded(app, conversation):
    state = current(app, conversation)
    assert (state["version"], state["phase"], state["prompt"]) == (0, 0, "")
    assert state["recording"]["state"] == "off" and state["recording"]["consented"] == []
    assert state["timer"] == {**state["timer"], "started": False, "running": False, "elapsed": 0.0, "total": 3000}


def test_next_walks_the_prompts_across_phases_and_the_version_goes_up(app, cast, conversation):
    ann = cast["ann"]
    state = act(app, conversation, ann, "next", version=0)
    assert (state["phase"], state["prompt"], state["version"]) == (1, "introduce", 1)
    state = act(app, conversation, ann, "next", version=1)
    assert (state["phase"], state["prompt"]) == (1, "why_here")
    state = act(app, conversation, ann, "next", version=2)
    assert (state["phase"], state["prompt"]) == (2, "grew_up")
    assert state["asked"] == ["introduce", "why_here", "grew_up"]


def test_a_stale_guide_move_is_refused_with_the_current_state(app, cast, conversation):
    from core.room.state import StaleStateError

    act(app, conversation, cast["ann"], "next", version=0)
    with pytest.raises(StaleStateError) as stale:  # Ben pressed "next" on the state he saw before Ann's press
        act(app, conversation, cast["ben"], "next", version=0)
    assert stale.value.state["version"] == 1 and stale.value.state["prompt"] == "introduce"
    assert current(app, conversation)["prompt"] == "introduce"  # advanced once, not twice


def test_pass_marks_the_prompt_and_moves_on_and_pick_jumps_to_any_prompt(app, cast, conversation):
    ann = cast["ann"]
    state = act(app, conversation, ann, "pick", version=0, prompt_id="hard_moment")
    assert (state["phase"], state["prompt"]) == (2, "hard_moment")
    state = act(app, conversation, ann, "pass", version=1)
    assert state["passed"] == ["hard_moment"] and state["prompt"] == "values"
    state = act(app, conversation, ann, "phase", version=2, phase=3)
    assert (state["phase"], state["prompt"]) == (3, "hope")


@pytest.mark.parametrize(("action", "data", "message"), [
    ("pick", {"prompt_id": "no_such_prompt"}, "Choose a question from the list"),
    ("pick", {"prompt_id": 7}, "Choose a question from the list"),
    ("phase", {"phase": 9}, "Choose a phase from 1 to 4"),
    ("phase", {"phase": True}, "Choose a phase from 1 to 4"),
    ("dance", {}, "Unknown action 'dance'"),
])
def test_bad_moves_are_refused_with_a_sentence(app, cast, conversation, action, data, message):
    from core.room.state import RoomActionError

    with pytest.raises(RoomActionError, match=message):
        act(app, conversation, cast["ann"], action, version=0, **data)
    assert current(app, conversation)["version"] == 0


def test_a_guide_move_without_a_version_is_refused(app, cast, conversation):
    from core.room.state import RoomActionError

    with pytest.raises(RoomActionError, match="version"):
        act(app, conversation, cast["ann"], "next")


def test_the_last_question_says_so(app, cast, conversation):
    from core.room.state import RoomActionError

    act(app, conversation, cast["ann"], "pick", version=0, prompt_id="take_away")
    state = act(app, conversation, cast["ann"], "pick", version=1, prompt_id="hope")
    with pytest.raises(RoomActionError, match="last question"):
        act(app, conversation, cast["ann"], "next", version=state["version"])


def test_recording_starts_only_when_both_consented_and_records_the_release(app, cast, conversation):
    from core.models import Conversation, RecordingConsent, RecordingEvent

    state = act(app, conversation, cast["ann"], "consent")
    assert state["recording"]["state"] == "off" and state["recording"]["consented"] == [cast["ann"].id]
    assert state["timer"]["started"] is False
    state = act(app, conversation, cast["ben"], "consent")
    assert state["recording"]["state"] == "recording" and state["timer"]["running"] is True
    with database.connection_context():
        consents = list(RecordingConsent.select().where(RecordingConsent.conversation == conversation.id))
        text = app.extensions["oss_connect"].settings.room.release.text
        assert {(row.user_id, row.release_version, row.release_sha256) for row in consents} == {
            (user.id, "1", hashlib.sha256(text.encode()).hexdigest()) for user in (cast["ann"], cast["ben"])}
        assert all(utcnow() - row.consented_at < dt.timedelta(minutes=1) for row in consents)
        assert [event.action for event in RecordingEvent.select()] == ["start"]
        assert Conversation.get_by_id(conversation.id).status == "in_progress"


def test_consent_twice_is_one_consent(app, cast, conversation):
    from core.models import RecordingConsent

    act(app, conversation, cast["ann"], "consent")
    act(app, conversation, cast["ann"], "consent")
    with database.connection_context():
        assert RecordingConsent.select().count() == 1


def test_only_participants_consent(app, cast, conversation):
    from core.room.state import RoomActionError

    with pytest.raises(RoomActionError, match="Only the two participants"):
        act(app, conversation, cast["fay"], "consent", role="facilitator")


def recording(app: Any, cast: Any, conversation: Any) -> dict[str, Any]:
    act(app, conversation, cast["ann"], "consent")
    return act(app, conversation, cast["ben"], "consent")


def test_pause_freezes_the_timer_and_either_can_resume(app, cast, conversation):
    from core.models import RoomState

    recording(app, cast, conversation)
    with database.connection_context():  # pretend the recording has been running for 10 minutes
        RoomState.update(timer_running_since=utcnow() - dt.timedelta(minutes=10)).execute()
    paused = act(app, conversation, cast["ben"], "pause")
    assert paused["recording"]["state"] == "paused" and paused["timer"]["running"] is False
    assert 599 <= paused["timer"]["elapsed"] <= 602
    assert paused["recording"]["changed_by"] == cast["ben"].id
    later = current(app, conversation)
    assert later["timer"]["elapsed"] == paused["timer"]["elapsed"]
    resumed = act(app, conversation, cast["ann"], "resume", version=paused["version"])
    assert resumed["recording"]["state"] == "recording" and resumed["timer"]["running"] is True


def test_pause_applies_whatever_version_the_sender_saw(app, cast, conversation):
    recording(app, cast, conversation)
    act(app, conversation, cast["ann"], "next", version=current(app, conversation)["version"])
    assert act(app, conversation, cast["ben"], "pause", version=0)["recording"]["state"] == "paused"


def test_stop_is_final_and_the_conversation_goes_on_unrecorded(app, cast, conversation):
    from core.models import RecordingEvent
    from core.room.state import RoomActionError

    recording(app, cast, conversation)
    paused = act(app, conversation, cast["ann"], "pause")
    stopped = act(app, conversation, cast["ben"], "stop")
    assert stopped["recording"]["state"] == "stopped" and stopped["timer"]["running"] is True
    with pytest.raises(RoomActionError, match="paused"):
        act(app, conversation, cast["ann"], "resume", version=stopped["version"])
    with pytest.raises(RoomActionError, match="cannot start again"):
        act(app, conversation, cast["ann"], "consent")
    assert act(app, conversation, cast["ann"], "stop")["version"] == stopped["version"]  # idempotent
    with database.connection_context():
        assert [event.action for event in RecordingEvent.select().order_by(RecordingEvent.id)] == [
            "start", "pause", "stop"]
    assert paused["version"] < stopped["version"]


def test_a_late_resume_cannot_undo_a_later_pause(app, cast, conversation):
    from core.room.state import StaleStateError

    recording(app, cast, conversation)
    first_pause = act(app, conversation, cast["ann"], "pause")
    act(app, conversation, cast["ann"], "resume", version=first_pause["version"])
    act(app, conversation, cast["ben"], "pause")
    with pytest.raises(StaleStateError):  # a resume sent while looking at the first pause
        act(app, conversation, cast["ann"], "resume", version=first_pause["version"])
    assert current(app, conversation)["recording"]["state"] == "paused"


def test_pause_and_stop_before_recording_are_refused(app, cast, conversation):
    from core.room.state import RoomActionError

    with pytest.raises(RoomActionError, match="not running"):
        act(app, conversation, cast["ann"], "pause")
    with pytest.raises(RoomActionError, match="has not started"):
        act(app, conversation, cast["ann"], "stop")


def test_begin_starts_the_timer_without_recording(app, cast, conversation):
    state = act(app, conversation, cast["ann"], "begin", version=0)
    assert state["timer"]["started"] and state["recording"]["state"] == "off"


def test_only_the_facilitator_gives_time_cues(app, cast, conversation):
    from core.room.state import RoomActionError

    with pytest.raises(RoomActionError, match="Only the facilitator"):
        act(app, conversation, cast["ann"], "cue", minutes=5)
    state = act(app, conversation, cast["fay"], "cue", role="facilitator", minutes=5)
    assert state["cue"]["minutes"] == 5 and state["cue"]["by"] == cast["fay"].id
    with pytest.raises(RoomActionError, match="whole number"):
        act(app, conversation, cast["fay"], "cue", role="facilitator", minutes="soon")


def test_end_stops_the_recording_completes_the_conversation_and_refuses_further_moves(app, cast, conversation):
    from core.models import Conversation
    from core.room.state import RoomActionError

    recording(app, cast, conversation)
    state = act(app, conversation, cast["ann"], "end")
    assert state["ended"] and state["recording"]["state"] == "stopped" and not state["timer"]["running"]
    with database.connection_context():
        assert Conversation.get_by_id(conversation.id).status == "completed"
    with pytest.raises(RoomActionError, match="ended"):
        act(app, conversation, cast["ann"], "next", version=state["version"])


# --- access -------------------------------------------------------------------------------------

def role(app: Any, user: Any, conversation: Any, now: dt.datetime | None = None) -> str | None:
    from core.room.access import room_role

    with app.test_request_context("/"), database.connection_context():
        return room_role(user.id, conversation.id, now)


def test_the_pair_the_facilitator_and_admins_may_be_in_the_room_and_nobody_else(app, cast, conversation):
    assert role(app, cast["ann"], conversation) == "participant"
    assert role(app, cast["ben"], conversation) == "participant"
    assert role(app, cast["fay"], conversation) == "facilitator"
    assert role(app, cast["ada"], conversation) == "admin"
    assert role(app, cast["cal"], conversation) is None


def test_the_room_opens_early_entry_minutes_before_and_closes_after_the_slot(app, cast, conversation):
    starts = conversation.starts_at
    assert role(app, cast["ann"], conversation, starts - dt.timedelta(minutes=10, seconds=-1)) == "participant"
    assert role(app, cast["ann"], conversation, starts - dt.timedelta(minutes=11)) is None
    assert role(app, cast["ann"], conversation, starts + dt.timedelta(minutes=75)) == "participant"
    assert role(app, cast["ann"], conversation, starts + dt.timedelta(minutes=76)) is None
    assert role(app, cast["ada"], conversation, starts + dt.timedelta(minutes=76)) is None


def test_a_block_closes_the_room_to_both(app, cast, conversation):
    from core.safety import block

    with app.test_request_context("/"), database.connection_context():
        block(cast["ben"], cast["ann"])
    assert role(app, cast["ann"], conversation) is None and role(app, cast["ben"], conversation) is None


def test_a_suspended_participant_may_not_join(app, cast, conversation):
    from core.models import User

    with database.connection_context():
        User.update(is_active=False).where(User.id == cast["ben"].id).execute()
    assert role(app, cast["ben"], conversation) is None

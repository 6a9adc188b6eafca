"""Live sessions: creating them, RSVPs, the waiting-room presence window, pairing the people present at the
start (blocked pairs and earlier partners never), leftovers told why and offered the next session, the
periodic job, the pages, and a real Socket.IO client receiving live_paired."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any

import pytest

from core.db import database, utcnow
from core.models import Conversation, LiveRsvp, LiveSession
from core.scheduling import live
from tests.conftest import csrf_token_from
from tests.profiles import complete_profile
from tests.test_cohorts import LeanGapPlugin
from tests.test_realtime import Inbox, open_socket, sign_in

START = dt.datetime(2030, 3, 14, 23, 0, tzinfo=dt.UTC)  # Thursday 7 pm in New York


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The default questionnaire and the fake lean-gap strategy."""
    return {"plugins": {"questionnaire_yaml": None}, "matching": {"strategy": "lean_gap"}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """The fake strategy's plugin."""
    return {"lean_gap": LeanGapPlugin()}


@pytest.fixture
def people(app, make_user) -> dict[str, Any]:
    """Five participants in Ohio (leans 1, 7, 2, 6, 4) and one in Texas."""
    found = {}
    for name, lean in (("ann", "1"), ("bob", "7"), ("cat", "2"), ("dan", "6"), ("eve", "4")):
        found[name] = make_user(f"{name}@example.org")
        complete_profile(app, found[name], first_name=name.capitalize(), lean=lean)
    found["tex"] = make_user("tex@example.org")
    complete_profile(app, found["tex"], first_name="Tex", lean="5",
                     location={"country": "US", "region": "Texas", "city": "Austin"})
    return found


@pytest.fixture
def ctx(app):
    """An app and request context with a database connection."""
    with app.test_request_context(), database.connection_context():
        yield


def session_at(starts_at: dt.datetime = START, **fields: Any) -> LiveSession:
    """A session (created directly, so the start may be any time the test pins)."""
    return LiveSession.create(title="Thursday evening", starts_at=starts_at, **fields)


def come(session: LiveSession, *users: Any, at: dt.datetime = START - dt.timedelta(minutes=1)) -> None:
    """These participants are in the waiting room at `at`."""
    for user in users:
        live.present(session, user, now=at)


def outcomes(session: LiveSession) -> dict[int, str]:
    return {rsvp.user_id: rsvp.outcome for rsvp in LiveRsvp.select().where(LiveRsvp.session == session)}


def pairs(session: LiveSession) -> set[frozenset[int]]:
    return {frozenset((c.a_id, c.b_id)) for c in Conversation.select().where(Conversation.live_session == session)}


# --- creating ----------------------------------------------------------------------------------

def test_create_refuses_a_past_time_and_a_missing_title(ctx):
    now = START - dt.timedelta(days=1)
    with pytest.raises(live.LiveError, match="passed") as past:
        live.create_session("Evening", now - dt.timedelta(minutes=1), now=now)
    assert past.value.field_name == "starts_at"
    with pytest.raises(live.LiveError, match="title") as untitled:
        live.create_session("   ", START, now=now)
    assert untitled.value.field_name == "title"
    with pytest.raises(live.LiveError, match="time zone"):
        live.create_session("Evening", START.replace(tzinfo=None), now=now)
    session = live.create_session(" Evening ", START.astimezone(dt.timezone(dt.timedelta(hours=-4))), "Ohio", now=now)
    assert (session.title, session.region, session.status) == ("Evening", "Ohio", "open")
    assert LiveSession.get_by_id(session.id).starts_at == START


def test_admin_form_reads_the_admins_zone_and_refuses_bad_input(app, client, make_user, login):
    admin = make_user("root@example.org", role="admin")
    with app.app_context(), database.connection_context():
        admin.time_zone = "America/New_York"
        admin.save()
    login("root@example.org")
    token = csrf_token_from(client.get("/admin/live").get_data(as_text=True))
    base = {"csrf_token": token, "title": "Thursday", "date": "2030-03-14", "time": "19:00", "region": "", "cohort": ""}
    for change, message in (({"title": ""}, "title"), ({"date": "14/03/2030"}, "year-month-day"),
                            ({"time": "7pm"}, "hours:minutes"), ({"date": "2001-01-01"}, "has passed")):
        answer = client.post("/admin/live", data={**base, **change})
        assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    answer = client.post("/admin/live", data=base)
    assert answer.status_code == 302
    with app.app_context(), database.connection_context():
        assert LiveSession.get().starts_at == START  # 19:00 in New York in March (EDT) is 23:00 UTC


# --- RSVPs and presence ------------------------------------------------------------------------

def test_rsvp_needs_a_complete_profile_and_the_region_and_is_idempotent(app, people, ctx, make_user):
    session = session_at(region="ohio")
    record, created = live.rsvp(session, people["ann"])
    again, created_again = live.rsvp(session, people["ann"])
    assert created and not created_again and record.id == again.id
    with pytest.raises(live.LiveError, match="participants in ohio"):
        live.rsvp(session, people["tex"])
    newcomer = make_user("new@example.org")
    with pytest.raises(live.LiveError, match="Finish your profile") as problem:
        live.rsvp(session, newcomer)
    assert problem.value.needs_profile
    assert [s.id for s in live.upcoming_for(people["tex"].id, now=START - dt.timedelta(days=1))] == []
    from core.matching.cohorts import create_cohort, join

    cohort = create_cohort("Town hall", "town-hall")
    join(people["tex"], "town-hall")
    for_cohort = session_at(cohort=cohort)
    assert live.rsvp(for_cohort, people["tex"])[1]
    with pytest.raises(live.LiveError, match="members of Town hall"):
        live.rsvp(for_cohort, people["ann"])
    assert [s.id for s in live.upcoming_for(people["ann"].id, now=START - dt.timedelta(days=1))] == [session.id]


def test_presence_is_accepted_from_15_minutes_before_until_the_pairing(people, ctx):
    session = session_at()
    with pytest.raises(live.LiveError, match="opens 15 minutes"):
        live.present(session, people["ann"], now=START - dt.timedelta(minutes=16))
    record = live.present(session, people["ann"], now=START - dt.timedelta(minutes=15))
    assert record.present_at == START - dt.timedelta(minutes=15)
    live.pair_session(session, START)
    with pytest.raises(live.LiveError, match="paired already"):
        live.present(LiveSession.get_by_id(session.id), people["ann"], now=START + dt.timedelta(minutes=1))


# --- pairing -----------------------------------------------------------------------------------

def test_only_the_people_present_are_paired_and_the_odd_one_is_told_and_offered_the_next(people, ctx):
    session = session_at()
    following = session_at(START + dt.timedelta(days=7))
    for user in people.values():
        live.rsvp(session, user)
    come(session, people["ann"], people["bob"], people["cat"])
    come(session, people["dan"], at=START - dt.timedelta(minutes=3))  # left the page: last seen too long ago
    assert live.pair_session(session, START - dt.timedelta(seconds=1)) is None  # not before the start
    result = live.pair_session(session, START)
    assert len(result.conversations) == 1
    pair = next(iter(pairs(session)))
    assert pair <= {people["ann"].id, people["bob"].id, people["cat"].id}
    conversation = result.conversations[0]
    assert (conversation.source, conversation.status, conversation.starts_at) == ("live", "scheduled", START)
    (odd,) = {people["ann"].id, people["bob"].id, people["cat"].id} - pair
    found = outcomes(session)
    assert found[odd] == "left_over" and found[people["dan"].id] == "" and found[people["eve"].id] == ""
    assert result.left_over == {odd: live.ODD_NUMBER}
    assert live.next_session_for(odd, session, now=START).id == following.id
    assert LiveSession.get_by_id(session.id).status == "paired"


def test_blocked_pairs_and_earlier_partners_are_never_paired(people, ctx):
    from core.safety import block
    from core.scheduling.conversations import create_conversation

    block(people["ann"], people["bob"])  # the strategy's best pair
    create_conversation(people["cat"].id, people["dan"].id, source="live", starts_at=START - dt.timedelta(days=7))
    session = session_at()
    come(session, people["ann"], people["bob"], people["cat"], people["dan"])
    live.pair_session(session, START)
    made = pairs(session)
    assert frozenset((people["ann"].id, people["bob"].id)) not in made
    assert frozenset((people["cat"].id, people["dan"].id)) not in made
    assert len(made) == 2


def test_a_lone_or_unfit_participant_is_told_why(people, ctx):
    from core.safety import block

    alone = session_at()
    come(alone, people["ann"])
    assert live.pair_session(alone, START).left_over == {people["ann"].id: live.NOBODY_ELSE}
    block(people["cat"], people["dan"])
    unfit = session_at(START + dt.timedelta(hours=1))
    come(unfit, people["cat"], people["dan"], at=START + dt.timedelta(minutes=59))
    result = live.pair_session(unfit, START + dt.timedelta(hours=1))
    assert result.conversations == []
    assert result.left_over == {people["cat"].id: live.NOBODY_FITS, people["dan"].id: live.NOBODY_FITS}


def test_pairing_twice_pairs_nobody_twice(people, ctx):
    session = session_at()
    come(session, people["ann"], people["bob"])
    assert len(live.pair_session(session, START).conversations) == 1
    assert live.pair_session(LiveSession.get_by_id(session.id), START + dt.timedelta(minutes=1)) is None
    assert live.pair_session(session, START + dt.timedelta(minutes=1)) is None  # a stale copy too
    assert Conversation.select().where(Conversation.live_session == session).count() == 1


def test_the_periodic_job_pairs_at_the_start_time_and_not_before(app, people, ctx):
    session = session_at()
    come(session, people["ann"], people["bob"])
    assert live.pair_due_sessions(START - dt.timedelta(seconds=30)) == 0
    assert LiveSession.get_by_id(session.id).status == "open"
    assert live.pair_due_sessions(START + dt.timedelta(seconds=20)) == 1
    assert LiveSession.get_by_id(session.id).status == "paired"
    assert live.pair_due_sessions(START + dt.timedelta(minutes=1)) == 0


def test_the_job_is_registered_every_minute(app):
    from huey.api import PeriodicTask

    task = app.extensions["oss_connect"].jobs.tasks[live.PAIR_LIVE_SESSIONS_JOB]
    assert isinstance(task.task_class(), PeriodicTask)
    assert task.task_class().validate_datetime(dt.datetime(2030, 3, 14, 19, 7))


# --- pages -------------------------------------------------------------------------------------

@contextlib.contextmanager
def services(app: Any) -> Any:
    with app.test_request_context(), database.connection_context():
        yield


def test_waiting_room_without_javascript_and_the_outcome_on_reload(app, client, login, people):
    with services(app):
        session = session_at(utcnow() + dt.timedelta(minutes=5))
        following = session_at(utcnow() + dt.timedelta(days=7))
    login("eve@example.org")
    page = client.get(f"/live/{session.id}").get_data(as_text=True)
    assert "Keep this page open; we pair people at" in page
    answer = client.post(f"/live/{session.id}/here", data={"csrf_token": csrf_token_from(page)})
    assert answer.status_code == 302
    assert "We know you're here" in client.get(f"/live/{session.id}").get_data(as_text=True)
    with services(app):
        LiveSession.update(starts_at=utcnow() - dt.timedelta(seconds=5)).where(LiveSession.id == session.id).execute()
        live.pair_session(LiveSession.get_by_id(session.id))
    page = client.get(f"/live/{session.id}").get_data(as_text=True)
    assert live.NOBODY_ELSE in page and "RSVP to Thursday evening" in page
    answer = client.post(f"/live/{following.id}/rsvp", data={"csrf_token": csrf_token_from(page), "next": "x"})
    assert answer.status_code == 302
    with services(app):
        assert live.rsvp_of(following, people["eve"].id) is not None


def test_paired_participant_is_sent_to_the_conversation(app, client, login, people):
    with services(app):
        session = session_at(utcnow() - dt.timedelta(seconds=30))
        come(session, people["ann"], people["bob"], at=utcnow())
        (conversation,) = live.pair_session(session).conversations
    login("ann@example.org")
    answer = client.get(f"/live/{session.id}")
    assert answer.status_code == 302 and answer.location.startswith(f"/conversations/{conversation.id}")


def test_heartbeat_json_and_bad_requests(app, client, login, people):
    with services(app):
        early = session_at(utcnow() + dt.timedelta(hours=2))
        soon = session_at(utcnow() + dt.timedelta(minutes=5))
    login("ann@example.org")
    token = csrf_token_from(client.get(f"/live/{soon.id}").get_data(as_text=True))
    json_headers = {"Accept": "application/json"}
    assert client.post(f"/live/{soon.id}/here", data={"csrf_token": token}, headers=json_headers).json["ok"]
    refused = client.post(f"/live/{early.id}/here", data={"csrf_token": token}, headers=json_headers)
    assert refused.status_code == 409 and "opens 15 minutes" in refused.json["error"]
    assert client.post(f"/live/{soon.id}/here", data={}, headers=json_headers).status_code == 400
    assert client.get("/live/999999").status_code == 404


def test_rsvp_and_cancel_from_the_list(app, client, login, people):
    with services(app):
        session = session_at(utcnow() + dt.timedelta(days=2), region="Ohio")
    login("bob@example.org")
    page = client.get("/live").get_data(as_text=True)
    assert "Thursday evening" in page
    client.post(f"/live/{session.id}/rsvp", data={"csrf_token": csrf_token_from(page)})
    page = client.get("/live").get_data(as_text=True)
    assert "Cancel my RSVP" in page
    client.post(f"/live/{session.id}/cancel", data={"csrf_token": csrf_token_from(page)})
    with services(app):
        assert live.rsvp_of(session, people["bob"].id) is None


def test_admin_pair_now_and_the_result(app, client, make_user, login, people):
    make_user("root@example.org", role="admin")
    with services(app):
        session = session_at(utcnow() - dt.timedelta(seconds=10))
        come(session, people["ann"], people["bob"], people["cat"], at=utcnow())
    login("root@example.org")
    page = client.get(f"/admin/live/{session.id}").get_data(as_text=True)
    assert "3</strong> in the waiting room now" in page
    client.post(f"/admin/live/{session.id}/pair", data={"csrf_token": csrf_token_from(page)})
    page = client.get(f"/admin/live/{session.id}").get_data(as_text=True)
    assert "Left over: " + live.ODD_NUMBER in page and page.count("Paired") >= 2
    assert client.get("/admin/live").status_code == 200


# --- real time ---------------------------------------------------------------------------------

def test_a_real_socket_receives_live_paired(live_server):
    from core.api import create_user

    app = live_server.app
    ids = {}
    for name, lean in (("ann", "1"), ("bob", "7")):
        with app.app_context(), database.connection_context():
            user = create_user(f"{name}@example.org", "correct horse battery")
        complete_profile(app, user, first_name=name.title(), lean=lean)
        ids[name] = user
    client = open_socket(live_server.url, "websocket", sign_in(live_server.url, "ann@example.org"))
    try:
        inbox = Inbox(client, "live_paired")
        with app.test_request_context(), database.connection_context():
            session = session_at(utcnow() - dt.timedelta(seconds=5))
            come(session, ids["ann"], ids["bob"], at=utcnow())
            (conversation,) = live.pair_session(session).conversations
        data = inbox.wait_for()
        assert data["url"].startswith(f"/conversations/{conversation.id}")
    finally:
        threading.Thread(target=client.disconnect, daemon=True).start()

"""No-shows and standby: who may mark a no-show and when, what it costs the absent one (emails, lower
priority, then suspension, per config), and the standby rematch straight into a conversation starting now."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from core.db import database, utcnow
from tests.conftest import csrf_token_from
from tests.matching_fakes import MATCHING_SETTINGS, PASSWORD, LeanPlugin, participant
from tests.profiles import complete_profile
from tests.test_realtime import WAIT, Inbox, open_socket, sign_in

SETTINGS = {**MATCHING_SETTINGS, "scheduling": {"no_show_minutes": 10, "no_show_lower_priority_after": 1,
                                                "no_show_suspend_after": 2, "standby_minutes": 30}}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


@pytest.fixture
def people(app, make_user) -> dict[str, Any]:
    """Ann (left), Ben (right), Cal (far right), Dee (centre right): complete profiles."""
    return {"ann": participant(app, make_user, "ann@example.org", lean="2", first_name="Ann"),
            "ben": participant(app, make_user, "ben@example.org", lean="6", first_name="Ben"),
            "cal": participant(app, make_user, "cal@example.org", lean="7", first_name="Cal"),
            "dee": participant(app, make_user, "dee@example.org", lean="5", first_name="Dee")}


def booked(app: Any, a: Any, b: Any, minutes_ago: float) -> Any:
    """A conversation of a and b that started `minutes_ago` minutes ago (negative: in the future)."""
    from core.scheduling.conversations import create_conversation

    with app.app_context(), database.connection_context():
        return create_conversation(a.id, b.id, starts_at=utcnow() - dt.timedelta(minutes=minutes_ago))


def fresh(model: Any, row_id: int) -> Any:
    with database.connection_context():
        return model.get_by_id(row_id)


def post(client: Any, url: str, page: str, **data: Any) -> Any:
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def arrive(client: Any, conversation_id: int) -> Any:
    """Press "I'm here" on the conversation's join page (a GET of the page records nothing)."""
    page = f"/conversations/{conversation_id}/join"
    return post(client, page, page)


def as_user(app: Any, login: Any, email: str) -> Any:
    other = app.test_client()
    login(email, test_client=other)
    return other


def mark(app: Any, conversation: Any, reporter: Any) -> Any:
    from core.models import Conversation
    from core.scheduling.no_shows import mark_no_show

    with app.test_request_context("/"), database.connection_context():
        return mark_no_show(Conversation.get_by_id(conversation.id), reporter)


def refusal_of(app: Any, conversation: Any, reporter: Any) -> str:
    from core.scheduling.no_shows import NoShowRefusedError

    with pytest.raises(NoShowRefusedError) as refused:
        mark(app, conversation, reporter)
    return str(refused.value)


def test_waiting_page_records_presence_on_im_here_and_offers_no_show_only_after_the_delay(app, client, login,
                                                                                        people):
    from core.models import Conversation, ConversationPresence

    ann, ben = people["ann"], people["ben"]
    early = booked(app, ann, ben, minutes_ago=3)
    login("ann@example.org")
    html = client.get(f"/conversations/{early.id}/join").get_data(as_text=True)
    assert "Waiting for Ben" in html and "I'm here" in html
    with database.connection_context():
        assert not ConversationPresence.select().exists()  # opening the page changes nothing
    answer = arrive(client, early.id)
    assert answer.status_code == 302
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "You are here" in html
    assert "mark as no-show" not in html
    assert "10 minutes after the start" in html
    with database.connection_context():
        assert ConversationPresence.select().where(ConversationPresence.conversation == early.id).count() == 1

    answer = post(client, f"/conversations/{early.id}/no-show", f"/conversations/{early.id}/join")
    assert answer.status_code == 302
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "It is too early" in html and "in 7 minutes" in html
    assert fresh(Conversation, early.id).status == "scheduled"

    late = booked(app, ann, ben, minutes_ago=11)
    arrive(client, late.id)
    html = client.get(f"/conversations/{late.id}/join").get_data(as_text=True)
    assert "Ben G. has not come: mark as no-show" in html


def test_join_page_is_for_participants_and_within_the_window(app, client, login, people):
    from core.models import ConversationPresence

    conversation = booked(app, people["ann"], people["ben"], minutes_ago=-60)
    login("cal@example.org")
    assert client.get(f"/conversations/{conversation.id}/join").status_code == 404
    ann = as_user(app, login, "ann@example.org")
    html = ann.get(f"/conversations/{conversation.id}/join").get_data(as_text=True)
    assert "You can come in from" in html
    arrive(ann, conversation.id)
    with database.connection_context():
        assert not ConversationPresence.select().exists()  # too early: not recorded


def test_only_a_present_participant_may_mark_and_only_if_the_other_never_came(app, login, people):
    ann, ben, cal = people["ann"], people["ben"], people["cal"]
    conversation = booked(app, ann, ben, minutes_ago=12)
    assert "only someone who came" in refusal_of(app, conversation, ann)
    assert "Only a participant" in refusal_of(app, conversation, cal)

    arrive(as_user(app, login, "ann@example.org"), conversation.id)
    arrive(as_user(app, login, "ben@example.org"), conversation.id)
    assert "Your partner has been here" in refusal_of(app, conversation, ann)


def test_absent_once_is_recorded_once_with_a_neutral_email(app, login, people, outbox):
    from core.models import Conversation, NoShow, User

    ann, ben = people["ann"], people["ben"]
    conversation = booked(app, ann, ben, minutes_ago=15)
    ann_client = as_user(app, login, "ann@example.org")
    arrive(ann_client, conversation.id)
    answer = post(ann_client, f"/conversations/{conversation.id}/no-show", f"/conversations/{conversation.id}/join")
    assert answer.status_code == 302
    assert fresh(Conversation, conversation.id).status == "no_show"
    first = mark(app, conversation, ann)  # the second time changes nothing
    with database.connection_context():
        rows = list(NoShow.select())
        assert [(row.reporter_id, row.absent_id) for row in rows] == [(ann.id, ben.id)]
        assert first.id == rows[0].id
        assert User.get_by_id(ben.id).is_active  # once: not suspended
    note = outbox.last_to("ben@example.org")
    assert "did not join" in note.text and "ann@example.org" not in note.text
    assert len(outbox.to("ben@example.org")) == 1
    assert not outbox.to("ann@example.org")


def test_repeat_no_shows_lower_priority_then_suspend(app, login, people, outbox):
    from core.matching.suggestions import ranked_suggestions
    from core.models import ModerationAction, User

    ann, ben, cal, dee = people["ann"], people["ben"], people["cal"], people["dee"]
    with app.app_context(), database.connection_context():
        before = [item.user_id for item in ranked_suggestions(ann, 3)]
    assert before == [cal.id, ben.id, dee.id]  # by lean distance

    first = booked(app, dee, cal, minutes_ago=20)
    arrive(as_user(app, login, "dee@example.org"), first.id)
    mark(app, first, dee)  # Cal's first no-show: lower priority (no_show_lower_priority_after: 1)
    with app.app_context(), database.connection_context():
        after = [item.user_id for item in ranked_suggestions(ann, 3)]
        assert after == [ben.id, dee.id, cal.id]
        assert User.get_by_id(cal.id).is_active
    assert "others may be suggested before you" in outbox.last_to("cal@example.org").text

    second = booked(app, ben, cal, minutes_ago=20)
    arrive(as_user(app, login, "ben@example.org"), second.id)
    mark(app, second, ben)  # the second: suspended (no_show_suspend_after: 2)
    with database.connection_context():
        suspended = User.get_by_id(cal.id)
        assert not suspended.is_active
        action = ModerationAction.get(ModerationAction.subject == cal.id)
        assert (action.action, action.note, action.admin_id) == ("suspend", "automatic: 2 no-shows", None)
    assert "your account is now paused" in outbox.last_to("cal@example.org").text


def standby_ids(app: Any, user: Any) -> list[int]:
    from core.scheduling.standby import standby_partners

    with app.app_context(), database.connection_context():
        return [item.user_id for item in standby_partners(user)]


def test_standby_page_and_candidates_respect_blocks_eligibility_and_expiry(app, client, login, people):
    from core.models import Standby
    from core.safety import block

    ann, ben, cal, dee = people["ann"], people["ben"], people["cal"], people["dee"]
    for email in ("ben@example.org", "cal@example.org", "dee@example.org"):
        other = as_user(app, login, email)
        answer = post(other, "/standby", "/standby", action="on")
        assert answer.status_code == 302
        assert "You are standing by" in other.get("/standby").get_data(as_text=True)
    assert standby_ids(app, ann) == [cal.id, ben.id, dee.id]

    with database.connection_context():
        block(ann, ben)
        Standby.update(until=utcnow() - dt.timedelta(minutes=1)).where(Standby.user == dee.id).execute()
    assert standby_ids(app, ann) == [cal.id]

    cal_client = as_user(app, login, "cal@example.org")
    post(cal_client, "/standby", "/standby", action="off")
    assert "You are not standing by" in cal_client.get("/standby").get_data(as_text=True)
    assert standby_ids(app, ann) == []
    assert post(cal_client, "/standby", "/standby", action="maybe").status_code == 400


def test_standby_page_needs_a_complete_profile(app, client, login, make_user):
    make_user("new@example.org")
    login("new@example.org")
    answer = client.get("/standby")
    assert answer.status_code == 302 and "/profile" in answer.headers["Location"]


def test_nobody_on_standby_is_said_kindly(app, login, people):
    conversation = booked(app, people["ann"], people["ben"], minutes_ago=15)
    ann = as_user(app, login, "ann@example.org")
    arrive(ann, conversation.id)
    post(ann, f"/conversations/{conversation.id}/no-show", f"/conversations/{conversation.id}/join")
    html = ann.get(f"/conversations/{conversation.id}/join").get_data(as_text=True)
    assert "Nobody is standing by right now" in html and "find a new partner" in html


@pytest.fixture
def live_people(live_server: Any) -> dict[str, Any]:
    from core.api import create_user

    app = live_server.app
    people = {}
    for name, lean in (("ann", "2"), ("ben", "6"), ("cal", "7")):
        with app.app_context(), database.connection_context():
            user = create_user(f"{name}@example.org", PASSWORD, verified=True)
        complete_profile(app, user, lean=lean, first_name=name.title())
        people[name] = user
    return people


def session_for(base_url: str, email: str) -> requests.Session:
    session = requests.Session()
    token = csrf_token_from(session.get(f"{base_url}/login", timeout=WAIT).text)
    session.post(f"{base_url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, timeout=WAIT)
    return session


def test_rematch_starts_a_conversation_now_and_tells_the_standby_person(live_server, live_people):
    from core.models import Conversation, Standby
    from core.testing import Outbox

    app, base = live_server.app, live_server.url
    ann, ben, cal = live_people["ann"], live_people["ben"], live_people["cal"]
    cal_session = session_for(base, "cal@example.org")
    token = csrf_token_from(cal_session.get(f"{base}/standby", timeout=WAIT).text)
    cal_session.post(f"{base}/standby", data={"csrf_token": token, "action": "on"}, timeout=WAIT)
    socket = open_socket(base, "websocket", sign_in(base, "cal@example.org"))
    try:
        inbox = Inbox(socket, "standby_match")
        conversation = booked(app, ann, ben, minutes_ago=15)
        ann_session = session_for(base, "ann@example.org")
        join = f"{base}/conversations/{conversation.id}/join"
        token = csrf_token_from(ann_session.get(join, timeout=WAIT).text)
        ann_session.post(join, data={"csrf_token": token}, timeout=WAIT)  # "I'm here"
        ann_session.post(f"{base}/conversations/{conversation.id}/no-show", data={"csrf_token": token},
                         timeout=WAIT)
        html = ann_session.get(join, timeout=WAIT).text
        assert "Talk with Cal G. now" in html
        token = csrf_token_from(html)
        before = utcnow()
        answer = ann_session.post(f"{base}/conversations/{conversation.id}/rematch/{cal.id}",
                                  data={"csrf_token": token}, allow_redirects=False, timeout=WAIT)
        assert answer.status_code == 302
        with database.connection_context():
            new = Conversation.select().order_by(Conversation.id.desc()).first()
            assert new.id != conversation.id
            assert {new.a_id, new.b_id} == {ann.id, cal.id}
            assert (new.source, new.status) == ("standby", "scheduled")
            assert before - dt.timedelta(seconds=5) <= new.starts_at <= utcnow()
            assert not Standby.select().where(Standby.user == cal.id).exists()
        assert answer.headers["Location"].endswith(f"/conversations/{new.id}/join")
        event = inbox.wait_for()
        assert event["url"] == f"/conversations/{new.id}/join" and event["partner"] == "Ann G."
        email = Outbox(Path(app.config["OSS_CONNECT_OUTBOX"])).last_to("cal@example.org")
        assert f"/conversations/{new.id}/join" in email.text and "Ann G." in email.text
        assert "Waiting for Ann" in cal_session.get(f"{base}/conversations/{new.id}/join", timeout=WAIT).text
        # one rematch per no-show: a second is refused with a reason, not a new conversation
        again = ann_session.post(f"{base}/conversations/{conversation.id}/rematch/{cal.id}",
                                 data={"csrf_token": token}, timeout=WAIT)
        assert "already have a conversation with a standby partner" in again.text
        with database.connection_context():
            assert Conversation.select().count() == 2
    finally:
        threading.Thread(target=socket.disconnect, daemon=True).start()


def test_a_standby_person_who_left_is_not_paired(app, login, people):
    from core.models import Conversation, Standby

    ann, cal = people["ann"], people["cal"]
    conversation = booked(app, ann, people["ben"], minutes_ago=15)
    cal_client = as_user(app, login, "cal@example.org")
    post(cal_client, "/standby", "/standby", action="on")
    ann_client = as_user(app, login, "ann@example.org")
    arrive(ann_client, conversation.id)
    post(ann_client, f"/conversations/{conversation.id}/no-show", f"/conversations/{conversation.id}/join")
    with database.connection_context():
        Standby.delete().execute()
    answer = post(ann_client, f"/conversations/{conversation.id}/rematch/{cal.id}",
                  f"/conversations/{conversation.id}/join")
    assert answer.status_code == 302
    assert "no longer standing by" in ann_client.get(answer.headers["Location"]).get_data(as_text=True)
    with database.connection_context():
        assert Conversation.select().count() == 1
    # only the reporter of a no-show is offered a rematch
    assert post(cal_client, f"/conversations/{conversation.id}/rematch/{ann.id}", "/standby").status_code == 404


def test_only_a_standby_partner_offered_can_be_chosen(app, login, make_user, people):
    """Four stand by; the strategy offers its best three, and a guessed id of the fourth pairs nobody."""
    from core.models import Conversation

    ann = people["ann"]
    eve = participant(app, make_user, "eve@example.org", lean="6", first_name="Eve")
    zed = participant(app, make_user, "zed@example.org", lean="2", first_name="Zed")  # Ann's own lean: last
    conversation = booked(app, ann, people["ben"], minutes_ago=15)
    for email in ("cal@example.org", "dee@example.org", "eve@example.org", "zed@example.org"):
        post(as_user(app, login, email), "/standby", "/standby", action="on")
    ann_client = as_user(app, login, "ann@example.org")
    join = f"/conversations/{conversation.id}/join"
    arrive(ann_client, conversation.id)
    post(ann_client, f"/conversations/{conversation.id}/no-show", join)
    page = ann_client.get(join).get_data(as_text=True)
    assert "Cal" in page and "Eve" in page and "Dee" in page and "Zed" not in page
    answer = post(ann_client, f"/conversations/{conversation.id}/rematch/{zed.id}", join)
    assert "no longer standing by" in ann_client.get(answer.headers["Location"]).get_data(as_text=True)
    with database.connection_context():
        assert Conversation.select().count() == 1
    answer = post(ann_client, f"/conversations/{conversation.id}/rematch/{eve.id}", join)
    with database.connection_context():
        assert Conversation.select().count() == 2

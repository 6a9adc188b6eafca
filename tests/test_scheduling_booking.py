"""Booking a conversation: propose, confirm, reschedule, cancel, agreements, and who may do what
(through the services and through HTTP)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from core.db import database, utcnow
from tests.conftest import csrf_token_from
from tests.profiles import complete_profile

EVERY_AFTERNOON = [f"{day}-afternoon" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
EVERY_EVENING = [f"{day}-evening" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"plugins": {"questionnaire_yaml": None}}


@pytest.fixture
def pair(app: Any, make_user: Any) -> dict[str, Any]:
    """Ann (New York, afternoons) and Ben (Berlin, evenings), matched with a conversation; Cal is a third person."""
    from core.models import Match
    from core.scheduling.conversations import conversation_for_match

    people = {"ann": make_user("ann@example.org"), "ben": make_user("ben@example.org"),
              "cal": make_user("cal@example.org")}
    complete_profile(app, people["ann"], first_name="Ann", time_zone="America/New_York", availability=EVERY_AFTERNOON)
    complete_profile(app, people["ben"], first_name="Ben", time_zone="Europe/Berlin", availability=EVERY_EVENING)
    complete_profile(app, people["cal"], first_name="Cal", time_zone="Europe/Berlin", availability=EVERY_EVENING)
    with app.test_request_context(), database.connection_context():
        match = Match.create(a=people["ann"].id, b=people["ben"].id)
        people["match"] = match
        people["conversation"] = conversation_for_match(match)
    return people


def fresh(model: Any) -> Any:
    """The row as stored now."""
    return type(model).get_by_id(model.id)


def options(app: Any, conversation: Any) -> list[dt.datetime]:
    """The computed options for the pair (real now)."""
    from core.scheduling import booking

    with app.test_request_context(), database.connection_context():
        return booking.options_for(fresh(conversation))


def test_propose_refuses_with_reasons(app: Any, pair: dict[str, Any]) -> None:
    """Past, outside either availability (saying whose), overlapping another booking, not a participant."""
    from core.scheduling import booking
    from core.scheduling.conversations import create_conversation

    found = options(app, pair["conversation"])
    assert found, "Ann's afternoons and Ben's evenings overlap every day"
    with app.test_request_context(), database.connection_context():
        conversation = fresh(pair["conversation"])
        with pytest.raises(booking.BookingError, match="in the past"):
            booking.propose(conversation, pair["ann"], utcnow() - dt.timedelta(hours=1))
        # 03:00 UTC is night in both zones: outside Ann's (the proposer's) availability first.
        night = (utcnow() + dt.timedelta(days=2)).replace(hour=3, minute=0, second=0, microsecond=0)
        with pytest.raises(booking.BookingError, match="outside your availability"):
            booking.propose(conversation, pair["ann"], night)
        with pytest.raises(booking.NotAllowedError):
            booking.propose(conversation, pair["cal"], found[0])
        # Ben has another booked conversation (with Cal) at the first option: it overlaps.
        create_conversation(pair["ben"].id, pair["cal"].id, starts_at=found[0] + dt.timedelta(minutes=30))
        with pytest.raises(booking.BookingError, match=r"overlaps another conversation Ben G\. has booked"):
            booking.propose(conversation, pair["ann"], found[0])


def test_outside_the_partners_availability_names_the_partner(app: Any, pair: dict[str, Any]) -> None:
    """A time in Ann's afternoon but outside Ben's evening names Ben."""
    from zoneinfo import ZoneInfo

    from core.scheduling import booking

    # 15:30 in New York (Ann's afternoon) is 20:30 or 21:30 in Berlin: the slot ends after Ben's evening.
    day = (utcnow() + dt.timedelta(days=3)).astimezone(ZoneInfo("America/New_York")).date()
    late_afternoon = dt.datetime.combine(day, dt.time(15, 30), tzinfo=ZoneInfo("America/New_York")).astimezone(dt.UTC)
    with app.test_request_context(), database.connection_context(), \
            pytest.raises(booking.BookingError, match=r"outside Ben G\.'s availability"):
        booking.propose(fresh(pair["conversation"]), pair["ann"], late_afternoon)


def test_confirm_needs_agreements_then_books_and_second_confirm_is_a_no_op(app: Any, pair: dict[str, Any]) -> None:
    """Only the partner confirms; both agreements first; booked once; calendar told once."""
    from core.models.scheduling import AgreementAcceptance
    from core.scheduling import booking, calendar

    calls: list[tuple[int, str]] = []
    original = calendar.notify_calendar
    calendar.notify_calendar = lambda conversation, method: calls.append((conversation.id, method))
    try:
        first = options(app, pair["conversation"])[0]
        with app.test_request_context(), database.connection_context():
            conversation = fresh(pair["conversation"])
            proposal = booking.propose(conversation, pair["ann"], first)
            assert booking.propose(conversation, pair["ann"], first).id == proposal.id
            with pytest.raises(booking.BookingError, match="your partner confirms"):
                booking.confirm(proposal, pair["ann"])
            with pytest.raises(booking.BookingError, match="Accept the conversation agreements first"):
                booking.confirm(proposal, pair["ben"])
            booking.accept_agreements(conversation, pair["ben"])
            booking.accept_agreements(conversation, pair["ben"])
            with pytest.raises(booking.BookingError, match=r"Ann G\. has not accepted"):
                booking.confirm(proposal, pair["ben"])
            booking.accept_agreements(conversation, pair["ann"])
            rows = list(AgreementAcceptance.select())
            assert len(rows) == 2 and {row.version for row in rows} == {"1"}
            assert all(len(row.text_sha256) == 64 for row in rows)
            booked = booking.confirm(proposal, pair["ben"])
            assert (booked.status, booked.starts_at, booked.sequence) == ("scheduled", first, 0)
            again = booking.confirm(proposal, pair["ben"])
            assert (again.status, again.sequence) == ("scheduled", 0)
            with pytest.raises(booking.NotAllowedError):
                booking.confirm(proposal, pair["cal"])
        assert calls == [(booked.id, "REQUEST")]
    finally:
        calendar.notify_calendar = original


def test_reschedule_raises_sequence_and_is_refused_after_the_start(app: Any, pair: dict[str, Any]) -> None:
    """A confirmed new time moves the booking (sequence + 1); after the start nothing moves."""
    from core.scheduling import booking

    found = options(app, pair["conversation"])
    with app.test_request_context(), database.connection_context():
        conversation = fresh(pair["conversation"])
        for user in (pair["ann"], pair["ben"]):
            booking.accept_agreements(conversation, user)
        booking.confirm(booking.propose(conversation, pair["ann"], found[0]), pair["ben"])
        moved = booking.confirm(booking.reschedule(fresh(conversation), pair["ben"], found[1]), pair["ann"])
        assert (moved.starts_at, moved.sequence) == (found[1], 1)
        assert found[1] not in booking.options_for(fresh(conversation))  # the booked time is not offered again
        after_start = found[1] + dt.timedelta(minutes=5)
        with pytest.raises(booking.BookingError, match="already started"):
            booking.reschedule(fresh(conversation), pair["ann"], found[2], now=after_start)
        with pytest.raises(booking.BookingError, match="already started"):
            booking.cancel(fresh(conversation), pair["ann"], now=after_start)
        cancelled = booking.cancel(fresh(conversation), pair["ann"], "ill")
        assert (cancelled.status, cancelled.sequence) == ("cancelled", 2)
        with pytest.raises(booking.BookingError, match="cancelled"):
            booking.propose(fresh(conversation), pair["ann"], found[2])


def _post(client: Any, url: str, page: str, **data: Any) -> Any:
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def test_booking_through_the_pages(app: Any, client: Any, login: Any, pair: dict[str, Any], outbox: Any) -> None:
    """Ann proposes an option, both accept the agreements, Ben confirms: both see the booked time."""
    conversation = pair["conversation"]
    page = f"/conversations/{conversation.id}"
    login("ann@example.org")
    html = client.get(page).get_data(as_text=True)
    assert "Ben" in html and "ben@example.org" not in html and "I accept the agreements" in html
    option = re.search(r'name="option" id="option-1" value="([^"]+)"', html).group(1)
    assert _post(client, f"{page}/propose", page, option=option).status_code == 302
    told = [m for m in outbox.to("ben@example.org") if m.subject == "Ann G. proposed a time for your conversation"]
    assert len(told) == 1 and "(your time)" in told[0].text
    assert _post(client, f"{page}/agreements", page).status_code == 302
    nothing = _post(client, f"{page}/propose", page)
    assert nothing.status_code == 400 and "Choose one of the suggested times" in nothing.get_data(as_text=True)
    other = app.test_client()
    login("ben@example.org", test_client=other)
    html = other.get(page).get_data(as_text=True)
    assert "Confirm this time" in html and "for Ann G." in html
    proposal_id = re.search(r"/proposals/(\d+)/confirm", html).group(1)
    refused = _post(other, f"{page}/proposals/{proposal_id}/confirm", page)
    assert "Accept the conversation agreements first" in other.get(page).get_data(as_text=True)
    assert refused.status_code in (302, 303)
    _post(other, f"{page}/agreements", page)
    _post(other, f"{page}/proposals/{proposal_id}/confirm", page)
    html = other.get(page).get_data(as_text=True)
    assert "Booked" in html and "The room opens at" in html and 'href="/tech-check"' in html
    assert "Booked" in other.get("/conversations").get_data(as_text=True)
    with app.app_context(), database.connection_context():
        assert fresh(conversation).status == "scheduled"


def test_typed_local_time_in_a_daylight_saving_gap_is_explained(app: Any, client: Any, login: Any,
                                                                pair: dict[str, Any]) -> None:
    """2:30 on the spring-forward night does not exist in New York; 1:30 on the fall-back night happens twice."""
    page = f"/conversations/{pair['conversation'].id}"
    login("ann@example.org")
    gap = _post(client, f"{page}/propose", page, date="2030-03-10", time="02:30")
    assert gap.status_code == 400 and "does not exist in America/New_York" in gap.get_data(as_text=True)
    twice = _post(client, f"{page}/propose", page, date="2030-11-03", time="01:30")
    assert twice.status_code == 400 and "happens twice" in twice.get_data(as_text=True)
    bad = _post(client, f"{page}/propose", page, date="tomorrow", time="19:00")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    past = _post(client, f"{page}/propose", page, date="2020-01-06", time="13:00")
    assert past.status_code == 400 and "in the past" in past.get_data(as_text=True)


def test_a_third_participant_gets_404_everywhere(app: Any, client: Any, login: Any, make_user: Any,
                                                pair: dict[str, Any]) -> None:
    """Cal sees nothing of Ann and Ben's conversation and can change nothing."""
    from core.models.scheduling import SlotProposal

    conversation = pair["conversation"]
    found = options(app, conversation)
    with app.test_request_context(), database.connection_context():
        proposal = SlotProposal.create(conversation=conversation.id, proposer=pair["ann"].id, starts_at=found[0])
    login("cal@example.org")
    base = f"/conversations/{conversation.id}"
    assert client.get(base).status_code == 404
    for url in (f"{base}/propose", f"{base}/agreements", f"{base}/cancel", f"{base}/messages",
                f"{base}/proposals/{proposal.id}/confirm", f"{base}/proposals/{proposal.id}/withdraw"):
        response = _post(client, url, "/conversations", option=found[0].isoformat(), body="hi")
        assert response.status_code == 404, url
    with app.app_context(), database.connection_context():
        assert fresh(conversation).status == "proposing" and fresh(proposal).status == "proposed"
    assert "Ben" not in client.get("/conversations").get_data(as_text=True)
    make_user("root@example.org", role="admin")
    admin = app.test_client()
    login("root@example.org", test_client=admin)
    html = admin.get(base).get_data(as_text=True)
    assert "Ann G." in html and "Ben G." in html and "Message to" not in html


def test_accepting_an_invitation_creates_the_conversation_and_links_it(app: Any, client: Any, login: Any,
                                                                       pair: dict[str, Any], outbox: Any) -> None:
    """accept() makes the match's conversation; the match email points to it."""
    from core.matching import invitations
    from core.models import Conversation
    from core.models.matching import Invitation

    with app.test_request_context(), database.connection_context():
        invitation = Invitation.create(inviter=pair["cal"].id, invitee=pair["ann"].id,
                                       expires_at=utcnow() + dt.timedelta(days=3))
        match = invitations.accept(invitation, pair["ann"])
        conversation = Conversation.get(Conversation.match == match.id)
    links = [link for message in outbox.to("ann@example.org") for link in outbox.links(message)]
    assert any(link.endswith(f"/conversations/{conversation.id}") for link in links), links
    login("ann@example.org")
    html = client.get(f"/invitations/{invitation.id}").get_data(as_text=True)
    assert f'href="/conversations/{conversation.id}">Find a time together</a>' in html

"""Calendar invitations: .ics parsed back with icalendar, emailed as attachments, and downloadable."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from core.db import database
from tests.profiles import complete_profile

# Sunday 2026-03-08 is the US switch to daylight saving time: 19:00 in New York is EDT (UTC-4) that day,
# EST (UTC-5) the day before.
AFTER_DST = dt.datetime(2026, 3, 9, 23, 0, tzinfo=dt.UTC)   # 19:00 EDT
BEFORE_DST = dt.datetime(2026, 3, 7, 0, 0, tzinfo=dt.UTC)   # 19:00 EST on March 6


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"plugins": {"questionnaire_yaml": None}, "site": {"default_time_zone": "Europe/Berlin"}}


@pytest.fixture
def pair(app, make_user) -> tuple[Any, Any]:
    """Two participants with complete profiles: Maria G. (New York) and Tom B. (no zone of his own)."""
    maria = make_user("maria@example.org")
    tom = make_user("tom@example.org")
    complete_profile(app, maria, first_name="Maria", last_initial="G")
    complete_profile(app, tom, first_name="Tom", last_initial="B")
    with database.connection_context():
        type(maria).update(time_zone="America/New_York").where(type(maria).id == maria.id).execute()
        type(tom).update(time_zone=None).where(type(tom).id == tom.id).execute()
    return maria, tom


def booked(app, a: Any, b: Any, starts_at: dt.datetime = AFTER_DST) -> Any:
    """A scheduled conversation of `a` and `b` at `starts_at`."""
    from core.scheduling.conversations import create_conversation

    with app.app_context(), database.connection_context():
        return create_conversation(a.id, b.id, starts_at=starts_at)


def ics(app, conversation: Any, method: str, recipient: Any = None, zone: str | None = None) -> Calendar:
    from core.models import User
    from core.scheduling.calendar import ics_for

    with app.test_request_context(), database.connection_context():
        user = User.get_by_id(recipient.id) if recipient else None
        return Calendar.from_ical(ics_for(conversation, method, recipient=user, zone=zone))


def event_of(calendar: Calendar) -> Any:
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def test_request_in_utc_parses_back_with_the_right_fields(app, pair):
    maria, tom = pair
    conversation = booked(app, maria, tom)
    calendar = ics(app, conversation, "REQUEST", recipient=maria)
    event = event_of(calendar)
    assert str(calendar["METHOD"]) == "REQUEST" and str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    assert str(event["UID"]) == conversation.uid
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == AFTER_DST
    assert event.decoded("DTSTART").utcoffset() == dt.timedelta(0)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == dt.timedelta(minutes=conversation.duration_minutes)
    assert event.decoded("DTSTAMP").tzinfo is not None
    assert "Tom B." in str(event["SUMMARY"])
    assert str(event["STATUS"]) == "CONFIRMED"
    assert f"/conversations/{conversation.id}" in str(event["URL"])
    assert "/tech-check" in str(event["DESCRIPTION"])
    assert b"DTSTART:20260309T230000Z" in calendar.to_ical()


def test_summary_and_attendees_never_show_the_partners_email(app, pair):
    maria, tom = pair
    conversation = booked(app, maria, tom)
    raw = ics(app, conversation, "REQUEST", recipient=maria).to_ical().decode().replace("\r\n ", "")  # unfold
    assert "tom@example.org" not in raw
    assert "maria@example.org" in raw  # the recipient's own address, as the attendee
    assert "Tom B." in raw


@pytest.mark.parametrize("starts_at, local_hour, offset_hours", [(AFTER_DST, 19, -4), (BEFORE_DST, 19, -5)])
def test_tzid_with_vtimezone_gives_the_same_instant_across_dst(app, pair, starts_at, local_hour, offset_hours):
    maria, tom = pair
    conversation = booked(app, maria, tom, starts_at)
    calendar = ics(app, conversation, "REQUEST", recipient=maria, zone="America/New_York")
    event = event_of(calendar)
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    start = event.decoded("DTSTART")
    assert start == starts_at  # the same instant
    assert start.hour == local_hour and start.utcoffset() == dt.timedelta(hours=offset_hours)
    # A reader that only trusts the VTIMEZONE in the file (not its own zone database) agrees.
    vtimezone = calendar.walk("VTIMEZONE")[0].to_tz()
    naive = dt.datetime.strptime(str(event["DTSTART"].to_ical().decode()), "%Y%m%dT%H%M%S")
    assert naive.replace(tzinfo=vtimezone).astimezone(dt.UTC) == starts_at


def test_cancel_has_the_same_uid_and_status_cancelled(app, pair):
    maria, tom = pair
    conversation = booked(app, maria, tom)
    event = event_of(ics(app, conversation, "CANCEL", recipient=tom))
    calendar = ics(app, conversation, "CANCEL", recipient=tom)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == conversation.uid and str(event["STATUS"]) == "CANCELLED"
    assert "Maria G." in str(event["SUMMARY"])


def test_unknown_method_and_unbooked_conversation_are_refused(app, pair):
    from core.scheduling.calendar import ics_for
    from core.scheduling.conversations import create_conversation

    maria, tom = pair
    conversation = booked(app, maria, tom)
    with app.test_request_context(), database.connection_context():
        with pytest.raises(ValueError, match="REQUEST, CANCEL"):
            ics_for(conversation, "PUBLISH")
        unbooked = create_conversation(maria.id, tom.id + 0, starts_at=None)
        with pytest.raises(ValueError, match="no start time"):
            ics_for(unbooked, "REQUEST")


def attachment_of(outbox: Any, address: str) -> tuple[Any, Calendar]:
    """The newest message to `address`, parsed with the email package, and its invite.ics."""
    message = outbox.last_to(address)
    parsed = email.message_from_bytes((Path(outbox.folder) / f"{message.id}.eml").read_bytes(),
                                      policy=email.policy.default)
    parts = [part for part in parsed.iter_attachments() if part.get_filename() == "invite.ics"]
    assert len(parts) == 1, [part.get_filename() for part in parsed.iter_attachments()]
    assert parts[0].get_content_type() == "text/calendar"
    calendar = Calendar.from_ical(parts[0].get_payload(decode=True))
    assert parts[0].get_param("method") == str(calendar["METHOD"])
    return message, calendar


def notify(app, conversation: Any, method: str) -> None:
    from core.scheduling.calendar import notify_calendar

    with app.test_request_context(), database.connection_context():
        notify_calendar(conversation, method)


def test_booking_email_carries_the_invitation_in_each_recipients_zone(app, pair, outbox):
    maria, tom = pair
    conversation = booked(app, maria, tom)
    notify(app, conversation, "REQUEST")

    message, calendar = attachment_of(outbox, "maria@example.org")
    event = event_of(calendar)
    assert "Tom B." in message.subject and "tom@example.org" not in message.text + (message.html or "")
    assert "7:00" in message.text and "America/New_York" in message.text  # her own zone
    assert f"/conversations/{conversation.id}" in message.text and "/tech-check" in message.text
    assert event["DTSTART"].params["TZID"] == "America/New_York" and event.decoded("DTSTART") == AFTER_DST

    message, calendar = attachment_of(outbox, "tom@example.org")
    event = event_of(calendar)
    assert "Maria G." in message.subject and "maria@example.org" not in message.text + (message.html or "")
    assert "Europe/Berlin" in message.text and "12:00" in message.text  # the site's zone: 00:00 CET next day
    assert event.decoded("DTSTART") == AFTER_DST and str(event["UID"]) == conversation.uid


def test_reschedule_sends_the_same_uid_with_a_higher_sequence_and_cancel_sends_cancel(app, pair, outbox):
    from core.models import Conversation

    maria, tom = pair
    conversation = booked(app, maria, tom)
    notify(app, conversation, "REQUEST")
    _, first = attachment_of(outbox, "tom@example.org")

    with database.connection_context():
        Conversation.update(starts_at=AFTER_DST + dt.timedelta(days=1), sequence=1).where(
            Conversation.id == conversation.id).execute()
        conversation = Conversation.get_by_id(conversation.id)
    notify(app, conversation, "REQUEST")
    message, moved = attachment_of(outbox, "tom@example.org")
    assert "New time" in message.subject
    assert str(event_of(moved)["UID"]) == str(event_of(first)["UID"])
    assert int(event_of(moved)["SEQUENCE"]) > int(event_of(first)["SEQUENCE"])
    assert event_of(moved).decoded("DTSTART") == AFTER_DST + dt.timedelta(days=1)

    with database.connection_context():
        Conversation.update(status="cancelled", sequence=2).where(Conversation.id == conversation.id).execute()
        conversation = Conversation.get_by_id(conversation.id)
    notify(app, conversation, "CANCEL")
    message, cancelled = attachment_of(outbox, "tom@example.org")
    assert "Cancelled" in message.subject
    assert str(cancelled["METHOD"]) == "CANCEL" and str(event_of(cancelled)["STATUS"]) == "CANCELLED"
    assert str(event_of(cancelled)["UID"]) == conversation.uid and int(event_of(cancelled)["SEQUENCE"]) == 2


def test_download_for_participants_facilitator_and_admin_only(app, pair, client, make_user, login):
    maria, tom = pair
    facilitator = make_user("fac@example.org", role="facilitator")
    make_user("admin@example.org", role="admin")
    make_user("stranger@example.org")
    conversation = booked(app, maria, tom)
    with database.connection_context():
        type(conversation).update(facilitator=facilitator.id).where(type(conversation).id == conversation.id).execute()
    path = f"/conversations/{conversation.id}/calendar.ics"

    assert client.get(path).status_code == 302  # signed out: to the sign-in page
    for address, expected in (("maria@example.org", 200), ("fac@example.org", 200), ("admin@example.org", 200),
                              ("stranger@example.org", 404)):
        browser = app.test_client()
        login(address, test_client=browser)
        response = browser.get(path)
        assert response.status_code == expected, (address, response.status_code)
        if expected == 200:
            assert response.mimetype == "text/calendar"
            calendar = Calendar.from_ical(response.data)
            assert str(event_of(calendar)["UID"]) == conversation.uid
            assert event_of(calendar).decoded("DTSTART") == AFTER_DST
            assert "tom@example.org" not in response.get_data(as_text=True) or address == "tom@example.org"
    browser = app.test_client()
    login("maria@example.org", test_client=browser)
    assert browser.get("/conversations/999999/calendar.ics").status_code == 404
    assert ZoneInfo("America/New_York")  # the zone database is present


INJECTED = "Tom\rATTENDEE;CN=Eve:mailto:eve@example.org"
"""A first name stored before names were checked, with a bare carriage return and a calendar line after it."""


def rename(user: Any, first_name: str) -> None:
    """Store `first_name` as the user's answer directly, as an older version of the site could have."""
    from core.models.profiles import Answer

    with database.connection_context():
        Answer.update(value=first_name).where((Answer.user == user.id) & (Answer.question_id == "first_name")).execute()


def attendees(event: Any) -> list[str]:
    """The event's ATTENDEE addresses (icalendar gives one as a value, several as a list)."""
    found = event.get("ATTENDEE", [])
    return [str(address) for address in (found if isinstance(found, list) else [found])]


def test_a_line_break_in_a_stored_name_cannot_add_a_line_to_the_invitation(app, pair):
    from core.scheduling.calendar import ics_for

    maria, tom = pair
    rename(tom, INJECTED)
    conversation = booked(app, maria, tom)
    with app.test_request_context(), database.connection_context():
        from core.models import User

        raw = ics_for(conversation, "REQUEST", recipient=User.get_by_id(maria.id), zone="America/New_York")

    lines = raw.replace(b"\r\n ", b"").replace(b"\r", b"\n").split(b"\n")  # unfolded, split on every break
    assert len([line for line in lines if line.startswith(b"ATTENDEE")]) == 1
    event = event_of(Calendar.from_ical(raw))
    assert attendees(event) == ["mailto:maria@example.org"]
    assert str(event["SUMMARY"]).startswith("Conversation with Tom ATTENDEE;CN=Eve:mailto:eve@example.org B.")


def test_a_line_break_in_a_stored_name_still_lets_both_booking_emails_go_out(app, pair, outbox):
    maria, tom = pair
    rename(tom, INJECTED + "\nBcc: eve@example.org")
    conversation = booked(app, maria, tom)

    notify(app, conversation, "REQUEST")

    message, calendar = attachment_of(outbox, "maria@example.org")
    assert message.subject == "Booked: your conversation with Tom ATTENDEE;CN=Eve:mailto:eve@example.org " \
                              "Bcc: eve@example.org B."
    headers = (Path(outbox.folder) / f"{message.id}.eml").read_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\rATTENDEE" not in headers
    assert attendees(event_of(calendar)) == ["mailto:maria@example.org"]
    assert outbox.last_to("tom@example.org").subject.startswith("Booked: your conversation with Maria G.")

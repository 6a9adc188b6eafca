"""Calendar updates for a conversation: .ics invitations (REQUEST/CANCEL) attached to emails to both participants."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, has_request_context
from icalendar import Calendar, Event, vCalAddress, vText

from core import __version__
from core.db import utcnow
from core.input_checks import one_line
from core.mail import queue_email
from core.models import User
from core.questionnaire.profiles import profile_for
from core.timezones import usable_time_zone
from core.urls import external_url

METHODS = ("REQUEST", "CANCEL")


def _settings() -> Any:
    return current_app.extensions["oss_connect"].settings


def _link(endpoint: str, fallback_path: str, **values: Any) -> str:
    """An absolute link to `endpoint` when it is registered, else site.base_url + `fallback_path`."""
    if endpoint not in current_app.view_functions:
        return _settings().site.base_url + fallback_path
    if has_request_context():
        return external_url(endpoint, **values)
    # In a job: build from the URL map, without a request context (whose teardown would close the DB connection).
    return _settings().site.base_url + current_app.url_map.bind("localhost").build(endpoint, values)


def conversation_url(conversation: Any) -> str:
    """The conversation page (where the pair joins), as an absolute link."""
    return _link("scheduling.conversation", f"/conversations/{conversation.id}", conversation_id=conversation.id)


def tech_check_url() -> str:
    """The camera and microphone check page, as an absolute link."""
    return _link("tech_check.page", "/tech-check")


def recipient_zone(user: Any) -> str:
    """The IANA zone times are shown in for `user`: their account's if known here, else the site's default."""
    return usable_time_zone(getattr(user, "time_zone", None), _settings().site.default_time_zone or "UTC")


def local_start(conversation: Any, zone: str) -> str:
    """The start as people read it in `zone` (e.g. "Tuesday, March 10, 2026 at 7:00:00 PM EDT")."""
    starts = _aware(conversation.starts_at)
    locale = _settings().site.default_locale
    return format_datetime(starts, "full", tzinfo=ZoneInfo(zone), locale=locale)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def partner_name(conversation: Any, user_id: int) -> str:
    """The partner's name as partners see it (never an email address)."""
    other = conversation.b_id if conversation.a_id == user_id else conversation.a_id
    return profile_for(other, "partners").name


def ics_for(conversation: Any, method: str, *, recipient: Any = None, zone: str | None = None) -> bytes:
    """The conversation's calendar object for `recipient` (a User): METHOD REQUEST or CANCEL, one VEVENT.

    Times are in UTC ("...Z"), or with a TZID and its VTIMEZONE when `zone` is an IANA zone other than UTC.
    The summary names the partner as partners see them; the only email in it is the recipient's own.
    Every value goes through icalendar's own TEXT escaping; one-line values (the summary, names) are made
    one line first, because icalendar escapes LF and CR LF but passes a bare CR, which ends a content line
    for many calendar programs.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if conversation.starts_at is None:
        raise ValueError("the conversation has no start time yet; book a time before sending an invitation")
    settings = _settings()
    calendar = Calendar()
    calendar.add("prodid", f"-//{one_line(settings.site.name)}//oss-connect {__version__}//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add("calscale", "GREGORIAN")

    starts = _aware(conversation.starts_at)
    ends = starts + dt.timedelta(minutes=conversation.duration_minutes)
    if zone and zone != "UTC":
        starts, ends = starts.astimezone(ZoneInfo(zone)), ends.astimezone(ZoneInfo(zone))
    link = conversation_url(conversation)
    summary = "Conversation"
    if recipient is not None:
        summary = f"Conversation with {partner_name(conversation, recipient.id)}"

    event = Event()
    event.add("uid", conversation.uid)
    event.add("sequence", conversation.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", one_line(f"{summary} ({settings.site.name})"))
    event.add("description", f"Join the conversation: {link}\n"
                             f"Check your camera and microphone beforehand: {tech_check_url()}")
    event.add("location", link)
    event.add("url", link)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    name, address = email.utils.parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    organizer = vCalAddress(f"mailto:{address or 'no-reply@localhost'}")
    organizer.params["cn"] = vText(one_line(name or settings.site.name))
    event.add("organizer", organizer)
    if recipient is not None:
        attendee = vCalAddress(f"mailto:{recipient.email}")
        attendee.params.update({"role": vText("REQ-PARTICIPANT"), "partstat": vText("ACCEPTED"),
                                "rsvp": vText("FALSE")})
        event.add("attendee", attendee)
    calendar.add_component(event)
    if zone and zone != "UTC":
        calendar.add_missing_timezones()
    return calendar.to_ical()


def notify_calendar(conversation: Any, method: str) -> None:
    """Email both participants that the conversation was booked or moved (REQUEST) or cancelled (CANCEL).

    Each email shows the time in the recipient's own zone and carries `invite.ics` in that zone.
    """
    template = "conversation_cancelled" if method == "CANCEL" else "conversation_booked"
    for user_id in (conversation.a_id, conversation.b_id):
        user = User.get_by_id(user_id)
        zone = recipient_zone(user)
        partner = partner_name(conversation, user_id)
        moved = method == "REQUEST" and conversation.sequence > 0
        subject = (f"Cancelled: your conversation with {partner}" if method == "CANCEL"
                   else f"{'New time' if moved else 'Booked'}: your conversation with {partner}")
        invite = ics_for(conversation, method, recipient=user, zone=zone)
        queue_email(user.email, subject, template, attachments=[
            ("invite.ics", invite, f"text/calendar; method={method}")],
            partner=partner, when=local_start(conversation, zone), zone=zone, moved=moved,
            url=conversation_url(conversation), tech_check_url=tech_check_url(),
            minutes=conversation.duration_minutes)

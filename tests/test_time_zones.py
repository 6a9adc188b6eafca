"""Timestamps are stored in UTC and shown in the viewer's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from core.db import database
from core.models import User
from tests.conftest import csrf_token_from

oss_connect_settings = pytest.fixture(lambda: {"site": {"default_time_zone": "America/Chicago"},
                                             "plugins": {"questionnaire_yaml": None}})


def test_aware_timestamps_are_stored_as_utc_and_read_back_aware(app):
    berlin = dt.datetime(2026, 7, 1, 14, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    with database.connection_context():
        user = User.create(email="tz@example.org", created_at=berlin)
        raw = database.execute_sql(f'SELECT created_at FROM "user" WHERE id = {int(user.id)}').fetchone()[0]
        loaded = User.get_by_id(user.id)
    assert str(raw).startswith("2026-07-01 12:30:00")
    assert loaded.created_at == berlin
    assert loaded.created_at.tzinfo == dt.UTC


def account_page_time(client, login, make_user, time_zone):
    user = make_user("viewer@example.org")
    with database.connection_context():
        User.update(created_at=dt.datetime(2026, 1, 15, 18, 0, tzinfo=dt.UTC), time_zone=time_zone).where(
            User.id == user.id).execute()
    login("viewer@example.org")
    return client.get("/account").get_data(as_text=True)


def test_times_show_in_the_viewers_own_time_zone(client, login, make_user):
    page = account_page_time(client, login, make_user, "Asia/Tokyo")
    assert "Jan 16, 2026, 3:00:00" in page  # 18:00 UTC is 03:00 the next day in Tokyo


def test_times_show_in_the_site_time_zone_when_the_viewer_has_none(client, login, make_user):
    page = account_page_time(client, login, make_user, None)
    assert "Jan 15, 2026, 12:00:00" in page  # 18:00 UTC is noon in Chicago (CST)


# The zones offered, and a saved zone this machine does not know ------------------------------------------

def test_the_offered_zones_are_places_the_formatting_library_knows():
    from babel.dates import format_datetime, get_timezone

    from core.timezones import sorted_time_zone_names

    offered = sorted_time_zone_names()
    assert {"Europe/Berlin", "America/Chicago", "Asia/Kolkata", "UTC", "Etc/UTC"} <= set(offered)
    assert not {"Factory", "localtime", "posixrules", "Etc/GMT+5", "Etc/GMT-14"} & set(offered)
    assert not [name for name in offered if name.startswith(("Etc/GMT", "posix/", "right/"))]
    moment = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    for name in offered:  # every one of them formats in both languages of the site: no page can fail on it
        for locale in ("en", "es"):
            assert format_datetime(moment, "full", tzinfo=get_timezone(name), locale=locale)


@pytest.mark.parametrize("zone", ["Factory", "localtime", "Etc/GMT+5", "posixrules"])
def test_a_zone_that_is_not_offered_is_refused_at_the_account_form(client, login, make_user, zone):
    make_user("viewer@example.org")
    login("viewer@example.org")
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    response = client.post("/account", data={"time_zone": zone, "csrf_token": token})

    assert response.status_code == 400
    assert "Choose a time zone from the list" in response.get_data(as_text=True)
    assert f'<option value="{zone}"' not in response.get_data(as_text=True)
    with database.connection_context():
        assert User.by_email("viewer@example.org").time_zone is None


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Factory", "localtime"])
def test_a_saved_zone_unknown_here_falls_back_to_the_site_zone_with_a_notice(client, login, make_user, zone):
    page = account_page_time(client, login, make_user, zone)

    assert "Jan 15, 2026, 12:00:00" in page  # the site's zone (Chicago), not a server error
    assert f"Your saved time zone “{zone}” is not known on this site" in page
    assert "zone (America/Chicago). Choose your time zone on your account page." in page
    for address in ("/", "/profile/", "/conversations", "/suggestions", "/cohorts/join", "/live"):
        response = client.get(address)
        assert response.status_code < 500, (address, response.status_code)


def test_no_notice_for_a_known_zone_or_none(client, login, make_user):
    page = account_page_time(client, login, make_user, "Etc/GMT+5")  # no longer offered, still usable

    assert "Jan 15, 2026, 1:00:00" in page  # 18:00 UTC is 13:00 at UTC-5
    assert "is not known on this site" not in page


def test_a_booking_email_and_page_for_someone_whose_saved_zone_is_unknown_use_the_site_zone(app, client, login,
                                                                                              make_user, outbox):
    from core.scheduling.calendar import notify_calendar
    from core.scheduling.conversations import create_conversation
    from tests.profiles import complete_profile

    ann, ben = make_user("ann@example.org"), make_user("ben@example.org")
    complete_profile(app, ann, first_name="Ann")
    complete_profile(app, ben, first_name="Ben")
    with database.connection_context():
        User.update(time_zone="Mars/Olympus_Mons").where(User.id == ann.id).execute()
    with app.test_request_context(), database.connection_context():
        conversation = create_conversation(ann.id, ben.id, starts_at=dt.datetime(2027, 1, 15, 18, 0, tzinfo=dt.UTC))
        notify_calendar(conversation, "REQUEST")

    message = outbox.last_to("ann@example.org")
    assert "America/Chicago" in message.text and "12:00" in message.text
    login("ann@example.org")
    page = client.get(f"/conversations/{conversation.id}")
    assert page.status_code == 200
    token = csrf_token_from(page.get_data(as_text=True))
    proposed = client.post(f"/conversations/{conversation.id}/propose",
                           data={"csrf_token": token, "date": "2027-02-01", "time": "19:00"})
    assert proposed.status_code in (302, 400)  # a time typed in the site's zone, not a server error


def test_the_site_zone_in_the_config_must_be_one_babel_knows():
    from pydantic import ValidationError

    from core.config.schema import SiteSettings

    for zone in ("Factory", "localtime", "Mars/Olympus_Mons"):
        with pytest.raises(ValidationError, match="must be an IANA time zone name"):
            SiteSettings(name="Test", base_url="http://localhost", default_time_zone=zone)
    assert SiteSettings(name="Test", base_url="http://localhost", default_time_zone="Etc/GMT+5").default_time_zone

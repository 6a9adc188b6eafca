"""Timestamps are stored in UTC and shown in the viewer's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from core.db import database
from core.models import User

oss_connect_settings = pytest.fixture(lambda: {"site": {"default_time_zone": "America/Chicago"}})


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

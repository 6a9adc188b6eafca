"""Admin → Archive in real headless Chromium: a deposited conversation, a failed one retried from the page,
a withdrawal the institution must be told of, zero axe-core violations in every bundled theme, and the
README's screenshot docs/screenshots/admin-archive.png (default theme)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import plugins.archive_site
from core.db import database
from tests.archive_fakes import ShelfPlugin
from tests.archive_helpers import choose, describe, processed
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_screenshots import DESKTOP, ORGANISATIONS, assert_sane_png, save_screenshot
from tests.matching_fakes import LeanPlugin
from tests.profiles import complete_profile
from tests.room_fakes import ROOM_SETTINGS, booked


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    return {**ROOM_SETTINGS, "theme": {"name": theme_name},
            "site": {"name": "Common Ground", "organisation": ORGANISATIONS[theme_name]}}


@pytest.fixture
def oss_connect_plugins(tmp_path: Path) -> dict[str, Any]:
    return {"lean": LeanPlugin(), "shelf": ShelfPlugin(tmp_path / "shelf"), "archive_site": plugins.archive_site}


def test_the_archive_page_shows_deposits_and_its_actions_work(live_server, page, oss_connect_plugins, theme_name):
    from core.api import DepositError
    from core.archive.deposits import plan
    from core.models import Conversation

    app = live_server.app
    shelf = oss_connect_plugins["shelf"].destination
    people = {}
    for name in ("Ann", "Ben", "Cal", "Dee"):
        people[name] = create_account(f"{name.lower()}@example.org")
        complete_profile(app, people[name], visibility={"first_name": "public"}, first_name=name)
    create_account("ada@example.org", role="admin")

    def recorded(a: str, b: str, *, public: bool, failures: list[Any]) -> Any:
        conversation = booked(app, people[a], people[b], minutes_ago=90)
        processed(app, conversation)
        describe(app, conversation, people[a], people[b])
        shelf.failures = failures
        for name in (a, b):
            choose(app, conversation, people[name], deposit=True, public=public)
        with app.app_context(), database.connection_context():
            plan(Conversation.get_by_id(conversation.id))
        return conversation

    first = recorded("Ann", "Ben", public=True, failures=[])
    second = recorded("Cal", "Dee", public=False,
                      failures=[DepositError("The shelf's door is locked; ask its keeper to open it.", retry=False)])
    shelf.removes = False
    choose(app, first, people["Ben"], deposit=False, public=True)       # Ben withdraws his deposit consent
    with app.app_context(), database.connection_context():
        plan(Conversation.get_by_id(first.id))

    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server.url, "ada@example.org")
    open_page(page, f"{live_server.url}/admin/archive")
    tell = page.get_by_role("region", name="Institutions to tell by hand")
    assert "The Shelf Archive" in tell.inner_text() and f"conversation {first.id}" in tell.inner_text()
    failed = page.locator(f"#conversation-{second.id}")
    assert "ask its keeper to open it" in failed.inner_text() and "Deposit failed" in failed.inner_text()
    assert "Deposited" in page.locator(f"#conversation-{first.id}").inner_text()
    assert_accessible(page)
    if theme_name == "default":
        assert_sane_png(save_screenshot(page, "admin-archive"), DESKTOP["width"])

    failed.get_by_role("button", name="Try again now").click()
    page.wait_for_load_state("load")
    assert "queued now" in page.locator(".flash").inner_text()
    assert "Deposited" in page.locator(f"#conversation-{second.id}").inner_text()
    page.get_by_role("button", name="They have been told").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("region", name="Institutions to tell by hand").count() == 0
    assert_accessible(page)

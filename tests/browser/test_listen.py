"""The public listening pages in real headless Chromium: the list (with results, and empty after a search),
a conversation's page whose <audio> really plays and seeks (the server answering range requests), zero
axe-core violations in every bundled theme, and the README's screenshots docs/screenshots/listen.png and
listen-item.png (default theme).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.db import database
from tests.archive_helpers import choose, describe, processed
from tests.browser import THEMES, create_account, open_page
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_screenshots import DESKTOP, ORGANISATIONS, PINNED_DATE, assert_sane_png, save_screenshot
from tests.matching_fakes import LeanPlugin
from tests.profiles import complete_profile
from tests.room_fakes import ROOM_SETTINGS, booked

FARM = {"title": "Farmers talk about rain and prices",
        "summary": "Two farmers compare the weather, the prices at the elevator and the neighbours they rely on.",
        "keywords": ["farming", "weather"], "places": ["Ames, Iowa"], "people": [], "organisations": [],
        "location": "Ames, Iowa"}


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    """Each test runs once per bundled theme."""
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    """The theme under test, with a plausible partner's names (they show in the screenshots)."""
    return {**ROOM_SETTINGS, "theme": {"name": theme_name},
            "site": {"name": "Common Ground", "organisation": ORGANISATIONS[theme_name]}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """The lean matching fake, for complete profiles."""
    return {"lean": LeanPlugin()}


@pytest.fixture
def published(live_server: Any) -> list[Any]:
    """Two public conversations (both participants chose public, description approved, published)."""
    from core.archive.publication import publish
    from core.archive.types import ArchivePackage
    from core.models.archive import Publication

    app = live_server.app
    people = {}
    for email, name, bio in (("ann@example.org", "Ann", "I restore old radios and sing in a church choir."),
                             ("ben@example.org", "Ben", "I keep bees and coach a youth football team."),
                             ("cal@example.org", "Cal", "I drive a school bus and grow tomatoes.")):
        people[name] = create_account(email)
        complete_profile(app, people[name], visibility={"first_name": "public", "bio": "public"}, first_name=name,
                         bio=bio)
    conversations = []
    for index, (a, b, fields) in enumerate((("Ann", "Ben", {}), ("Cal", "Ben", FARM))):
        conversation = booked(app, people[a], people[b], minutes_ago=120)
        processed(app, conversation)
        for name in (a, b):
            choose(app, conversation, people[name], public=True, deposit=True)
        describe(app, conversation, people[a], people[b], **fields)
        with app.app_context(), database.connection_context():
            package = ArchivePackage(identifier=f"oss-connect-{conversation.id}", path=live_server.instance,
                                     checksum=f"{index}" * 64, size=0, payload_oxum="0.0", files=(),
                                     conversation_id=conversation.id, public=True)
            publication = publish(package)
            Publication.update(published_at=PINNED_DATE.replace(day=2 + index)).where(
                Publication.id == publication.id).execute()
        conversation.slug = publication.slug
        conversations.append(conversation)
    return conversations


@pytest.fixture
def viewer(browser: Any) -> Any:
    """A signed-out visitor with the screenshots' fixed context (viewport, colours, locale, UTC)."""
    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1, color_scheme="light",
                                  reduced_motion="reduce", locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_the_listening_list_searches_and_is_accessible(live_server, viewer, published, theme_name):
    open_page(viewer, f"{live_server.url}/listen")
    cards = viewer.locator(".listen-card")
    assert cards.count() == 2
    assert viewer.get_by_role("link", name="Two neighbours on faith, work and family").is_visible()
    assert_accessible(viewer)
    if theme_name == "default":
        assert_sane_png(save_screenshot(viewer, "listen"), DESKTOP["width"])

    viewer.get_by_label("Place").fill("iowa")
    with viewer.expect_navigation():
        viewer.get_by_role("button", name="Search").click()
    assert cards.count() == 1 and "Farmers talk about rain" in cards.first.inner_text()

    viewer.get_by_label("Keyword").fill("astronomy")
    with viewer.expect_navigation():
        viewer.get_by_role("button", name="Search").click()
    assert cards.count() == 0
    assert "No public conversation matches this search" in viewer.locator(".listen-empty").inner_text()
    assert_accessible(viewer)


def test_an_empty_listening_page_is_accessible(live_server, viewer, theme_name):
    open_page(viewer, f"{live_server.url}/listen")
    assert "There are no public conversations yet" in viewer.locator(".listen-empty").inner_text()
    main_nav = viewer.get_by_role("navigation", name="Main")
    assert main_nav.get_by_role("link", name="Hear real conversations").count() == 1
    assert_accessible(viewer)


def test_a_conversation_plays_and_seeks_over_range_requests(live_server, viewer, published, theme_name):
    slug = published[0].slug
    audio_url = f"{live_server.url}/listen/{slug}/audio"
    answers: list[tuple[int, str | None, str | None]] = []
    viewer.on("response", lambda response: answers.append(
        (response.status, response.request.headers.get("range"), response.headers.get("content-range")))
        if response.url == audio_url else None)

    open_page(viewer, f"{live_server.url}/listen")
    with viewer.expect_navigation():
        viewer.get_by_role("link", name="Two neighbours on faith, work and family").click()
    assert viewer.url == f"{live_server.url}/listen/{slug}"
    assert viewer.get_by_role("heading", name="Two neighbours on faith, work and family").is_visible()
    assert "I restore old radios" in viewer.locator(".listen-people").inner_text()
    viewer.wait_for_function("() => document.getElementById('listen-audio').readyState >= 1")
    state = viewer.evaluate("""() => {
        const audio = document.getElementById('listen-audio');
        return {duration: audio.duration, seekable: audio.seekable.length ? audio.seekable.end(0) : 0};
    }""")
    assert 2.5 < state["duration"] < 3.5, state
    assert state["seekable"] > 2.5, f"the browser cannot seek: {state}, answers {answers}"
    assert_accessible(viewer)
    if theme_name == "default":
        assert_sane_png(save_screenshot(viewer, "listen-item"), DESKTOP["width"])

    viewer.evaluate("""() => {
        const audio = document.getElementById('listen-audio');
        audio.muted = true;
        return audio.play();
    }""")
    viewer.wait_for_function("() => document.getElementById('listen-audio').currentTime > 0.2")
    viewer.evaluate("""() => new Promise(resolve => {
        const audio = document.getElementById('listen-audio');
        audio.pause();
        audio.addEventListener('seeked', resolve, {once: true});
        audio.currentTime = 2.0;
    })""")
    position = viewer.evaluate("() => document.getElementById('listen-audio').currentTime")
    assert abs(position - 2.0) < 0.05, position
    assert any(status == 206 and content_range for status, _, content_range in answers), answers

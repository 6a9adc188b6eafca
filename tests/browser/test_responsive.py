"""Small screens and keyboards: no sideways scrolling on a 375px phone, and a working skip link.

Both bundled themes are checked, since a theme may change the layout or replace base.html.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import (
    ADMIN_PAGES,
    PUBLIC_PAGES,
    THEMES,
    create_account,
    open_page,
    sign_in,
    subscribe_to_newsletter,
)

PHONE = {"width": 375, "height": 740}
HORIZONTAL_OVERFLOW = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  viewportWidth: document.documentElement.clientWidth,
  widest: [...document.querySelectorAll("body *")]
    .filter(element => element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .slice(0, 3).map(element => element.outerHTML.slice(0, 120)),
})"""


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    """Each test runs once per bundled theme."""
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    """The theme under test, with a long support label to stress the footer's wrapping."""
    return {"theme": {"name": theme_name},
            "program": {"support": {"url": "https://example.org/donate",
                                    "label": "Support Riverbend's listener-funded conversations"}}}


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page 375px wide, like a small phone."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def overflowing_pages(page: Any, base_url: str, pages: list[tuple[str, str]]) -> list[str]:
    """The pages (with their widest elements) that are wider than the viewport."""
    problems = []
    for name, path in pages:
        open_page(page, base_url + path, 404 if name == "not-found" else 200)
        found = page.evaluate(HORIZONTAL_OVERFLOW)
        if found["scrollWidth"] > found["viewportWidth"]:
            problems.append(f"{path} is {found['scrollWidth']}px wide (viewport {found['viewportWidth']}px); "
                            f"too wide: {found['widest']}")
    return problems


def test_no_public_page_scrolls_horizontally_on_a_phone(live_server, phone):
    problems = overflowing_pages(phone, live_server.url, PUBLIC_PAGES)
    assert not problems, "\n".join(problems)


def test_no_signed_in_page_scrolls_horizontally_on_a_phone(live_server, phone):
    create_account("a-rather-long-address-for-an-admin@riverbend-public-radio.example.org", role="admin")
    subscribe_to_newsletter(phone, live_server.url, "another-long-listener-address@riverbend-public-radio.example.org")
    sign_in(phone, live_server.url, "a-rather-long-address-for-an-admin@riverbend-public-radio.example.org")
    problems = overflowing_pages(phone, live_server.url, ADMIN_PAGES)
    assert not problems, "\n".join(problems)


def test_first_tab_focuses_the_skip_link(live_server, page):
    open_page(page, live_server.url + "/faq")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => ({cls: document.activeElement.className, text: document.activeElement.textContent})")
    assert focused == {"cls": "skip-link", "text": "Skip to main content"}
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off screen: {box}"


def test_skip_link_moves_focus_to_the_main_content(live_server, page):
    open_page(page, live_server.url + "/login")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'main'")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.id")
    assert focused == "email", "the next Tab after the skip link should reach the form's first field, inside main"

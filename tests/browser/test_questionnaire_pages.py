"""The questionnaire in real headless Chromium: every step and the preview pass axe-core in both
themes, the whole questionnaire can be completed with JavaScript switched off, and a step can be
answered with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.profiles import complete_profile

EMAIL = "maria@example.org"
SECTIONS = ["about", "views", "interests", "bio", "availability"]


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    return {"theme": {"name": theme_name}, "plugins": {"questionnaire_yaml": None}}


@pytest.fixture
def no_script_page(browser: Any) -> Iterator[Any]:
    """A page whose browser context runs no JavaScript at all."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def agree(page: Any, base_url: str) -> None:
    open_page(page, base_url + "/profile/consent")
    page.get_by_label("I agree").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Agree and start").click()


def test_the_consent_step_has_no_axe_violations(live_server, page):
    create_account(EMAIL)
    sign_in(page, live_server.url, EMAIL)
    open_page(page, live_server.url + "/profile/consent")
    assert_accessible(page)
    open_page(page, live_server.url + "/profile/")
    assert_accessible(page)


@pytest.mark.parametrize("section", SECTIONS)
def test_every_questionnaire_step_has_no_axe_violations(live_server, page, section):
    create_account(EMAIL)
    sign_in(page, live_server.url, EMAIL)
    agree(page, live_server.url)
    open_page(page, f"{live_server.url}/profile/step/{section}")
    assert page.locator(".question").count() >= 1
    assert_accessible(page)


def test_a_step_showing_errors_and_a_preview_has_no_axe_violations(live_server, page):
    create_account(EMAIL)
    sign_in(page, live_server.url, EMAIL)
    agree(page, live_server.url)
    open_page(page, f"{live_server.url}/profile/step/about")
    page.locator("#q-first_name").fill("Maria")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    assert page.locator(".field-error").count() >= 3
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Preview what a partner sees").click()
    assert page.locator("#preview-name").inner_text() == "Maria"
    assert_accessible(page)


def test_the_preview_and_a_complete_overview_have_no_axe_violations(live_server, page):
    user = create_account(EMAIL)
    complete_profile(live_server.app, user, visibility={"bio": "public"})
    sign_in(page, live_server.url, EMAIL)
    open_page(page, live_server.url + "/profile/preview")
    assert page.locator("#partner-view-name").inner_text() == "Maria G."
    assert_accessible(page)
    open_page(page, live_server.url + "/profile/")
    assert_accessible(page)


@pytest.mark.parametrize("theme_name", ["default"])
def test_the_whole_questionnaire_works_with_javascript_switched_off(live_server, no_script_page):
    page = no_script_page
    create_account(EMAIL)
    sign_in(page, live_server.url, EMAIL)
    agree(page, live_server.url)
    assert page.url.endswith("/profile/step/about")
    page.locator("#q-first_name").fill("Maria")
    page.locator("#q-last_initial").fill("G")
    page.locator("#q-age_range").select_option("35-44")
    page.get_by_label("Woman").check()
    page.get_by_label("Country").select_option("US")
    page.get_by_label("State, province or region").fill("Ohio")
    page.get_by_label("City or town").fill("Dayton")
    page.locator("#q-languages-en").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    assert page.url.endswith("/profile/step/views"), page.locator("main").inner_text()[:600]
    for question, point in (("lean", "3"), ("politics_importance", "4")):
        page.locator(f"#q-{question}-{point}").check()
    page.locator("#v-lean").select_option("private")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    assert page.url.endswith("/profile/step/interests")
    page.locator("#q-interests-gardening").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    page.locator("#q-bio").fill("I teach school and grow tomatoes.")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    page.locator("#q-time_zone").select_option("America/New_York")
    page.get_by_label("Monday evening").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    assert page.url.endswith("/profile/preview"), page.locator("main").inner_text()[:600]
    card = page.locator("#partner-view-name").locator("xpath=..")
    assert page.locator("#partner-view-name").inner_text() == "Maria G."
    assert "I teach school and grow tomatoes." in card.inner_text()
    assert "on a scale from 1" not in card.inner_text()  # lean was made private
    open_page(page, live_server.url + "/profile/")
    assert "Your profile is complete" in page.locator("main").inner_text()


def tab_to(page: Any, element_id: str, limit: int = 250) -> None:
    """Press Tab until the element has the focus (proving it is reachable by keyboard)."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} was not reached with {limit} presses of Tab")


@pytest.mark.parametrize("theme_name", ["default"])
def test_a_step_can_be_answered_with_the_keyboard_alone(live_server, page):
    create_account(EMAIL)
    sign_in(page, live_server.url, EMAIL)
    agree(page, live_server.url)
    open_page(page, f"{live_server.url}/profile/step/views")
    tab_to(page, "q-lean-1")
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # radios in a group move with the arrow keys
    tab_to(page, "q-politics_importance-1")
    page.keyboard.press("ArrowRight")
    tab_to(page, "v-party")
    page.keyboard.press("ArrowDown")  # private -> partners
    tab_to(page, "q-issue_guns-1")
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # submits with the first button: save and continue
    assert page.url.endswith("/profile/step/interests"), page.locator("main").inner_text()[:600]
    open_page(page, f"{live_server.url}/profile/step/views")
    assert page.locator("#q-lean-4").is_checked()
    assert page.locator("#q-politics_importance-2").is_checked()
    assert page.locator("#v-party").input_value() == "partners"

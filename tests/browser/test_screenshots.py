"""The README's screenshots, taken from the real site in headless Chromium on every run.

Each test renders one page with a fixed viewport, light colour scheme, UTC and reduced motion,
and writes docs/screenshots/NAME.png atomically (a temporary file, then a rename), so the images
in the README always show the site as it is. The outbox's dates are pinned so that a re-run on
the same machine gives the same picture.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import create_account, open_page, sign_in, subscribe_to_newsletter

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 375, "height": 812}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PINNED_DATE = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
ORGANISATIONS = {"default": "Eastside Community Library", "riverbend-radio": "Riverbend Public Radio"}


@pytest.fixture
def theme_name() -> str:
    """The theme shown; a test parametrizes it to show another."""
    return "default"


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    """A plausible partner's site rather than the test suite's placeholder names."""
    return {
        "site": {"name": "Common Ground", "organisation": ORGANISATIONS[theme_name],
                 "tagline": "Two strangers. Different views. One real conversation."},
        "theme": {"name": theme_name},
        "program": {"support": {"url": "https://example.org/donate", "label": "Support the program"}},
    }


def new_page(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    """A page in a fresh context with everything that could vary between runs fixed."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1, color_scheme="light",
                                  reduced_motion="reduce", locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    """A 1280 x 800 page."""
    yield from new_page(browser, DESKTOP)


@pytest.fixture
def mobile(browser: Any) -> Iterator[Any]:
    """A 375 x 812 page (a small phone)."""
    yield from new_page(browser, MOBILE)


def save_screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot written atomically to docs/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image = page.screenshot(full_page=True, animations="disabled", caret="hide")
    handle, temporary = tempfile.mkstemp(dir=SCREENSHOTS, prefix=f".{name}.", suffix=".tmp")
    target = SCREENSHOTS / f"{name}.png"
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(image)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the images are part of the repository
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    assert header[12:16] == b"IHDR", f"{path} has no IHDR chunk"
    return struct.unpack(">II", header[16:24])


def assert_sane_png(path: Path, width: int) -> None:
    """A PNG as wide as the viewport, of a plausible height and file size."""
    actual_width, height = png_size(path)
    assert actual_width == width, f"{path.name} is {actual_width}px wide, expected {width}px"
    assert 400 <= height <= 12_000, f"{path.name} is {height}px high"
    assert 5_000 <= path.stat().st_size <= 5_000_000, f"{path.name} has {path.stat().st_size} bytes"


def pin_outbox_dates(folder: Path) -> None:
    """Give the outbox's messages fixed dates, an hour apart, so the outbox page looks the same every run."""
    for index, path in enumerate(sorted(folder.glob("*.eml"), key=lambda item: item.stat().st_mtime)):
        when = PINNED_DATE + dt.timedelta(hours=index)
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        message.replace_header("Date", email.utils.format_datetime(when))
        path.write_bytes(message.as_bytes())
        os.utime(path, (when.timestamp(), when.timestamp()))


def test_landing_page_screenshot(live_server, desktop):
    open_page(desktop, live_server.url + "/")
    assert_sane_png(save_screenshot(desktop, "landing-default"), DESKTOP["width"])


@pytest.mark.parametrize("theme_name", ["riverbend-radio"])
def test_example_theme_landing_page_screenshot(live_server, desktop, theme_name):
    open_page(desktop, live_server.url + "/")
    assert desktop.get_by_text("Listen to each other.").is_visible()
    assert_sane_png(save_screenshot(desktop, "landing-riverbend-radio"), DESKTOP["width"])


def test_mobile_landing_page_screenshot(live_server, mobile):
    open_page(mobile, live_server.url + "/")
    assert_sane_png(save_screenshot(mobile, "landing-mobile"), MOBILE["width"])


def test_signup_page_screenshot(live_server, desktop):
    open_page(desktop, live_server.url + "/signup")
    assert_sane_png(save_screenshot(desktop, "signup"), DESKTOP["width"])


def test_login_page_screenshot(live_server, desktop):
    open_page(desktop, live_server.url + "/login")
    assert_sane_png(save_screenshot(desktop, "login"), DESKTOP["width"])


def test_faq_page_screenshot(live_server, desktop):
    open_page(desktop, live_server.url + "/faq")
    assert_sane_png(save_screenshot(desktop, "faq"), DESKTOP["width"])


def test_admin_outbox_screenshot(live_server, desktop):
    create_account("admin@example.org", role="admin")
    for reader in ("amara@example.org", "ben@example.org", "carmen@example.org"):
        subscribe_to_newsletter(desktop, live_server.url, reader)
    pin_outbox_dates(Path(live_server.app.config["OSS_CONNECT_OUTBOX"]))
    sign_in(desktop, live_server.url, "admin@example.org")
    open_page(desktop, live_server.url + "/admin/outbox")
    assert desktop.locator("tbody tr").count() == 3
    assert_sane_png(save_screenshot(desktop, "admin-outbox"), DESKTOP["width"])


@pytest.mark.parametrize("oss_connect_settings", [{
    "site": {"name": "Common Ground", "organisation": ORGANISATIONS["default"]},
    "plugins": {"questionnaire_yaml": None}}])
def test_questionnaire_step_screenshot(live_server, desktop):
    create_account("maria@example.org")
    sign_in(desktop, live_server.url, "maria@example.org")
    open_page(desktop, live_server.url + "/profile/consent")
    desktop.get_by_label("I agree").check()
    with desktop.expect_navigation():
        desktop.get_by_role("button", name="Agree and start").click()
    open_page(desktop, live_server.url + "/profile/step/views")
    desktop.locator("#q-lean-3").check()
    assert_sane_png(save_screenshot(desktop, "questionnaire-step"), DESKTOP["width"])


@pytest.mark.parametrize("oss_connect_settings", [{
    "site": {"name": "Common Ground", "organisation": ORGANISATIONS["default"]},
    "plugins": {"questionnaire_yaml": None}}])
def test_profile_preview_screenshot(live_server, desktop):
    from tests.profiles import complete_profile

    user = create_account("maria@example.org")
    complete_profile(live_server.app, user, visibility={"bio": "public", "first_name": "public"})
    sign_in(desktop, live_server.url, "maria@example.org")
    open_page(desktop, live_server.url + "/profile/preview")
    assert desktop.locator("#partner-view-name").inner_text() == "Maria G."
    assert_sane_png(save_screenshot(desktop, "profile-preview"), DESKTOP["width"])


MATCHING_SITE = {"site": {"name": "Common Ground", "organisation": ORGANISATIONS["default"]},
                 "plugins": {"questionnaire_yaml": None, "matching_bridge": None}}
NEIGHBOURS = [("james@example.org", "James", "R", "7", ["sports", "cooking", "faith"], "Ohio", "Springfield",
               "Retired machinist and deacon; I smoke a mean brisket.", "man"),
              ("aisha@example.org", "Aisha", "B", "6", ["gardening", "volunteering", "family"], "Kentucky",
               "Lexington", "Nurse on night shifts, mother of three, and I grow far too many tomatoes.", "woman"),
              ("walter@example.org", "Walter", "K", "5", ["outdoors", "crafts", "music"], "Indiana", "Muncie",
               "I restore old radios and hike every weekend I can.", "man")]


@pytest.mark.parametrize("oss_connect_settings", [MATCHING_SITE])
def test_suggestions_page_screenshot(live_server, desktop):
    from tests.profiles import complete_profile

    maria = create_account("maria@example.org")
    complete_profile(live_server.app, maria, lean="2")
    for address, first, initial, lean, interests, region, city, bio, gender in NEIGHBOURS:
        person = create_account(address)
        complete_profile(live_server.app, person, first_name=first, last_initial=initial, lean=lean, gender=gender,
                         interests=interests, bio=bio, location={"country": "US", "region": region, "city": city},
                         issue_guns="1", issue_immigration="2", issue_climate="2", issue_abortion="1",
                         issue_economy="5")
    sign_in(desktop, live_server.url, "maria@example.org")
    open_page(desktop, live_server.url + "/suggestions")
    assert desktop.locator(".profile-card").count() == 3
    assert_sane_png(save_screenshot(desktop, "suggestions"), DESKTOP["width"])


@pytest.mark.parametrize("oss_connect_settings", [MATCHING_SITE])
def test_conversation_page_screenshot(live_server, desktop):
    from core.db import database
    from core.models import Match
    from core.scheduling.conversations import conversation_for_match
    from tests.profiles import complete_profile

    every_evening = [f"{day}-evening" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    maria, james = create_account("maria@example.org"), create_account("james@example.org")
    complete_profile(live_server.app, maria, lean="2", availability=every_evening)
    complete_profile(live_server.app, james, first_name="James", last_initial="R", lean="7", gender="man",
                     time_zone="America/Chicago", availability=every_evening,
                     bio="Retired machinist and deacon; I smoke a mean brisket.")
    with live_server.app.test_request_context(), database.connection_context():
        conversation = conversation_for_match(Match.create(a=maria.id, b=james.id))
    sign_in(desktop, live_server.url, "maria@example.org")
    open_page(desktop, f"{live_server.url}/conversations/{conversation.id}")
    with desktop.expect_navigation():
        desktop.get_by_role("button", name="I accept the agreements").click()
    desktop.get_by_label("Message to James R.").fill("Hi James! Would an evening next week suit you?")
    with desktop.expect_navigation():
        desktop.get_by_role("button", name="Send").click()
    assert desktop.get_by_text("Would an evening next week suit you?").is_visible()
    assert_sane_png(save_screenshot(desktop, "conversation"), DESKTOP["width"])


FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_account_sessions_screenshot(live_server, browser, desktop):
    create_account("maria@example.org")
    other = browser.new_context(user_agent=FIREFOX_ON_WINDOWS, timezone_id="UTC")
    try:
        sign_in(other.new_page(), live_server.url, "maria@example.org")
        sign_in(desktop, live_server.url, "maria@example.org")
        open_page(desktop, live_server.url + "/account")
        rows = desktop.locator(".sessions-table tbody tr")
        assert rows.count() == 2
        assert "Firefox on Windows" in rows.nth(0).inner_text() + rows.nth(1).inner_text()
        assert_sane_png(save_screenshot(desktop, "account-sessions"), DESKTOP["width"])
    finally:
        other.close()


def test_sign_in_security_screenshot(live_server, desktop):
    import pyotp

    create_account("maria@example.org")
    sign_in(desktop, live_server.url, "maria@example.org")
    open_page(desktop, live_server.url + "/account/security/totp")
    secret = desktop.locator("#totp-secret").inner_text()
    desktop.locator('input[name="code"]').fill(pyotp.TOTP(secret).now())
    with desktop.expect_navigation():
        desktop.get_by_role("button", name="Turn on the second factor").click()
    assert desktop.locator("li code").count() == 10, "the ten recovery codes are shown once"
    open_page(desktop, live_server.url + "/account/security")
    assert desktop.get_by_text("On: signing in asks for the code your app shows.").is_visible()
    assert_sane_png(save_screenshot(desktop, "sign-in-security"), DESKTOP["width"])

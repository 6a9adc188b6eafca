"""Browser tests: real headless Chromium (`browser`, `page`) against a real threaded server (`live_server`).

Helpers shared by the browser test modules: the bundled themes, accounts, signing in through the
real form, and the public pages every theme must get right.
"""

from __future__ import annotations

from typing import Any

from core.themes import BUNDLED_THEMES

# Every bundled theme (default first) is held to the same bar.
THEMES = sorted((path.parent.name for path in BUNDLED_THEMES.glob("*/theme.yaml")), key=lambda name: name != "default")
PASSWORD = "correct horse battery"

# (name, path) of the pages anyone can open; each must be accessible and responsive in every theme.
PUBLIC_PAGES = [
    ("landing", "/"),
    ("signup", "/signup"),
    ("login", "/login"),
    ("faq", "/faq"),
    ("privacy", "/privacy"),
    ("newsletter", "/newsletter"),
    ("reset-request", "/reset"),
    ("magic-link-request", "/magic"),
    ("not-found", "/no-such-page"),
    ("listen", "/listen"),
]

# (name, path) of the pages only a signed-in admin sees.
ADMIN_PAGES = [
    ("account", "/account"),
    ("admin-index", "/admin/"),
    ("admin-outbox", "/admin/outbox"),
    ("admin-archive", "/admin/archive"),
    ("account-security", "/account/security"),
    ("admin-second-factor", "/admin/second-factor"),
    ("account-password", "/account/password"),
    ("account-confirm", "/account/confirm"),
]


def create_account(email: str, role: str = "participant", password: str = PASSWORD) -> Any:
    """A verified account in the test database (the live server reads the same database)."""
    from core.api import create_user
    from core.db import database

    with database.connection_context():
        return create_user(email, password, role=role, verified=True)


def sign_in(page: Any, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real log-in form and wait for the account page."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/account")


def subscribe_to_newsletter(page: Any, base_url: str, email: str) -> None:
    """Subscribe through the real "Stay informed" form, so the site writes a confirmation email."""
    page.goto(f"{base_url}/newsletter")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("I agree to receive these emails").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Subscribe").click()


def open_page(page: Any, url: str, expected_status: int = 200) -> None:
    """Load `url` and check the server answered as expected (a wrong page would test nothing)."""
    response = page.goto(url)
    assert response is not None, f"no response for {url}"
    assert response.status == expected_status, f"{url} answered {response.status}, expected {expected_status}"
    page.wait_for_load_state("load")

"""Every page passes axe-core in real headless Chromium, in the default theme and the example theme.

axe-core (tests/browser/vendor/axe.min.js, from `npm pack axe-core@4`) runs with its default rule
set: WCAG 2.0/2.1/2.2 A and AA plus Deque's best practices. The page keeps its real CSP: the
script is evaluated through the DevTools protocol (`page.evaluate`), which the CSP does not govern,
so nothing is relaxed for the test (`page.add_script_tag` would insert an inline script, which
the CSP rightly blocks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import ADMIN_PAGES, PUBLIC_PAGES, THEMES, create_account, open_page, sign_in, subscribe_to_newsletter

AXE_SOURCE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
  }));
}"""


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    """Each test runs once per bundled theme."""
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    """The theme under test, with every optional public section shown (support link, newsletter)."""
    return {"theme": {"name": theme_name},
            "program": {"support": {"url": "https://example.org/donate", "label": "Support the program"}}}


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Inject axe-core into the loaded page and return its violations."""
    page.evaluate(AXE_SOURCE)
    return page.evaluate(RUN_AXE)


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as a readable report: rule, impact, help, and each offending element."""
    lines = [f"{len(violations)} axe-core violation(s):"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    at {node['target']}: {node['html'][:160]}")
            lines.extend(f"      {line}" for line in (node["summary"] or "").splitlines())
    return "\n".join(lines)


def assert_accessible(page: Any) -> None:
    """Zero axe-core violations on the page as it is now."""
    violations = axe_violations(page)
    assert not violations, describe(violations)


@pytest.mark.parametrize(("name", "path"), PUBLIC_PAGES, ids=[name for name, _ in PUBLIC_PAGES])
def test_public_page_has_no_axe_violations(live_server, page, theme_name, name, path):
    open_page(page, live_server.url + path, 404 if name == "not-found" else 200)
    assert_accessible(page)


def test_signup_page_with_validation_errors_has_no_axe_violations(live_server, page, theme_name):
    open_page(page, live_server.url + "/signup")
    page.get_by_label("Email address").fill("not an address")
    with page.expect_navigation():
        page.get_by_role("button", name="Create my account").click()
    assert page.locator(".field-error").count() >= 2, "the form should show errors at its fields"
    assert_accessible(page)


@pytest.mark.parametrize(("name", "path"), ADMIN_PAGES, ids=[name for name, _ in ADMIN_PAGES])
def test_signed_in_page_has_no_axe_violations(live_server, page, theme_name, name, path):
    create_account("admin@example.org", role="admin")
    if name == "admin-outbox":
        subscribe_to_newsletter(page, live_server.url, "reader@example.org")  # a message to list
    sign_in(page, live_server.url, "admin@example.org")
    open_page(page, live_server.url + path)
    assert_accessible(page)


@pytest.mark.parametrize("oss_connect_settings", [{"theme": {"tokens": {"colors": {"text": "#b0b0b0"}}}}])
def test_axe_reports_a_brand_colour_without_enough_contrast(live_server, page):
    """The check itself can fail: pale grey body text set in the instance's tokens is reported."""
    open_page(page, live_server.url + "/faq")
    assert "color-contrast" in {violation["id"] for violation in axe_violations(page)}


def test_the_notice_about_an_unknown_saved_time_zone_has_no_axe_violations(live_server, page, theme_name):
    from core.db import database
    from core.models import User

    user = create_account("ann@example.org")
    with database.connection_context():
        User.update(time_zone="Mars/Olympus_Mons").where(User.id == user.id).execute()
    sign_in(page, live_server.url, "ann@example.org")
    notice = page.get_by_role("status").filter(has_text="Your saved time zone “Mars/Olympus_Mons” is not known")
    assert notice.count() == 1
    notice.get_by_role("link", name="Your account").click()
    page.wait_for_url(f"{live_server.url}/account#time_zone")
    assert_accessible(page)

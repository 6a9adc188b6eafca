"""The safety and cohort pages pass axe-core in real Chromium, in every bundled theme: moderation queue,
a report, the report form, joining a cohort, the cohort list and a cohort with proposed pairs."""

from __future__ import annotations

from typing import Any

import pytest

from core.db import database
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.profiles import complete_profile
from tests.test_cohorts import LeanGapPlugin


@pytest.fixture(params=THEMES)
def oss_connect_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each page in each bundled theme, with the default questionnaire and the fake strategy."""
    return {"theme": {"name": request.param}, "plugins": {"questionnaire_yaml": None},
            "matching": {"strategy": "lean_gap"}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """The fake strategy."""
    return {"lean_gap": LeanGapPlugin()}


@pytest.fixture
def world(live_server) -> dict[str, Any]:
    """An admin, four participants with profiles, a report, and a cohort with proposed pairs."""
    from core import safety
    from core.matching import cohorts

    app = live_server.app
    create_account("admin@example.org", role="admin")
    people = {}
    for name, lean in (("ann", "1"), ("bob", "7"), ("cat", "2"), ("dan", "6"), ("eve", "4")):
        people[name] = create_account(f"{name}@example.org")
        complete_profile(app, people[name], first_name=name.capitalize(), lean=lean)
    with app.test_request_context(), database.connection_context():
        report = safety.report(people["ann"], people["bob"], "harassment", "He kept insulting me.")
        cohort = cohorts.create_cohort("Spring town hall", "spring")
        for user in people.values():
            cohorts.join(user, "spring")
        cohorts.propose_pairs(cohort)
    return {"people": people, "report": report, "cohort": cohort}


@pytest.mark.parametrize("path", ["/admin/moderation", "/admin/moderation/{report}", "/admin/cohorts",
                                  "/admin/cohorts/{cohort}"])
def test_admin_safety_and_cohort_pages_have_no_axe_violations(live_server, page, world, path):
    sign_in(page, live_server.url, "admin@example.org")
    open_page(page, live_server.url + path.format(report=world["report"].id, cohort=world["cohort"].id))
    assert_accessible(page)


def test_the_cohort_page_with_an_error_has_no_axe_violations(live_server, page, world):
    sign_in(page, live_server.url, "admin@example.org")
    open_page(page, f"{live_server.url}/admin/cohorts/{world['cohort'].id}")
    with page.expect_navigation():
        page.get_by_role("button", name="Unpair Ann G. and Bob G.").click()
    page.get_by_label("First person").select_option(label=f"Ann G. (account {world['people']['ann'].id})")
    page.get_by_label("Second person").select_option(label=f"Ann G. (account {world['people']['ann'].id})")
    with page.expect_navigation():
        page.get_by_role("button", name="Pair them").click()
    assert "Choose two different people." in page.content()
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/people/{bob}/report", "/people/{bob}/block", "/cohorts/join", "/people/blocked"])
def test_participant_safety_pages_have_no_axe_violations(live_server, page, world, path):
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, live_server.url + path.format(bob=world["people"]["bob"].id))
    assert_accessible(page)


def test_the_report_form_with_errors_has_no_axe_violations(live_server, page, world):
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/people/{world['people']['bob'].id}/report")
    with page.expect_navigation():
        page.get_by_role("button", name="Send the report").click()
    assert page.locator(".field-error").count() == 1
    assert_accessible(page)

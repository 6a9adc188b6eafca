"""Joining a cohort by event code is throttled: at most 10 wrong codes per account and per address in 10
minutes; further tries are refused, unevaluated, with the time to wait."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.db import database
from core.matching import cohorts
from core.models import CohortMember, ThrottleFailure
from tests.conftest import csrf_token_from


@pytest.fixture
def event(app: Any, make_user: Any) -> Any:
    """A cohort with the code spring-town-hall."""
    admin = make_user("admin@example.org", role="admin")
    with app.test_request_context(), database.connection_context():
        return cohorts.create_cohort("Spring town hall", "spring-town-hall", admin)


def try_code(client: Any, code: str, address: str = "127.0.0.1") -> Any:
    """Post the join form with `code` from `address`."""
    token = csrf_token_from(client.get("/cohorts/join").get_data(as_text=True))
    return client.post("/cohorts/join", data={"code": code, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def let_time_pass(minutes: int) -> None:
    """Move every stored count `minutes` into the past."""
    with database.connection_context():
        for row in ThrottleFailure.select():
            row.created_at -= dt.timedelta(minutes=minutes)
            row.save()


def test_300_wrong_codes_are_not_all_evaluated(client, make_user, login, event):
    make_user("ada@example.org")
    login("ada@example.org")

    answers = [try_code(client, f"guess-{number}") for number in range(300)]

    assert [answer.status_code for answer in answers[:10]] == [400] * 10
    assert {answer.status_code for answer in answers[10:]} == {429}
    assert "No event has that code" in answers[9].get_data(as_text=True)
    refused = answers[10].get_data(as_text=True)
    assert "Too many wrong codes: try again in 10 minutes." in refused
    assert "No event has that code" not in refused


def test_once_refused_even_the_right_code_waits(client, make_user, login, event):
    make_user("ada@example.org")
    login("ada@example.org")
    for number in range(10):
        try_code(client, f"guess-{number}")

    assert try_code(client, "spring-town-hall").status_code == 429
    let_time_pass(11)

    answer = try_code(client, "spring-town-hall")
    assert answer.status_code != 429
    assert "Finish your profile first" in answer.get_data(as_text=True)  # evaluated: the code was right


def test_right_codes_do_not_count(client, make_user, login, event):
    make_user("ada@example.org")
    login("ada@example.org")

    answers = [try_code(client, "spring-town-hall").status_code for _ in range(15)]

    assert 429 not in answers
    with database.connection_context():
        assert CohortMember.select().count() == 0  # the profile is not complete: nobody joined


def test_wrong_codes_count_per_address_across_accounts(app, client, make_user, login, event):
    make_user("ada@example.org")
    make_user("bo@example.org")
    login("ada@example.org")
    for number in range(10):
        try_code(client, f"guess-{number}", address="192.0.2.5")
    other = app.test_client()
    login("bo@example.org", test_client=other)

    same_address = try_code(other, "guess-x", address="192.0.2.5")
    elsewhere = try_code(other, "guess-y", address="198.51.100.7")

    assert same_address.status_code == 429
    assert elsewhere.status_code == 400

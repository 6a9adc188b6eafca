"""Reset, sign-in link and new-confirmation requests do the same work whether or not the address has an
account: the request only queues one job (which looks the address up later), so its timing tells nothing.

Checked structurally: the same database statements and the same queued job either way (a timing test
would be flaky); then the queued jobs run and only the real account gets mail.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.db import database
from tests.conftest import csrf_token_from

FORMS = {"reset": "/reset", "magic": "/magic", "verify": "/verify/resend"}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """A real queue (SQLite, in the instance folder) instead of running jobs in-line."""
    return {"jobs": {"backend": "sqlite", "sqlite_file": "jobs.sqlite3"}}


class StatementLog:
    """Every SQL statement the app's database runs while active (the real database still runs them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.statements: list[str] = []
        real = database.obj
        original = real.execute_sql

        def logged(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(sql)
            return original(sql, params, *args, **kwargs)

        monkeypatch.setattr(real, "execute_sql", logged)


def post_email(client: Any, url: str, email: str, log: StatementLog) -> list[str]:
    """Post the form at `url` with `email`; the statements the POST ran."""
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    log.statements.clear()
    response = client.post(url, data={"email": email, "csrf_token": token})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(log.statements)


def run_queued_jobs(app: Any) -> int:
    """Run every queued job as the worker would; how many ran."""
    huey = app.extensions["oss_connect"].jobs.huey
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def queued(app: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """The queued jobs' names and arguments, without the address they are about."""
    huey = app.extensions["oss_connect"].jobs.huey
    return [(task.name, tuple("ADDRESS" if "@" in str(arg) else arg for arg in task.args)) for task in huey.pending()]


@pytest.mark.parametrize("kind", list(FORMS))
def test_the_request_runs_the_same_statements_for_an_account_and_a_stranger(app, client, make_user, monkeypatch,
                                                                             kind):
    make_user("ada@example.org", verified=kind != "verify")
    log = StatementLog(monkeypatch)

    for_account = post_email(client, FORMS[kind], "ada@example.org", log)
    for_stranger = post_email(client, FORMS[kind], "nobody@example.org", log)

    assert for_account == for_stranger
    jobs = queued(app)
    assert len(jobs) == 2 and jobs[0] == jobs[1]


@pytest.mark.parametrize("kind", list(FORMS))
def test_the_queued_job_mails_only_the_account(app, client, make_user, outbox, monkeypatch, kind):
    make_user("ada@example.org", verified=kind != "verify")
    log = StatementLog(monkeypatch)
    post_email(client, FORMS[kind], "ada@example.org", log)
    post_email(client, FORMS[kind], "nobody@example.org", log)
    assert outbox.to("ada@example.org") == []  # nothing was sent during the request

    ran = run_queued_jobs(app) + run_queued_jobs(app)  # the link job, then the email job it queued

    assert ran == 3
    assert len(outbox.to("ada@example.org")) == 1
    assert outbox.to("nobody@example.org") == []


def test_a_reset_request_is_audited_for_the_account_only(app, client, make_user, monkeypatch):
    from core.audit import PASSWORD_RESET_REQUESTED
    from core.models import AuditEvent

    user = make_user("ada@example.org")
    log = StatementLog(monkeypatch)
    post_email(client, "/reset", "ada@example.org", log)
    post_email(client, "/reset", "nobody@example.org", log)

    run_queued_jobs(app)

    with database.connection_context():
        events = list(AuditEvent.select().where(AuditEvent.action == PASSWORD_RESET_REQUESTED))
    assert [(event.subject_id, event.ip_address) for event in events] == [(user.id, "127.0.0.1")]

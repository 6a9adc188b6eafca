"""`oss-connect sessions end EMAIL` and `oss-connect sessions end --all` (OWASP ASVS 7.4.5): real sessions
made through the sign-in form end, the count is printed, unknown addresses exit 1, a declined prompt
changes nothing, and each account's ending is audited."""

from __future__ import annotations

from typing import Any

import pytest

from core import audit
from tests.test_accounts import is_signed_in
from tests.test_ending_sessions import session_count, signed_in_clients
from tests.test_two_factor import events


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"accounts": {"mfa": {"required_roles": []}}}


def test_the_cli_signs_a_person_out(app, instance, make_user, runner):
    from core.cli import cli

    make_user("ada@example.org")
    devices = signed_in_clients(app, "ada@example.org", 2)
    config = ["--config", str(instance / "oss-connect.yaml")]

    declined = runner.invoke(cli, ["sessions", "end", "ada@example.org", *config], input="n\n")
    assert declined.exit_code == 1 and session_count("ada@example.org") == 2

    result = runner.invoke(cli, ["sessions", "end", "ADA@example.org", *config], input="y\n")

    assert result.exit_code == 0, result.output
    assert "ended 2 sessions of ada@example.org" in result.output
    assert not any(is_signed_in(device) for device in devices)
    [revoked] = events(audit.SESSIONS_REVOKED)
    assert (revoked.actor_id, revoked.details["reason"]) == (None, "ended_by_admin")
    unknown = runner.invoke(cli, ["sessions", "end", "nobody@example.org", "--yes", *config])
    assert unknown.exit_code == 1 and "no account with the address nobody@example.org" in unknown.output


def test_the_cli_signs_everyone_out(app, instance, make_user, runner):
    from core.cli import cli

    make_user("ada@example.org")
    make_user("ben@example.org")
    devices = [*signed_in_clients(app, "ada@example.org", 1), *signed_in_clients(app, "ben@example.org", 2)]
    config = ["--config", str(instance / "oss-connect.yaml")]

    neither = runner.invoke(cli, ["sessions", "end", *config])
    both = runner.invoke(cli, ["sessions", "end", "ada@example.org", "--all", *config])
    assert neither.exit_code != 0 and both.exit_code != 0 and "--all" in neither.output

    result = runner.invoke(cli, ["sessions", "end", "--all", "--yes", *config])

    assert result.exit_code == 0, result.output
    assert "ended 3 sessions of every account" in result.output
    assert not any(is_signed_in(device) for device in devices)
    assert len(events(audit.SESSIONS_REVOKED)) == 2, "one record per account"

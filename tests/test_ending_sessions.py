"""Administrators end sessions (OWASP ASVS 7.4.5): a person's, on the admin page and with
or everyone's ("Sign everyone out"); each is audited with who did it, and the ended sessions' sockets are
closed (real Socket.IO clients against the live server). The command line: tests/test_sessions_cli.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import audit
from core.db import database
from core.models import User, UserSession
from core.testing import deep_merge
from tests.conftest import csrf_token_from
from tests.room_fakes import ROOM_SETTINGS, room_plugins
from tests.test_accounts import is_signed_in
from tests.test_realtime import WAIT, sockets  # noqa: F401 (a fixture)
from tests.test_session_sockets import Browser, cast  # noqa: F401 (a fixture)
from tests.test_two_factor import events, sign_in_with_password

NO_MFA = {"accounts": {"mfa": {"required_roles": []}}}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, NO_MFA)


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


def signed_in_clients(app: Any, email: str, count: int) -> list[Any]:
    clients = [app.test_client() for _ in range(count)]
    for each in clients:
        sign_in_with_password(each, email)
    return clients


def session_count(email: str) -> int:
    with database.connection_context():
        return UserSession.select().where(UserSession.user == User.by_email(email).id).count()


def test_an_admin_signs_a_person_out_everywhere(app, client, make_user):
    make_user("ada@example.org")
    devices = signed_in_clients(app, "ada@example.org", 2)
    make_user("root@example.org", role="admin")
    sign_in_with_password(client, "root@example.org")

    page = client.get("/admin/second-factor?email=ada@example.org")
    html = page.get_data(as_text=True)
    assert "Signed in on 2 devices" in html and "Sign ada@example.org out everywhere" in html
    with database.connection_context():
        ada, root = User.by_email("ada@example.org"), User.by_email("root@example.org")
    response = client.post("/admin/sessions/end-person", data={"user_id": str(ada.id),
                                                                 "csrf_token": csrf_token_from(html)})

    assert response.status_code == 302
    assert "ada@example.org is signed out everywhere (2 sessions ended)." in client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert not any(is_signed_in(device) for device in devices)
    assert is_signed_in(client), "the admin stays signed in"
    [revoked] = events(audit.SESSIONS_REVOKED)
    assert (revoked.actor_id, revoked.subject_id) == (root.id, ada.id)
    assert revoked.details["reason"] == "ended_by_admin" and revoked.details["count"] == 2


def test_an_admin_signs_everyone_out_after_ticking_the_box(app, client, make_user):
    make_user("ada@example.org")
    make_user("ben@example.org")
    devices = [*signed_in_clients(app, "ada@example.org", 2), *signed_in_clients(app, "ben@example.org", 1)]
    make_user("root@example.org", role="admin")
    sign_in_with_password(client, "root@example.org")
    token = csrf_token_from(client.get("/admin/second-factor").get_data(as_text=True))

    unticked = client.post("/admin/sessions/end-all", data={"csrf_token": token})
    assert "Tick the box to confirm" in client.get(unticked.headers["Location"]).get_data(as_text=True)
    assert all(is_signed_in(device) for device in devices), "nothing ended without the box"

    response = client.post("/admin/sessions/end-all", data={"confirm": "y", "csrf_token": token})

    assert "Everyone is signed out (3 sessions ended)" in client.get(response.headers["Location"]).get_data(
        as_text=True)
    assert not any(is_signed_in(device) for device in devices)
    assert is_signed_in(client) and session_count("root@example.org") == 1
    revoked = events(audit.SESSIONS_REVOKED)
    with database.connection_context():
        root = User.by_email("root@example.org")
        ids = {User.by_email(email).id: count for email, count in (("ada@example.org", 2), ("ben@example.org", 1))}
    assert {event.subject_id: event.details["count"] for event in revoked} == ids
    assert {event.actor_id for event in revoked} == {root.id}


def test_only_admins_end_other_peoples_sessions(app, client, make_user):
    victim = make_user("ada@example.org")
    device = signed_in_clients(app, "ada@example.org", 1)[0]
    make_user("eve@example.org", role="facilitator")
    sign_in_with_password(client, "eve@example.org")
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    assert client.post("/admin/sessions/end-person", data={"user_id": str(victim.id),
                                                           "csrf_token": token}).status_code == 403
    assert client.post("/admin/sessions/end-all", data={"confirm": "y", "csrf_token": token}).status_code == 403
    anonymous = app.test_client()
    assert anonymous.post("/admin/sessions/end-all", data={"confirm": "y"}).status_code in (302, 400)
    assert is_signed_in(device) and events(audit.SESSIONS_REVOKED) == []


@pytest.mark.parametrize(("user_id", "message"), [
    ("999999", "No account has this id any more"), ("", "Look the person up by email address first"),
    ("0", "Look the person up"), ("9223372036854775808", "Look the person up"), ("x", "Look the person up")])
def test_a_bad_or_unknown_person_gets_a_message(app, client, make_user, user_id, message):
    make_user("root@example.org", role="admin")
    device = signed_in_clients(app, "root@example.org", 1)[0]
    sign_in_with_password(client, "root@example.org")
    token = csrf_token_from(client.get("/admin/second-factor").get_data(as_text=True))

    response = client.post("/admin/sessions/end-person", data={"user_id": user_id, "csrf_token": token})

    assert response.status_code == 302
    assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    assert is_signed_in(device) and events(audit.SESSIONS_REVOKED) == []


def test_signing_everyone_out_closes_their_open_sockets(live_server, cast, sockets):  # noqa: F811
    from core.api import create_user

    with database.connection_context():
        create_user("root@example.org", "correct horse battery", role="admin")
    ann, ben = (Browser(live_server.url, f"{name}@example.org", sockets) for name in ("ann", "ben"))
    ann_socket, ben_socket = ann.socket(), ben.socket()
    admin = Browser(live_server.url, "root@example.org", sockets)

    answer = admin.post_form("/admin/sessions/end-all", {"confirm": "y"})

    assert answer.status_code == 302
    assert ann_socket.closed.wait(WAIT) and ben_socket.closed.wait(WAIT)
    assert admin.signed_in() and not ann.signed_in() and not ben.signed_in()


def test_an_admin_signing_a_person_out_closes_their_socket(live_server, cast, sockets):  # noqa: F811
    from core.api import create_user

    with database.connection_context():
        create_user("root@example.org", "correct horse battery", role="admin")
        ann_id = User.by_email("ann@example.org").id
    ann = Browser(live_server.url, "ann@example.org", sockets)
    socket = ann.socket()
    admin = Browser(live_server.url, "root@example.org", sockets)

    admin.post_form("/admin/sessions/end-person", {"user_id": str(ann_id)})

    assert socket.closed.wait(WAIT)
    assert not ann.signed_in()

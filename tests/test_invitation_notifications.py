"""The live notification: a real Socket.IO client signed in as the invitee receives the "invitation"
event when the inviter invites through HTTP, with only shared answers in it; acceptance reaches both."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests

from core.db import database
from tests.conftest import csrf_token_from
from tests.matching_fakes import MATCHING_SETTINGS, PASSWORD, LeanPlugin
from tests.profiles import complete_profile
from tests.test_realtime import WAIT, Inbox, open_socket, sign_in

CANARY = "CANARY-91c2-private-bio"


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return MATCHING_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


@pytest.fixture
def people(live_server: Any) -> dict[str, int]:
    """Ann (left, private bio with a canary), Ben and Cal (right) on the live server: name -> id."""
    from core.api import create_user

    app = live_server.app
    ids = {}
    for name, lean in (("ann", "2"), ("ben", "6"), ("cal", "7")):
        with app.app_context(), database.connection_context():
            user = create_user(f"{name}@example.org", PASSWORD)
        extra = {"bio": f"My secret is {CANARY}.", "visibility": {"bio": "private"}} if name == "ann" else {}
        complete_profile(app, user, lean=lean, first_name=name.title(), **extra)
        ids[name] = user.id
    return ids


@pytest.fixture
def sockets() -> Any:
    """Clients the test opened; disconnected in the background at the end (see tests/test_realtime.py)."""
    opened: list[Any] = []
    yield opened
    for client in opened:
        threading.Thread(target=client.disconnect, daemon=True).start()


def browser_session(base_url: str, email: str) -> requests.Session:
    """A signed-in requests session (what a browser without JavaScript does)."""
    session = requests.Session()
    token = csrf_token_from(session.get(f"{base_url}/login", timeout=WAIT).text)
    answer = session.post(f"{base_url}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=WAIT)
    assert answer.status_code == 302
    return session


def submit(session: requests.Session, base_url: str, page: str, action: str) -> requests.Response:
    token = csrf_token_from(session.get(f"{base_url}{page}", timeout=WAIT).text)
    return session.post(f"{base_url}{action}", data={"csrf_token": token}, allow_redirects=False, timeout=WAIT)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_the_invitee_socket_receives_the_invitation(live_server, people, sockets, transport):
    ben = open_socket(live_server.url, transport, sign_in(live_server.url, "ben@example.org"))
    cal = open_socket(live_server.url, transport, sign_in(live_server.url, "cal@example.org"))
    sockets.extend([ben, cal])
    ben_inbox, cal_inbox = Inbox(ben, "invitation"), Inbox(cal, "invitation")

    ann = browser_session(live_server.url, "ann@example.org")
    answer = submit(ann, live_server.url, "/suggestions", f"/suggestions/{people['ben']}/invite")
    assert answer.status_code == 302

    payload = ben_inbox.wait_for()
    invitation_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    assert set(payload) == {"invitation_id", "inviter", "reason", "url"}
    assert payload["invitation_id"] == invitation_id
    assert payload["url"] == f"/invitations/{invitation_id}"
    assert payload["inviter"]["name"] == "Ann G."
    assert "both enjoy" in payload["reason"]
    text = json.dumps(payload)
    assert CANARY not in text and "@example.org" not in text
    assert any(item["question_id"] == "interests" for item in payload["inviter"]["fields"])
    assert cal_inbox.received == []


def test_acceptance_reaches_both_sockets(live_server, people, sockets):
    ann_socket = open_socket(live_server.url, "websocket", sign_in(live_server.url, "ann@example.org"))
    ben_socket = open_socket(live_server.url, "websocket", sign_in(live_server.url, "ben@example.org"))
    sockets.extend([ann_socket, ben_socket])
    ann_matches, ben_matches = Inbox(ann_socket, "match"), Inbox(ben_socket, "match")

    ann = browser_session(live_server.url, "ann@example.org")
    location = submit(ann, live_server.url, "/suggestions", f"/suggestions/{people['ben']}/invite").headers["Location"]
    page = location.removeprefix(live_server.url)
    ben = browser_session(live_server.url, "ben@example.org")
    assert submit(ben, live_server.url, page, f"{page}/accept").status_code == 302

    assert ann_matches.wait_for()["partner"]["name"] == "Ben G."
    to_ben = ben_matches.wait_for()
    assert to_ben["partner"]["name"] == "Ann G." and CANARY not in json.dumps(to_ben)

"""The pair's messages: contact details masked before storing, only the two read them, the partner is told."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.db import database
from tests.conftest import csrf_token_from
from tests.profiles import complete_profile


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"plugins": {"questionnaire_yaml": None}}


@pytest.fixture
def pair(app: Any, make_user: Any) -> dict[str, Any]:
    """Ann and Ben matched, with their conversation; Cal is someone else."""
    from core.models import Match
    from core.scheduling.conversations import conversation_for_match

    people = {name: make_user(f"{name}@example.org") for name in ("ann", "ben", "cal")}
    for name, user in people.items():
        complete_profile(app, user, first_name=name.title())
    with app.test_request_context(), database.connection_context():
        people["match"] = Match.create(a=people["ann"].id, b=people["ben"].id)
        people["conversation"] = conversation_for_match(people["match"])
    return people


@pytest.mark.parametrize(("text", "secret"), [
    ("Write me at ann.smith@example.com please", "ann.smith@example.com"),
    ("Call me on +1 (555) 123-4567 tonight", "555) 123-4567"),
    ("I am @annsmith_42 on most apps", "@annsmith_42"),
    ("My page: https://example.org/ann and www.annsmith.net", "example.org/ann"),
])
def test_contact_details_are_masked_before_storing(app: Any, pair: dict[str, Any], text: str, secret: str) -> None:
    """Email, phone, handle and link never reach the database; the sender learns what was hidden."""
    from core.models.scheduling import Message
    from core.scheduling import messages

    with app.test_request_context(), database.connection_context():
        sent = messages.send(pair["match"], pair["ann"], text)
        stored = Message.get_by_id(sent.message.id)
    assert secret not in stored.body and "[hidden]" in stored.body and stored.masked and sent.hidden


def test_plain_messages_are_kept_and_bad_input_refused(app: Any, pair: dict[str, Any]) -> None:
    """A normal message is stored as written; empty, overlong and outsiders are refused."""
    from core.scheduling import messages

    with app.test_request_context(), database.connection_context():
        sent = messages.send(pair["match"], pair["ben"], "Thursday evening works for me, in 2026!")
        assert sent.message.body == "Thursday evening works for me, in 2026!" and not sent.message.masked
        with pytest.raises(messages.MessageError, match="Write a message"):
            messages.send(pair["match"], pair["ben"], "   ")
        with pytest.raises(messages.MessageError, match="at most 2000"):
            messages.send(pair["match"], pair["ben"], "x" * 2001)
        with pytest.raises(messages.NotAllowedError):
            messages.send(pair["match"], pair["cal"], "hello")
        with pytest.raises(messages.NotAllowedError):
            messages.thread(pair["match"], pair["cal"])
        assert [m.body for m in messages.thread(pair["match"], pair["ann"])] == [sent.message.body]


def _post(client: Any, page: str, body: str) -> Any:
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(f"{page}/messages", data={"csrf_token": token, "body": body})


def test_through_the_pages_the_other_sees_the_masked_text(app: Any, client: Any, login: Any,
                                                          pair: dict[str, Any], outbox: Any) -> None:
    """Ann sends her email address; she is told it was hidden, Ben sees [hidden] and gets one email."""
    page = f"/conversations/{pair['conversation'].id}"
    login("ann@example.org")
    response = _post(client, page, "Hi Ben! Mail me: ann@example.org")
    assert response.status_code == 302
    assert "we hid an email address" in client.get(page).get_data(as_text=True)
    _post(client, page, "And a second message soon after.")
    empty = _post(client, page, "")
    assert empty.status_code == 400 and "Write a message before sending it." in empty.get_data(as_text=True)
    other = app.test_client()
    login("ben@example.org", test_client=other)
    html = other.get(page).get_data(as_text=True)
    assert "Hi Ben! Mail me: [hidden]" in html and "ann@example.org" not in html
    assert "second message" in html
    emails = outbox.to("ben@example.org")
    assert len([m for m in emails if m.subject.startswith("New message")]) == 1
    third = app.test_client()
    login("cal@example.org", test_client=third)
    assert third.get(page).status_code == 404
    assert _post(third, "/conversations", "x").status_code in (404, 405)
    assert re.search(r"Hi Ben", third.get("/conversations").get_data(as_text=True)) is None


def test_a_message_keeps_its_line_breaks_and_refuses_other_invisible_characters(app: Any, client: Any, login: Any,
                                                                                 pair: dict[str, Any]) -> None:
    """Line breaks (sent by the browser as CR LF) arrive as line breaks; an escape sequence is refused at the field."""
    from core.models.scheduling import Message

    page = f"/conversations/{pair['conversation'].id}"
    login("ann@example.org")

    refused = _post(client, page, "Hello\x1b[2J Ben")
    kept = _post(client, page, "Hello Ben,\r\nsee you\tThursday.")

    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "an invisible control character (U+001B)" in html.split('id="body-error"', 1)[1][:300]
    assert kept.status_code == 302
    with database.connection_context():
        assert [message.body for message in Message.select()] == ["Hello Ben,\nsee you\tThursday."]


def test_a_cancellation_reason_with_an_invisible_character_is_refused_and_nothing_is_cancelled(
        app: Any, client: Any, login: Any, pair: dict[str, Any]) -> None:
    from core.models.scheduling import Conversation

    page = f"/conversations/{pair['conversation'].id}"
    login("ann@example.org")
    token = csrf_token_from(client.get(page).get_data(as_text=True))

    response = client.post(f"{page}/cancel", data={"csrf_token": token, "reason": "ill\x07\x07"})

    assert response.status_code == 303
    assert "The reason may hold line breaks and tabs, but it contains an invisible control character (U+0007)" in (
        client.get(page).get_data(as_text=True))
    with database.connection_context():
        assert Conversation.get_by_id(pair["conversation"].id).status != "cancelled"


def test_a_proposed_time_with_an_invisible_character_is_refused_with_its_reason(app: Any, client: Any, login: Any,
                                                                                 pair: dict[str, Any]) -> None:
    page = f"/conversations/{pair['conversation'].id}"
    login("ann@example.org")
    token = csrf_token_from(client.get(page).get_data(as_text=True))

    response = client.post(f"{page}/propose", data={"csrf_token": token, "date": "2027-02-01\x1b", "time": "19:00"})

    assert response.status_code == 400
    assert "“Date” takes one line of plain text, but it contains an invisible control character (U+001B)" in (
        response.get_data(as_text=True))

"""Privacy with canary strings: participant A's private answers (and A's email address) never appear in
any page, JSON, Socket.IO payload or email rendered for participant B, while the answers A shares
with partners do appear where B legitimately sees A."""

from __future__ import annotations

from typing import Any

import pytest

from core.db import database
from tests.profiles import complete_profile

A_EMAIL = "amalthea.private@example.org"
B_EMAIL = "bartholomew@example.org"
CANARIES = {
    "bio": "CANARY-BIO-7f3a never show this",
    "gender_text": "CANARY-GENDER-91c2",
    "city": "Canaryville",
}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The default questionnaire and the bundled matching strategy, as a new site has them."""
    return {"plugins": {"questionnaire_yaml": None, "matching_bridge": None, "call_webrtc": None}}


@pytest.fixture
def two_participants(app, make_user):
    """A keeps bio, gender and location private and shares name, interests and values; B is ordinary."""
    a = make_user(A_EMAIL)
    b = make_user(B_EMAIL)
    complete_profile(app, a, visibility={"bio": "private", "gender": "private", "location": "private",
                                         "first_name": "partners", "interests": "partners"},
                     first_name="Amalthea", last_initial="Q", bio=CANARIES["bio"], lean="7",
                     location={"country": "US", "region": "Kansas", "city": CANARIES["city"]})
    complete_profile(app, b, first_name="Bartholomew", lean="1")
    _describe_gender(app, a, CANARIES["gender_text"])
    return a, b


def _describe_gender(app: Any, user: Any, text: str) -> None:
    """Store a self-description as the gender answer (a free-text canary inside a choice answer)."""
    from core.api import active_questionnaire, read_step, save_answers
    from core.questionnaire.store import visibility_field

    with app.test_request_context(), database.connection_context():
        questionnaire = active_questionnaire()
        question = questionnaire.question("gender")
        result = read_step(questionnaire, [question], {"q-gender": "self_describe", "q-gender-text": text,
                                                       visibility_field(question): "private"})
        assert result.ok, result.errors
        save_answers(user, questionnaire, result.values)


def assert_no_canary(text: str, where: str) -> None:
    for name, canary in CANARIES.items():
        assert canary not in text, f"A's private {name} leaked into {where}"
    assert A_EMAIL not in text, f"A's email address leaked into {where}"


def simple_get_routes(app: Any) -> list[str]:
    """Every GET route without URL arguments (static files and sign-out aside)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and "static" not in rule.endpoint:
            routes.append(rule.rule)
    return sorted(set(routes))


def test_no_page_or_json_b_can_open_contains_a_private_answer(app, client, login, two_participants):
    login(B_EMAIL)
    routes = simple_get_routes(app)
    assert {"/profile/preview", "/profile/export.json", "/suggestions", "/invitations"} <= set(routes)
    for route in routes:
        response = client.get(route)
        assert response.status_code < 500, f"{route} answered {response.status_code}"
        assert_no_canary(response.get_data(as_text=True), route)


def test_b_sees_a_shared_answers_in_suggestions_but_no_private_one(client, login, two_participants):
    login(B_EMAIL)
    page = client.get("/suggestions").get_data(as_text=True)
    assert "Amalthea Q." in page and "Gardening, Cooking" in page  # shared with partners
    assert_no_canary(page, "B's suggestions")


def test_nothing_b_receives_about_an_invitation_from_a_holds_a_private_answer(app, client, login, outbox,
                                                                            two_participants):
    from flask.testing import FlaskClient

    from tests.conftest import csrf_token_from

    _, b = two_participants
    a_client: FlaskClient = app.test_client()
    login(A_EMAIL, test_client=a_client)
    token = csrf_token_from(a_client.get("/suggestions").get_data(as_text=True))
    sent = a_client.post(f"/suggestions/{b.id}/invite", data={"csrf_token": token})
    assert sent.status_code == 302, sent.get_data(as_text=True)[:800]
    invitation_page = sent.headers["Location"]

    login(B_EMAIL)
    for route in ("/invitations", invitation_page):
        html = client.get(route).get_data(as_text=True)
        assert "Amalthea Q." in html
        assert_no_canary(html, route)
    assert "Gardening, Cooking" in client.get(invitation_page).get_data(as_text=True)
    emails = outbox.to(B_EMAIL)
    assert emails, "B should have been told of the invitation by email"
    for message in emails:
        assert "Amalthea" in message.text
        assert_no_canary(message.text + (message.html or ""), f"the email '{message.subject}'")


def test_the_shared_profile_b_is_shown_holds_a_partner_fields_and_no_private_ones(app, two_participants):
    from core.api import profile_for

    a, _ = two_participants
    with app.test_request_context(), database.connection_context():
        seen = profile_for(a.id, "partners")
        public = profile_for(a.id, "public")
    rendered = repr(seen.as_dict())
    assert seen.name == "Amalthea Q." and "Gardening, Cooking" in rendered
    assert_no_canary(rendered, "the profile partners see")
    assert_no_canary(repr(public.as_dict()), "the public profile")
    assert "Amalthea" not in repr(public.as_dict())  # first name shared with partners only, not the public


def test_the_profile_card_renders_only_what_partners_may_see(app, two_participants):
    from flask import render_template_string

    from core.api import profile_for

    a, _ = two_participants
    with app.test_request_context(), database.connection_context():
        html = render_template_string('{% from "macros/profile.html" import profile_card %}{{ profile_card(p) }}',
                                      p=profile_for(a.id, "partners"))
    assert "Amalthea Q." in html and "Gardening, Cooking" in html
    assert_no_canary(html, "the profile card")



def test_the_room_and_its_state_show_b_only_what_a_shares(app, client, login, two_participants):
    from core.db import utcnow
    from core.models import Conversation
    from core.room.events import members
    from core.room.state import snapshot
    from core.scheduling.conversations import create_conversation

    a, b = two_participants
    with app.test_request_context(), database.connection_context():
        conversation = create_conversation(a.id, b.id, starts_at=utcnow())
    login(B_EMAIL)
    page = client.get(f"/conversations/{conversation.id}/room").get_data(as_text=True)
    assert "Amalthea Q." in page  # the name A shares with partners
    assert_no_canary(page, "B's room page")
    assert_no_canary(client.get(f"/conversations/{conversation.id}/notes").get_data(as_text=True), "notes")
    with app.test_request_context(), database.connection_context():
        found = Conversation.get_by_id(conversation.id)
        assert_no_canary(repr(snapshot(found)) + repr(members(found)), "the room's Socket.IO state")

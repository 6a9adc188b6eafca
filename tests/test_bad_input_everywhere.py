"""Every POST route of a fully configured site, sent garbage of every kind by a participant and by an
admin, answers with a message (4xx) or a normal page, never a server error or a traceback."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from core.db import database
from tests.conftest import csrf_token_from
from tests.profiles import complete_profile

HIGH = "1000 per minute"
SETTINGS = {
    "accounts": {"rate_limits": {name: HIGH for name in ("login", "signup", "reset", "newsletter")}},
    "matching": {"invitation_rate_limit": HIGH},
    "plugins": {"questionnaire_yaml": None, "matching_bridge": None, "call_webrtc": None,
                "questionnaire_import": {"columns": {"Email": "email", "First name": "first_name"},
                                         "webhook_secret": "a-webhook-secret-long-enough"}},
}
NASTY_TEXT = ["", " ", "\x00", "<script>alert(1)</script>", "9" * 5000, "ünïcødé ✓", "-1", "1e309", "[]", "{}",
              "../../etc/passwd", "' OR 1=1 --"]
FIELD_NAMES = ["action", "agree", "confirm", "reason", "details", "note", "code", "name", "a", "b", "email",
               "password", "also_block", "q-lean", "v-lean", "q-location-country", "q-languages", "q-availability",
               "q-first_name", "q-bio", "v-bio", "time_zone", "file"]


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return SETTINGS


@pytest.fixture
def world(app, make_user) -> dict[str, Any]:
    """Two participants with profiles, an admin, and one of everything an id can point at."""
    from core import safety
    from core.matching import cohorts
    from core.models import Invitation

    ann, bob = make_user("ann@example.org"), make_user("bob@example.org")
    complete_profile(app, ann, lean="1", first_name="Ann")
    complete_profile(app, bob, lean="7", first_name="Bob", issue_guns="1", issue_immigration="1",
                     issue_climate="1", issue_abortion="1", issue_economy="5")
    make_user("root@example.org", role="admin")
    with app.test_request_context(), database.connection_context():
        from core.matching.invitations import send_invitation

        invitation = send_invitation(ann, bob)
        report = safety.report(ann, bob, "harassment", "rude")
        cohort = cohorts.create_cohort("Town hall", "town-hall")
        assert Invitation.select().count() == 1
        from core.db import utcnow
        from core.scheduling.conversations import create_conversation

        conversation = create_conversation(ann.id, bob.id, starts_at=utcnow())  # its room is open now
        from core.models.recording import Recording, RecordingTrack
        from core.room.state import apply_action

        for person in (ann, bob):  # the room records, and Ann's browser has a track to upload to
            apply_action(conversation, person, "participant", "consent")
        track = RecordingTrack.create(recording=Recording.get().id, user=ann.id)
    return {"user_id": bob.id, "invitation_id": invitation.id, "report_id": report.id, "cohort_id": cohort.id,
            "section_id": "about", "token": "not-a-real-token", "message_id": "nope",
            "conversation_id": conversation.id, "provider_name": "webrtc", "track_id": track.id,
            "recording_id": track.recording_id}


def post_routes(app: Any, ids: dict[str, Any], method: str = "POST") -> list[str]:
    """Every POST (or PUT) route with its arguments filled in from `ids`."""
    urls = []
    for rule in app.url_map.iter_rules():
        if method not in rule.methods:
            continue
        values = {name: ids.get(name, 1) for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            urls.append(url_for(rule.endpoint, **values))
    return sorted(set(urls))


def payloads(token: str) -> list[tuple[str, dict[str, Any]]]:
    """(description, keyword arguments for client.post) of many kinds of bad input."""
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("no fields, no token", {"data": {}}),
        ("only the token", {"data": {"csrf_token": token}}),
        ("json body", {"json": {"csrf_token": token, "a": [1, {"b": None}]}, "headers": {"X-CSRFToken": token}}),
        ("a file for every field", {"data": {"csrf_token": token, **{name: (io.BytesIO(b"\x00\xff" * 64), "x.bin")
                                                                     for name in FIELD_NAMES}},
                                    "content_type": "multipart/form-data"}),
        ("repeated fields", {"data": MultiDict([("csrf_token", token)] + [(name, value) for name in FIELD_NAMES
                                                                           for value in ("1", "2")])}),
    ]
    for text in NASTY_TEXT:
        kinds.append((f"every field = {text[:12]!r}", {"data": {"csrf_token": token,
                                                                **{name: text for name in FIELD_NAMES}}}))
    return kinds


def signed_in(app: Any, email: str) -> Any:
    client = app.test_client()
    page = client.get("/login")
    answer = client.post("/login", data={"email": email, "password": "correct horse battery",
                                         "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert answer.status_code == 302
    return client


@pytest.mark.parametrize("who", ["ann@example.org", "root@example.org"])
def test_no_post_route_answers_a_server_error_to_bad_input(app, world, who):
    client = signed_in(app, who)
    token = csrf_token_from(client.get("/profile/").get_data(as_text=True) if who.startswith("ann")
                            else client.get("/admin/").get_data(as_text=True))
    routes = post_routes(app, world)
    assert {"/profile/step/about", f"/suggestions/{world['user_id']}/invite", "/import/webhook",
            f"/admin/moderation/{world['report_id']}", f"/conversations/{world['conversation_id']}/room/trouble",
            f"/conversations/{world['conversation_id']}/notes", "/calls/webrtc/webhook",
            f"/admin/conversations/{world['conversation_id']}/facilitator"} <= set(routes)
    put_routes = post_routes(app, world, "PUT")
    assert f"/conversations/{world['conversation_id']}/recording/tracks/{world['track_id']}/chunks/1" in put_routes
    failures = []
    for method, route in [("post", route) for route in routes] + [("put", route) for route in put_routes]:
        if route == "/logout":
            continue
        for description, arguments in payloads(token):
            response = getattr(client, method)(route, **arguments)
            body = response.get_data(as_text=True)
            if response.status_code >= 500 or re.search(r"Traceback|File \"/", body):
                failures.append(f"{route} <- {description}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_a_nul_character_in_a_form_is_refused_with_a_message_and_nothing_is_stored(app, world):
    from core.models import Cohort

    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/cohorts").get_data(as_text=True))
    response = client.post("/admin/cohorts", data={"csrf_token": token, "name": "Night\x00owls", "code": "night"})
    assert response.status_code == 400
    assert "Remove the invisible NUL character" in response.get_data(as_text=True)
    assert 'value="night"' in response.get_data(as_text=True)  # what was typed is kept
    with database.connection_context():
        assert Cohort.select().where(Cohort.code == "night").count() == 0


OUT_OF_RANGE_IDS = [-1, 0, 2**63, 2**64, 10**40]


def id_routes(app: Any) -> list[tuple[str, str, list[str]]]:
    """(method, endpoint, names of its whole-number arguments) for every rule with one, plugins included."""
    from werkzeug.routing import IntegerConverter

    found = []
    for rule in app.url_map.iter_rules():
        numbers = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if numbers:
                found.append((method, rule.endpoint, numbers))
    return found


def url_with(app: Any, endpoint: str, ids: dict[str, Any], numbers: list[str], number: int) -> str:
    """The address of `endpoint` with every whole-number argument set to `number`."""
    from flask import url_for

    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    values = {name: number if name in numbers else ids.get(name, 1) for name in rule.arguments}
    with app.test_request_context():
        return url_for(endpoint, **values)


def test_every_route_answers_404_to_an_id_no_row_can_have(app, world):
    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    routes = id_routes(app)
    assert len(routes) >= 50, "the walk found too few routes with ids"
    assert ("PUT", "recording.put_chunk", ["conversation_id", "track_id", "sequence"]) in routes
    failures = []
    for method, endpoint, numbers in routes:
        for number in OUT_OF_RANGE_IDS:
            url = url_with(app, endpoint, world, numbers, number)
            response = client.open(url, method=method, data={"csrf_token": token, "action": "x"})
            if response.status_code != 404:
                failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_the_largest_id_reaches_the_database_and_answers_without_a_server_error(app, world):
    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    failures = []
    for method, endpoint, numbers in id_routes(app):
        url = url_with(app, endpoint, world, numbers, 2**63 - 1)
        response = client.open(url, method=method, data={"csrf_token": token, "action": "x"})
        if response.status_code >= 500 or re.search(r"Traceback|File \"/", response.get_data(as_text=True)):
            failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_a_recording_chunk_still_counts_from_zero(app, world):
    values = {"conversation_id": world["conversation_id"], "track_id": world["track_id"], "sequence": 0}
    with app.test_request_context():
        from flask import url_for

        url = url_for("recording.put_chunk", **values)
    assert app.url_map.bind("localhost").match(url, method="PUT") == ("recording.put_chunk", values)


@pytest.mark.parametrize("number", ["9" * 19, str(2**63), str(2**64), "-1", "1e9", "١٢"])
def test_an_id_out_of_range_in_a_form_field_is_refused_with_a_message(app, world, number):
    from core.models import Conversation

    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    conversation = world["conversation_id"]

    facilitator = client.post(f"/admin/conversations/{conversation}/facilitator",
                              data={"csrf_token": token, "facilitator": number})
    assert facilitator.status_code == 302
    assert "Choose a facilitator from the list" in client.get("/admin/conversations").get_data(as_text=True)

    unpair = client.post(f"/admin/cohorts/{world['cohort_id']}/unpair", data={"csrf_token": token, "pair": number})

    assert unpair.status_code == 400
    assert re.search("Choose a pair|not part of this cohort", unpair.get_data(as_text=True))
    with database.connection_context():
        assert Conversation.get_by_id(conversation).facilitator_id is None


@pytest.mark.parametrize("name", ["Night\rowls", "Night\nowls", "Night\x1bowls", "Night\x85owls", "slwo\u202eNight"])
def test_a_control_character_in_a_one_line_field_is_refused_at_the_field_and_nothing_is_stored(app, world, name):
    from core.models import Cohort

    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/cohorts").get_data(as_text=True))

    response = client.post("/admin/cohorts", data={"csrf_token": token, "name": name, "code": "night"})

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    message = page.split('class="field-error"', 1)[1][:300]
    assert "“Name” takes one line of plain text, but it contains" in message
    assert 'aria-invalid="true"' in page
    with database.connection_context():
        assert Cohort.select().where(Cohort.code == "night").count() == 0


NOT_UTF8 = [b"Jos%E9", b"Jos\xe9", b"%C3", b"%ED%A0%80", b"%FF%FE"]
"""Latin-1 é escaped and raw, a cut-off sequence, an encoded surrogate, a byte-order mark of UTF-16."""


@pytest.mark.parametrize("name", NOT_UTF8, ids=["escaped", "raw", "cut-off", "surrogate", "utf-16"])
def test_a_value_that_is_not_utf8_is_refused_at_its_field_and_nothing_is_stored(app, world, name):
    from core.models import Cohort

    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/cohorts").get_data(as_text=True))

    response = client.post("/admin/cohorts", data=b"name=" + name + b"&code=night&csrf_token=" + token.encode(),
                           content_type="application/x-www-form-urlencoded")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "“Name” contains bytes that are not valid UTF-8 text" in page.split('class="field-error"', 1)[1][:300]
    assert 'value="night"' in page  # the rest of what was typed is kept
    with database.connection_context():
        assert Cohort.select().where(Cohort.code == "night").count() == 0


def test_a_literal_percent_sign_is_still_text(app, world):
    from core.models import Cohort

    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/cohorts").get_data(as_text=True))

    response = client.post("/admin/cohorts", data=b"name=100%25E9+Jos%C3%A9&code=night&csrf_token=" + token.encode(),
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 302
    with database.connection_context():
        assert Cohort.get(Cohort.code == "night").name == "100%E9 José"


def test_a_multipart_value_that_is_not_utf8_is_refused_at_its_field(app, world):
    client = signed_in(app, "root@example.org")
    token = csrf_token_from(client.get("/admin/cohorts").get_data(as_text=True))
    body = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (name, value)
                    for name, value in ((b"name", b"Jos\xe9"), (b"code", b"night"), (b"csrf_token", token.encode())))

    response = client.post("/admin/cohorts", data=body + b"--B--\r\n", content_type="multipart/form-data; boundary=B")

    assert response.status_code == 400
    assert "“Name” contains bytes that are not valid UTF-8 text" in response.get_data(as_text=True)


def test_a_questionnaire_answer_that_is_not_utf8_is_refused_at_the_question(app, world):
    client = signed_in(app, "ann@example.org")
    page = client.get("/profile/step/about")
    token = csrf_token_from(page.get_data(as_text=True))

    response = client.post("/profile/step/about", data=b"q-first_name=Jos%E9&csrf_token=" + token.encode(),
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert "contains bytes that are not valid UTF-8 text" in response.get_data(as_text=True)


def test_a_search_that_is_not_utf8_answers_a_page(app, world):
    client = signed_in(app, "ann@example.org")

    response = client.get("/listen?q=Jos%E9&place=%FF")

    assert response.status_code in (200, 400)
    assert "%E9" not in response.get_data(as_text=True)

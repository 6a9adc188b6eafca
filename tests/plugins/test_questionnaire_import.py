"""The bundled questionnaire_import plugin: CSV upload by an admin and a signed webhook.

Real uploads through the Flask test client (multipart), the real database and the real outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
import uuid
from typing import Any

import pytest
import yaml

from core.db import database
from core.models import Answer, AuthToken, Profile, User
from tests.conftest import csrf_token_from
from tests.profiles import complete_profile

SECRET = "an-import-webhook-secret-0123456789"
COLUMNS = {
    "Email": "email", "First name": "first_name", "Age": "age_range", "Gender": "gender",
    "Country": "location.country", "State": "location.region", "City": "location.city",
    "Languages": "languages", "Lean": "lean", "Interests": "interests",
}
HEADER = ",".join(COLUMNS)
ANA = "ana@example.org,Ana,35-44,Woman,US,Ohio,Dayton,en;Spanish,3,Gardening;cooking"
BEN = "ben@example.org,Ben,25-34,man,United States,Texas,Austin,en,6,music"
IMPORT = {"columns": COLUMNS, "webhook_secret": SECRET, "max_file_kb": 64, "max_rows": 50,
          "invite_note": "Riverbend Radio typed in your paper form."}


def settings(**overrides: Any) -> dict[str, Any]:
    """The test config: the default questionnaire and the import plugin with `overrides`."""
    return {"plugins": {"questionnaire_yaml": None, "questionnaire_import": {**IMPORT, **overrides}}}


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The default questionnaire plus questionnaire_import."""
    return settings()


@pytest.fixture
def admin(client, make_user, login) -> Any:
    """The test client signed in as an admin."""
    make_user("admin@example.org", role="admin")
    login("admin@example.org")
    return client


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    """A CSV file (UTF-8) with the header and `rows`."""
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8")


def upload(client: Any, data: bytes, filename: str = "people.csv") -> Any:
    """Post a file through the import form, with the page's CSRF token."""
    token = csrf_token_from(client.get("/admin/import/").get_data(as_text=True))
    return client.post("/admin/import/", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def participants() -> list[str]:
    """Participant addresses, sorted."""
    with database.connection_context():
        return sorted(user.email for user in User.select().where(User.role == "participant"))


def answers_of(email: str) -> dict[str, Any]:
    """Question id -> value of a participant's stored answers."""
    with database.connection_context():
        user = User.get(User.email == email)
        return {row.question_id: row.value for row in Answer.select().where(Answer.user == user)}


def snapshot() -> list[tuple]:
    """Every answer row and profile row as stored, to prove nothing changed."""
    with database.connection_context():
        answers = [(a.user_id, a.question_id, a.version, json.dumps(a.value, sort_keys=True), a.visibility,
                    a.answered_at) for a in Answer.select().order_by(Answer.id)]
        profiles = [(p.user_id, p.updated_at, p.source) for p in Profile.select().order_by(Profile.id)]
        tokens = [(t.user_id, t.purpose, t.created_at) for t in AuthToken.select().order_by(AuthToken.id)]
    return answers + profiles + tokens


def problem_rows(html: str) -> list[tuple[str, str, str]]:
    """(row, column, problem) of the report table."""
    import re
    from html import unescape

    table = html.split('id="import-problems"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table, flags=re.DOTALL)
    return [(unescape(row), unescape(column), unescape(re.sub(r"\s+", " ", message))) for row, column, message in rows]


def sign(body: bytes, secret: str = SECRET, timestamp: str = "", delivery: str = "") -> str:
    """The X-Signature header value for `body` sent at `timestamp` as `delivery`."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.{delivery}.".encode() + body,
                                hashlib.sha256).hexdigest()


def post_webhook(client: Any, payload: Any, signature: str | None = "auto", raw: bytes | None = None, *,
                 delivery: str | None = None, timestamp: int | None = None) -> Any:
    """POST JSON to the webhook, signed unless `signature` is given (None: no header), sent now as a new
    delivery unless `delivery` or `timestamp` say otherwise."""
    body = raw if raw is not None else json.dumps(payload).encode()
    delivery = delivery if delivery is not None else f"delivery-{uuid.uuid4()}"
    sent = str(timestamp if timestamp is not None else int(time.time()))
    headers = {"X-Oss-Timestamp": sent, "X-Oss-Delivery": delivery}
    if signature is not None:
        headers["X-Signature"] = sign(body, timestamp=sent, delivery=delivery) if signature == "auto" else signature
    return client.post("/import/webhook", data=body, headers=headers, content_type="application/json")


@pytest.fixture(autouse=True)
def plugin_tables(app) -> None:
    """The plugin's own migrations (its webhook deliveries table), as `oss-connect db upgrade` runs them."""
    from core.migrate import upgrade

    with database.connection_context():
        upgrade(database.obj, app.extensions["oss_connect"].migrations)


# --- CSV: good rows --------------------------------------------------------------------------------

def test_good_rows_create_participants_with_their_answers(admin):
    response = upload(admin, csv_bytes(ANA, BEN))

    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "<strong>2</strong> created" in html and "<strong>0</strong> updated" in html
    assert participants() == ["ana@example.org", "ben@example.org"]
    assert answers_of("ana@example.org") == {
        "first_name": "Ana", "age_range": "35-44", "gender": {"choice": "woman"},
        "location": {"country": "US", "region": "Ohio", "city": "Dayton"}, "languages": ["en", "es"],
        "lean": 3, "interests": ["gardening", "cooking"]}
    assert answers_of("ben@example.org")["location"] == {"country": "US", "region": "Texas", "city": "Austin"}
    with database.connection_context():
        ana = User.get(User.email == "ana@example.org")
        profile = Profile.get(Profile.user == ana)
        visibility = {a.question_id: a.visibility for a in Answer.select().where(Answer.user == ana)}
    assert (ana.password_hash, ana.email_verified_at) == (None, None)
    assert (profile.source, profile.completed_at) == ("import", None)  # no consent yet: not matchable
    assert (visibility["first_name"], visibility["lean"]) == ("partners", "partners")  # the questions' defaults


def test_new_participants_are_invited_and_the_link_lets_them_choose_a_password(admin, app, outbox):
    upload(admin, csv_bytes(ANA, BEN))

    message = outbox.last_to("ana@example.org")
    assert len(outbox.to("ana@example.org")) == 1 and len(outbox.to("ben@example.org")) == 1
    assert "Riverbend Radio typed in your paper form." in message.text
    link = next(link for link in outbox.links(message) if "/welcome/" in link)
    visitor = app.test_client()
    page = visitor.get(link.split("localhost", 1)[1])
    assert page.status_code == 200
    assert 'type="password"' in page.get_data(as_text=True)


def test_semicolon_separated_file_with_a_byte_order_mark_is_read(admin):
    header = ";".join(COLUMNS)
    row = 'cleo@example.org;Cleo;45-54;;FR;Brittany;Rennes;"fr";5;'
    response = upload(admin, b"\xef\xbb\xbf" + csv_bytes(row, header=header))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert answers_of("cleo@example.org")["languages"] == ["fr"]


def test_empty_cells_leave_questions_unanswered(admin):
    response = upload(admin, csv_bytes("dan@example.org,,,,,,,,,"))

    assert response.status_code == 200
    assert participants() == ["dan@example.org"]
    assert answers_of("dan@example.org") == {}


# --- CSV: bad rows ---------------------------------------------------------------------------------

def test_bad_rows_are_reported_row_by_row_and_nothing_is_imported(admin, outbox):
    bad = [ANA,
           "not-an-address,Bo,25-34,,,,,en,3,",
           "cy@example.org,Cy,25-34,Robot,US,Ohio,Akron,en,9,",
           "di@example.org,Di,25-34,,US,,,en,2,knitting"]
    response = upload(admin, csv_bytes(*bad))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported" in html
    rows = problem_rows(html)
    assert [(row, column) for row, column, _ in rows] == [
        ("3", "Email"), ("4", "Gender"), ("4", "Lean"), ("5", "Country, State, City"), ("5", "Interests")]
    messages = {(row, column): message for row, column, message in rows}
    assert "is not an email address" in messages[("3", "Email")]
    assert "'Robot' is not one of the options" in messages[("4", "Gender")]
    assert "from 1 (Very liberal) to 7 (Very conservative)" in messages[("4", "Lean")]
    assert "Enter your region" in messages[("5", "Country, State, City")]
    assert "'knitting' is not an option" in messages[("5", "Interests")]
    assert participants() == []
    assert snapshot() == []
    assert outbox.messages() == []


def test_duplicate_addresses_in_one_file_are_refused(admin):
    response = upload(admin, csv_bytes(ANA, BEN, ANA.replace("ana@", "ANA@")))

    assert response.status_code == 422
    assert problem_rows(response.get_data(as_text=True)) == [
        ("4", "Email", "ana@example.org appears twice (first in row 2); each person may appear once. "
                       "Merge the two into one.")]
    assert participants() == []


def test_staff_accounts_are_not_imported(admin):
    response = upload(admin, csv_bytes(ANA.replace("ana@example.org", "admin@example.org")))

    assert response.status_code == 422
    assert "belongs to an account with the role admin" in problem_rows(response.get_data(as_text=True))[0][2]
    with database.connection_context():
        assert User.get(User.email == "admin@example.org").role == "admin"
        assert Answer.select().count() == 0


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "The file is empty"),
    (b"   \r\n", "The file is empty"),
    (csv_bytes(header=HEADER), "header row but no rows of people"),
    (csv_bytes(ANA, header=HEADER.replace("Email", "Mail")), "The header row has no column 'Email'"),
    (csv_bytes("ana@example.org,Ana,35-44,Woman,US,Ohio,Dayton,en,3", header=HEADER.replace(",Interests", "")),
     "The column is missing from the header row (it fills 'interests')"),
    (csv_bytes(ANA).replace(b"Dayton", b"D\xe4yton"), "The file is not UTF-8 text (the first character that is "
                                                      "not UTF-8 is on line 2)"),
    (csv_bytes(ANA).decode().encode("utf-16"), "The file is UTF-16 text"),
    (b"PK\x03\x04" + b"\x00" * 100, "This is a spreadsheet workbook (.xlsx or .ods), not a CSV file"),
    (csv_bytes(*[f"p{n}@example.org,P,,,,,,,," for n in range(51)]), "more than 50 rows of people"),
    (csv_bytes(ANA + ",surplus"), "This row has 11 cells but the header row has 10"),
], ids=["empty", "blank", "header-only", "no-email-column", "missing-column", "latin-1", "utf-16", "xlsx",
        "too-many-rows", "long-row"])
def test_a_file_that_cannot_be_read_gets_a_message_and_imports_nothing(admin, data, expected):
    response = upload(admin, data)

    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    assert expected in " ".join(message for _, _, message in problem_rows(html))
    assert participants() == []


def test_a_file_over_the_configured_size_is_refused_at_the_field(admin):
    big = csv_bytes(ANA, *[f"p{n}@example.org,{'x' * 30},,,,,,,," for n in range(2000)])
    assert len(big) > 64 * 1024

    response = upload(admin, big)

    assert response.status_code == 400
    assert "The file is larger than 64 KB" in response.get_data(as_text=True)
    assert participants() == []


def test_a_file_over_the_site_request_limit_gets_413_with_a_message(admin):
    response = upload(admin, b"a" * (2 * 1024 * 1024 + 10))

    assert response.status_code == 413
    assert "larger than the site accepts (2 MB)" in response.get_data(as_text=True)


def test_a_file_that_is_not_csv_by_name_is_refused(admin):
    response = upload(admin, csv_bytes(ANA), filename="people.xlsx")

    assert response.status_code == 400
    assert "Upload a .csv file" in response.get_data(as_text=True)


def test_posting_without_a_file_asks_for_one(admin):
    token = csrf_token_from(admin.get("/admin/import/").get_data(as_text=True))
    response = admin.post("/admin/import/", data={"csrf_token": token}, content_type="multipart/form-data")

    assert response.status_code == 400
    assert "Choose the CSV file to import." in response.get_data(as_text=True)


def test_upload_without_the_csrf_token_is_refused(admin):
    response = admin.post("/admin/import/", data={"file": (io.BytesIO(csv_bytes(ANA)), "people.csv")},
                          content_type="multipart/form-data")

    assert response.status_code == 400
    assert participants() == []


# --- idempotency and updates -----------------------------------------------------------------------

def test_importing_the_same_file_twice_changes_nothing(admin, outbox):
    data = csv_bytes(ANA, BEN)
    upload(admin, data)
    before, emails = snapshot(), len(outbox.messages())

    response = upload(admin, data)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>0</strong> created" in html and "<strong>0</strong> updated" in html
    assert "<strong>2</strong> unchanged" in html
    assert snapshot() == before
    assert len(outbox.messages()) == emails == 2


def test_an_existing_participant_is_updated_keeping_their_visibility_choices(admin, app, make_user, outbox):
    user = make_user("ana@example.org")
    complete_profile(app, user, visibility={"first_name": "private"}, first_name="Anna", lean="5")

    response = upload(admin, csv_bytes(ANA, BEN))

    html = response.get_data(as_text=True)
    assert "<strong>1</strong> created" in html and "<strong>1</strong> updated" in html
    answers = answers_of("ana@example.org")
    assert (answers["first_name"], answers["lean"], answers["bio"]) == (
        "Ana", 3, "I teach fourth grade and spend weekends in my vegetable garden.")
    with database.connection_context():
        row = Answer.get((Answer.user == user.id) & (Answer.question_id == "first_name"))
        assert row.visibility == "private"
        assert Profile.get(Profile.user == user.id).completed_at is not None  # still complete: they consented
    assert outbox.to("ana@example.org") == []  # an existing account is not invited again


# --- the admin page --------------------------------------------------------------------------------

def test_the_page_lists_the_expected_columns_and_links_the_template(admin):
    html = admin.get("/admin/import/").get_data(as_text=True)

    assert '<th scope="col">Column</th><th scope="col">Fills</th>' in html
    assert "<code>Lean</code>" in html and "A number from 1 (Very liberal) to 7 (Very conservative)." in html
    assert 'enctype="multipart/form-data"' in html and '<label for="file">CSV file</label>' in html
    template = admin.get("/admin/import/template.csv")
    assert template.status_code == 200
    assert template.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.get_data().decode("utf-8-sig").strip() == HEADER


def test_the_downloaded_template_filled_in_imports(admin):
    header = admin.get("/admin/import/template.csv").get_data()

    response = upload(admin, header + ANA.encode() + b"\r\n")

    assert response.status_code == 200
    assert participants() == ["ana@example.org"]


def test_the_admin_overview_links_to_the_import_page(admin):
    html = admin.get("/admin/").get_data(as_text=True)

    assert 'href="/admin/import/"' in html


@pytest.mark.parametrize("path", ["/admin/import/", "/admin/import/template.csv"])
def test_participants_get_403_and_visitors_are_sent_to_sign_in(client, make_user, login, path):
    assert client.get(path).status_code == 302
    make_user("someone@example.org")
    login("someone@example.org")

    assert client.get(path).status_code == 403


def test_a_participant_cannot_upload(client, make_user, login):
    make_user("someone@example.org")
    login("someone@example.org")
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    response = client.post("/admin/import/", data={"csrf_token": token, "file": (io.BytesIO(csv_bytes(ANA)), "a.csv")},
                           content_type="multipart/form-data")

    assert response.status_code == 403
    assert participants() == ["someone@example.org"]


# --- the webhook -----------------------------------------------------------------------------------

PERSON = {"email": "eve@example.org", "answers": {
    "first_name": "Eve", "age_range": "55-64", "gender": {"choice": "self_describe", "text": "Grandmother"},
    "location": {"country": "US", "region": "Maine", "city": "Bangor"}, "languages": ["en"], "lean": 6,
    "interests": "Reading;music", "availability": ["mon-evening", "SAT-MORNING"]}}


def test_webhook_with_a_good_signature_stores_and_invites(client, outbox):
    response = post_webhook(client, [PERSON, {"email": "fay@example.org", "answers": {"lean": "2"}}])

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert answers_of("eve@example.org") == {
        "first_name": "Eve", "age_range": "55-64", "gender": {"choice": "self_describe", "text": "Grandmother"},
        "location": {"country": "US", "region": "Maine", "city": "Bangor"}, "languages": ["en"], "lean": 6,
        "interests": ["reading", "music"], "availability": ["mon-evening", "sat-morning"]}
    assert len(outbox.to("eve@example.org")) == 1 and len(outbox.to("fay@example.org")) == 1


def test_webhook_sent_twice_changes_nothing(client, outbox):
    post_webhook(client, PERSON)
    before = snapshot()

    response = post_webhook(client, PERSON)

    assert response.get_json() == {"created": 0, "updated": 0, "unchanged": 1}
    assert snapshot() == before and len(outbox.messages()) == 1


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "sha256=",
                                       "wrong-secret"], ids=["missing", "wrong", "sha1", "empty", "other-key"])
def test_webhook_with_a_wrong_signature_gets_401_and_stores_nothing(client, outbox, signature):
    body = json.dumps(PERSON).encode()
    if signature == "wrong-secret":
        signature = sign(body, "another-secret-of-enough-length")

    response = post_webhook(client, None, signature=signature, raw=body)

    assert response.status_code == 401
    assert "X-Signature" in response.get_json()["error"]
    assert participants() == [] and snapshot() == [] and outbox.messages() == []


def test_webhook_signature_covers_the_exact_body(client):
    body = json.dumps(PERSON).encode()
    tampered = body.replace(b"Eve", b"Eva")
    now = int(time.time())

    response = post_webhook(client, None, signature=sign(body, timestamp=str(now), delivery="delivery-1"),
                            raw=tampered, delivery="delivery-1", timestamp=now)

    assert response.status_code == 401
    assert participants() == []


def test_webhook_signature_covers_the_timestamp_and_the_delivery_id(client):
    body = json.dumps(PERSON).encode()
    now = int(time.time())
    signature = sign(body, timestamp=str(now), delivery="delivery-1")

    for delivery, sent in (("delivery-2", now), ("delivery-1", now + 1)):  # either changed: not what was signed
        response = post_webhook(client, None, signature=signature, raw=body, delivery=delivery, timestamp=sent)
        assert response.status_code == 401 and response.get_json()["code"] == "signature"
    assert "X-Oss-Timestamp" in response.get_json()["error"]
    old_style = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()  # body only
    assert post_webhook(client, None, signature=old_style, raw=body).status_code == 401
    assert participants() == []
    assert post_webhook(client, None, signature=signature, raw=body, delivery="delivery-1",
                        timestamp=now).status_code == 200


def test_a_replayed_delivery_is_refused_and_cannot_revert_an_answer(client):
    first = post_webhook(client, PERSON, delivery="delivery-lean-6")
    assert first.status_code == 200
    changed = post_webhook(client, {"email": "eve@example.org", "answers": {"lean": 2}})
    assert changed.status_code == 200 and answers_of("eve@example.org")["lean"] == 2
    replay = post_webhook(client, PERSON, delivery="delivery-lean-6")  # the captured first request again
    assert replay.status_code == 409 and replay.get_json()["code"] == "replayed"
    assert "X-Oss-Delivery" in replay.get_json()["error"]
    assert answers_of("eve@example.org")["lean"] == 2


@pytest.mark.parametrize("offset", [-301, 301, -10**6])
def test_a_delivery_older_or_newer_than_five_minutes_is_refused(client, offset):
    response = post_webhook(client, PERSON, timestamp=int(time.time()) + offset)
    assert response.status_code == 400 and response.get_json()["code"] == "stale"
    assert "5 minutes" in response.get_json()["error"] and participants() == []
    assert post_webhook(client, PERSON, timestamp=int(time.time()) - 240).status_code == 200


@pytest.mark.parametrize(("delivery", "timestamp", "code"), [
    ("", None, "bad_delivery"), ("short", None, "bad_delivery"), ("a b c d e f g h", None, "bad_delivery"),
    ("delivery-ok-1", "soon", "bad_timestamp"), ("delivery-ok-2", "", "bad_timestamp"),
    ("delivery-ok-3", "-1", "bad_timestamp")])
def test_missing_or_malformed_delivery_headers_get_a_clear_400(client, delivery, timestamp, code):
    body = json.dumps(PERSON).encode()
    sent = str(int(time.time())) if timestamp is None else timestamp
    headers = {"X-Oss-Timestamp": sent, "X-Oss-Delivery": delivery,
               "X-Signature": sign(body, timestamp=sent, delivery=delivery)}
    response = client.post("/import/webhook", data=body, headers=headers, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == code and participants() == []


def test_delivery_ids_past_the_window_are_forgotten(client):
    import datetime as dt

    from core.db import utcnow
    from plugins.questionnaire_import.models import WebhookDelivery

    with database.connection_context():
        WebhookDelivery.create(delivery_id="delivery-long-ago", received_at=utcnow() - dt.timedelta(minutes=12))
        WebhookDelivery.create(delivery_id="delivery-recent", received_at=utcnow() - dt.timedelta(minutes=9))
    assert post_webhook(client, PERSON).status_code == 200
    with database.connection_context():
        kept = sorted(row.delivery_id for row in WebhookDelivery.select())
    assert "delivery-long-ago" not in kept and "delivery-recent" in kept and len(kept) == 2


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""], ids=["syntax", "not-utf8", "empty"])
def test_webhook_with_malformed_json_gets_400(client, raw):
    response = post_webhook(client, None, raw=raw)

    assert response.status_code == 400
    assert "not UTF-8 JSON" in response.get_json()["error"]


def test_webhook_with_invalid_answers_gets_422_listing_each_and_stores_nothing(client, outbox):
    payload = [PERSON, {"email": "nope", "answers": {"lean": 12, "colour": "blue", "languages": True}},
               {"email": "eve@example.org"}, "a string"]

    response = post_webhook(client, payload)

    assert response.status_code == 422
    body = response.get_json()
    assert "Nothing was stored" in body["error"]
    found = [(problem["index"], problem["field"]) for problem in body["problems"]]
    assert found == [(1, "colour"), (1, "languages"), (1, "email"), (1, "lean"), (2, "email"), (3, "")]
    messages = {(problem["index"], problem["field"]): problem["problem"] for problem in body["problems"]}
    assert "known ids: age_range, availability" in messages[(1, "colour")]
    assert "'nope' is not an email address" in messages[(1, "email")]
    assert "Choose a point from 1 (Very liberal) to 7" in messages[(1, "lean")]
    assert "appears twice (first in entry 0)" in messages[(2, "email")]
    assert participants() == [] and outbox.messages() == []


def test_webhook_answers_of_the_wrong_shape_are_named(client):
    payload = {"email": "eve@example.org", "answers": {
        "first_name": ["Eve", "Eva"], "location": "US", "lean": {"value": 3}, "interests": {"a": "b"},
        "gender": {"choice": "woman", "mood": "good"}}}

    response = post_webhook(client, payload)

    assert response.status_code == 422
    assert {problem["field"]: problem["problem"] for problem in response.get_json()["problems"]} == {
        "first_name": "Give one answer as a text or a number.",
        "location": "Give the location as an object: {country, region, city}.",
        "lean": "Give one answer as a text or a number.",
        "interests": "Give a list of texts, or one text with the items separated by the list separator.",
        "gender": "Give an object of texts with the keys choice, text."}
    assert participants() == []


def test_webhook_body_over_the_request_limit_gets_413_json(client):
    body = json.dumps([PERSON] * 20_000).encode()
    assert len(body) > 2 * 1024 * 1024

    response = post_webhook(client, None, raw=body)

    assert response.status_code == 413
    assert "larger than the site accepts" in response.get_json()["error"]
    assert participants() == []


def test_webhook_with_too_many_people_gets_422(client):
    response = post_webhook(client, [PERSON] * 51)

    assert response.status_code == 422
    assert response.get_json()["problems"] == [
        {"index": None, "field": "", "problem": "Send at most 50 people at once."}]


@pytest.mark.parametrize("oss_connect_settings", [settings(webhook_secret=None)], ids=["no-secret"])
def test_webhook_without_a_configured_secret_is_404(client):
    response = post_webhook(client, PERSON)

    assert response.status_code == 404
    assert participants() == []


def test_webhook_updates_an_existing_participant(client, make_user):
    make_user("eve@example.org")

    response = post_webhook(client, {"email": "Eve@Example.org", "answers": {"lean": 4}})

    assert response.get_json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert answers_of("eve@example.org") == {"lean": 4}


# --- settings and the mapping ----------------------------------------------------------------------

def write_config(instance: Any, columns: dict[str, str]) -> Any:
    """Rewrite the instance config with another column mapping."""
    path = instance / "oss-connect.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["plugins"]["questionnaire_import"]["columns"] = columns
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_a_mapping_to_an_unknown_question_stops_start_up_with_the_known_ids(instance):
    from core.app import create_app
    from core.config import load_config
    from core.plugins_loader import StartupError

    path = write_config(instance, {"Email": "email", "Age": "agee"})

    with pytest.raises(StartupError) as raised:
        create_app(load_config(path), testing=True)

    message = str(raised.value)
    assert "plugins.questionnaire_import.columns: column 'Age' maps to 'agee', which is not a question" in message
    assert "known question ids: first_name, last_initial, age_range" in message


@pytest.mark.parametrize(("columns", "expected"), [
    ({"First name": "first_name"}, "map exactly one column to email"),
    ({"Email": "email", "Mail": "email"}, "map exactly one column to email"),
    ({"Email": "email", "A": "lean", "B": "lean"}, "several columns map to lean"),
    ({"Email": "email", "Where": "location.planet"}, "column 'Where' maps to 'location.planet'"),
], ids=["no-email", "two-emails", "doubled", "bad-part"])
def test_a_malformed_mapping_is_a_config_error_with_file_and_line(instance, columns, expected):
    from core.config import ConfigError, load_config

    path = write_config(instance, columns)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    message = str(raised.value)
    assert "oss-connect.yaml:" in message and "plugins.questionnaire_import.columns" in message
    assert expected in message


def test_a_location_question_must_be_mapped_by_part(instance):
    from core.app import create_app
    from core.config import load_config
    from core.plugins_loader import StartupError

    path = write_config(instance, {"Email": "email", "Where": "location"})

    with pytest.raises(StartupError, match=r"map one column to each of location\.country, location\.region"):
        create_app(load_config(path), testing=True)


def test_a_short_webhook_secret_is_a_config_error(instance):
    from core.config import ConfigError, load_config

    path = instance / "oss-connect.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["plugins"]["questionnaire_import"]["webhook_secret"] = "short"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    with pytest.raises(ConfigError, match="shorter than 16 characters"):
        load_config(path)


# --- end to end, the documentation and the example config -----------------------------------------

COMPLETE = {"email": "gil@example.org", "answers": {
    "first_name": "Gil", "age_range": "65-74", "location": {"country": "US", "region": "Iowa", "city": "Ames"},
    "languages": "en", "lean": 5, "politics_importance": 3, "time_zone": "America/Chicago",
    "availability": "tue-morning;thu-afternoon", "last_initial": "P", "gender": "Man", "party": "None",
    "issue_guns": 2, "issue_immigration": 3, "issue_climate": 4, "issue_abortion": 2, "issue_economy": 4,
    "interests": ["games"], "values": ["honesty"], "bio": "Retired farmer; I still fix tractors."}}


def test_an_imported_participant_is_matchable_only_after_confirming_consent_online(app, client, outbox):
    from core.api import complete_participant_ids

    assert post_webhook(client, COMPLETE).get_json() == {"created": 1, "updated": 0, "unchanged": 0}
    with app.test_request_context(), database.connection_context():
        user = User.get(User.email == "gil@example.org")
        assert complete_participant_ids() == []  # every question answered, but no consent yet
    link = next(link for link in outbox.links(outbox.last_to("gil@example.org")) if "/welcome/" in link)
    path = link.split("localhost", 1)[1]
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    password = "a long enough password"
    response = client.post(path, data={"csrf_token": token, "password": password, "confirm": password})
    assert response.status_code == 302 and response.headers["Location"].endswith("/profile/")

    token = csrf_token_from(client.get("/profile/consent").get_data(as_text=True))
    assert client.post("/profile/consent", data={"csrf_token": token, "agree": "y"}).status_code == 302

    with app.test_request_context(), database.connection_context():
        assert complete_participant_ids() == [user.id]


def documented_shell_example() -> str:
    """The curl + openssl example of docs/questionnaire-import.md."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "questionnaire-import.md").read_text(encoding="utf-8")
    return next(block for block in text.split("```sh\n")[1:] if "openssl dgst" in block).split("```", 1)[0]


def test_the_documented_curl_and_openssl_example_is_accepted(live_server):
    import os
    import shutil
    import subprocess

    if not (shutil.which("curl") and shutil.which("openssl")):
        pytest.skip("curl and openssl are needed to run the documented example")
    script = documented_shell_example().replace("https://talk.example.org", live_server.url)

    result = subprocess.run(["bash", "-euc", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "IMPORT_WEBHOOK_SECRET": SECRET})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"created": 1, "updated": 0, "unchanged": 0}
    assert answers_of("eve@example.org") == {"first_name": "Eve", "lean": 6}


def test_the_commented_out_example_in_the_example_config_is_valid(tmp_path):
    import re
    import shutil
    from pathlib import Path

    from core.config import load_config

    root = Path(__file__).resolve().parents[2]
    text = (root / "config" / "oss-connect.example.yaml").read_text(encoding="utf-8")
    block = re.search(r"^  # questionnaire_import:.*?(?=^  # [a-z0-9_]+:|^\S|\Z)", text, flags=re.DOTALL | re.MULTILINE)
    assert block, "the example config has no commented-out questionnaire_import block"
    enabled = text.replace(block.group(0), re.sub(r"^  # ", "  ", block.group(0), flags=re.MULTILINE))
    (tmp_path / "oss-connect.yaml").write_text(enabled, encoding="utf-8")
    shutil.copy(root / "config" / "questionnaire.yaml", tmp_path / "questionnaire.yaml")
    shutil.copy(root / "config" / "conversation_guide.yaml", tmp_path / "conversation_guide.yaml")

    loaded = load_config(tmp_path / "oss-connect.yaml", environ={
        "OSS_CONNECT_SECRET_KEY": "a-test-secret-key-that-is-long-enough-0123456789", "IMPORT_WEBHOOK_SECRET": SECRET})

    imported = loaded.plugin_settings("questionnaire_import")
    assert imported.columns["Email"] == "email" and imported.webhook_secret.get_secret_value() == SECRET
    from core.api import load_questionnaire
    from plugins.questionnaire_import.convert import mapping_problems

    assert mapping_problems(imported.columns, load_questionnaire(tmp_path / "questionnaire.yaml")) == []


def test_the_import_page_with_a_problem_report_passes_axe(live_server, page):
    from tests.browser import create_account, open_page, sign_in
    from tests.browser.test_accessibility import assert_accessible

    create_account("admin@example.org", role="admin")
    sign_in(page, live_server.url, "admin@example.org")
    open_page(page, live_server.url + "/admin/import/")
    assert_accessible(page)
    bad = live_server.instance / "bad.csv"
    bad.write_bytes(csv_bytes(ANA, "not-an-address,Bo,25-34,,,,,en,9,"))

    page.get_by_label("CSV file").set_input_files(str(bad))
    with page.expect_navigation():
        page.get_by_role("button", name="Check and import").click()

    assert page.get_by_role("alert").first.inner_text().startswith("Nothing was imported")
    assert page.locator("#import-problems tbody tr").count() == 2
    assert_accessible(page)
    page.get_by_role("button", name="Check and import").click()  # no file chosen: the field says so
    page.wait_for_load_state("load")
    assert "Choose the CSV file to import." in page.locator(".field-error").inner_text()
    assert_accessible(page)


def test_an_empty_webhook_secret_from_the_environment_switches_the_webhook_off(instance):
    from core.config import load_config

    path = instance / "oss-connect.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["plugins"]["questionnaire_import"]["webhook_secret"] = "${IMPORT_WEBHOOK_SECRET:-}"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    assert load_config(path, environ={}).plugin_settings("questionnaire_import").webhook_secret is None

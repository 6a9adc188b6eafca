"""Forms refuse bad submissions politely: wrong values get a message at the field (400, never 500),
a POST without a valid CSRF token is refused, and too many attempts answer 429."""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.db import database
from core.models import NewsletterSubscriber, User
from core.testing import require_service
from tests.conftest import csrf_token_from

PASSWORD = "correct horse battery"
LIMIT = "3 per minute"


LOW_LIMITS = {"accounts": {"rate_limits": {"login": LIMIT, "signup": LIMIT, "reset": LIMIT, "newsletter": LIMIT}}}
HIGH_LIMITS = {"accounts": {"rate_limits": {name: "1000 per minute" for name in ("login", "signup", "reset",
                                                                                 "newsletter")}}}


@pytest.fixture
def oss_connect_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Limits high enough for many bad submissions; the rate-limit tests ask for LOW_LIMITS."""
    return getattr(request, "param", HIGH_LIMITS)


low_limits = pytest.mark.parametrize("oss_connect_settings", [LOW_LIMITS], indirect=True, ids=["3-per-minute"])


# The forms, with a valid submission each ---------------------------------------------------------

VALID = {
    "signup": {"email": "new@example.org", "password": PASSWORD, "confirm": PASSWORD},
    "login": {"email": "ada@example.org", "password": PASSWORD},
    "reset_request": {"email": "ada@example.org"},
    "magic_request": {"email": "ada@example.org"},
    "resend_verification": {"email": "ada@example.org"},
    "newsletter": {"email": "reader@example.org", "consent": "y"},
    "new_password": {"password": "a brand new passphrase", "confirm": "a brand new passphrase"},
    "account": {"time_zone": "Europe/Berlin"},
}
EMAIL_FORMS = ["signup", "login", "reset_request", "magic_request", "resend_verification", "newsletter"]
PASSWORD_FORMS = ["signup", "new_password"]


def form_url(kind: str, client: Any, make_user: Any, login: Any, outbox: Any) -> str:
    """The address of form `kind`, after whatever it needs (an account, a reset link, a session)."""
    if kind == "login":
        make_user("ada@example.org")
    static = {"signup": "/signup", "login": "/login", "reset_request": "/reset", "magic_request": "/magic",
              "resend_verification": "/verify/resend", "newsletter": "/newsletter"}
    if kind in static:
        return static[kind]
    make_user("ada@example.org")
    if kind == "account":
        login("ada@example.org")
        return "/account"
    fresh = client.application.test_client()
    token = csrf_token_from(fresh.get("/reset").get_data(as_text=True))
    fresh.post("/reset", data={"email": "ada@example.org", "csrf_token": token})
    links = [urlsplit(link).path for link in outbox.links(outbox.last_to("ada@example.org")) if "/reset/" in link]
    return links[0]


@pytest.fixture
def open_form(client: Any, make_user: Any, login: Any, outbox: Any) -> Any:
    """open_form(kind) -> (url, csrf token)."""

    def opener(kind: str) -> tuple[str, str]:
        url = form_url(kind, client, make_user, login, outbox)
        page = client.get(url)
        assert page.status_code == 200, url
        return url, csrf_token_from(page.get_data(as_text=True))

    return opener


def assert_refused_at_the_field(response: Any) -> None:
    """400 with the form shown again and a message at a field."""
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:300]
    assert 'class="field-error"' in page
    assert 'aria-invalid="true"' in page
    assert "<form" in page


def nothing_was_stored() -> None:
    """No account beyond the test's own, no newsletter subscriber."""
    with database.connection_context():
        assert User.select().where(User.email != "ada@example.org").count() == 0
        assert NewsletterSubscriber.select().count() == 0


@pytest.mark.parametrize("kind", list(VALID))
def test_the_valid_submission_of_every_form_is_accepted(client, open_form, kind):
    url, token = open_form(kind)

    response = client.post(url, data={**VALID[kind], "csrf_token": token})

    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    assert 'class="field-error"' not in response.get_data(as_text=True)


BAD_EMAILS = {
    "empty": "",
    "spaces only": "   ",
    "10 kB": "a" * 10_240 + "@example.org",
    "no at sign": "plainaddress",
    "no local part": "@example.org",
    "no domain": "ada@",
    "two at signs": "ada@@example.org",
    "no dot in domain": "ada@example",
    "space inside": "a da@example.org",
    "NUL byte": "ada\x00@example.org",
    "emoji only": "\U0001f642\U0001f642\U0001f642",
    "markup": "<script>alert(1)</script>@example.org",
    "right-to-left override": "ada\u202e@example.org",
    "too long": "a" * 250 + "@example.org",
    "non-ASCII local part": "zo\u00eb@example.org",
}


@pytest.mark.parametrize("kind", EMAIL_FORMS)
def test_a_bad_email_is_refused_at_the_field(client, open_form, kind):
    url, token = open_form(kind)

    for case, value in BAD_EMAILS.items():
        response = client.post(url, data={**VALID[kind], "email": value, "csrf_token": token})
        assert response.status_code == 400, case
        assert_refused_at_the_field(response)
        message = response.get_data(as_text=True).split('class="field-error"', 1)[1][:200]
        expected = {"\x00": "Remove the invisible NUL character", "\u202e": "reverses the direction of text"}.get(
            next((character for character in value if character in "\x00\u202e"), ""), "email address")
        assert expected in message, case
    nothing_was_stored()


BAD_PASSWORDS = {
    "empty": "",
    "too short": "short",
    "10 kB": "p" * 10_240,
}


@pytest.mark.parametrize("kind", PASSWORD_FORMS)
def test_a_bad_password_is_refused_at_the_field(client, open_form, kind):
    url, token = open_form(kind)

    for case, value in BAD_PASSWORDS.items():
        response = client.post(url, data={**VALID[kind], "password": value, "confirm": value, "csrf_token": token})
        assert response.status_code == 400, case
        assert_refused_at_the_field(response)
    nothing_was_stored()


@pytest.mark.parametrize("kind", PASSWORD_FORMS)
def test_different_passwords_are_refused_at_the_field(client, open_form, kind):
    url, token = open_form(kind)

    response = client.post(url, data={**VALID[kind], "confirm": "not the same passphrase", "csrf_token": token})

    assert_refused_at_the_field(response)
    assert "The two passwords differ." in response.get_data(as_text=True)


def test_a_bad_login_password_is_refused_without_an_error(client, open_form):
    url, token = open_form("login")

    for value in ("", "x" * 10_240, "ada\x00secret", "\U0001f642" * 20):
        response = client.post(url, data={"email": "ada@example.org", "password": value, "csrf_token": token})
        assert response.status_code == 400, value[:20]
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("kind", [kind for kind in VALID if kind != "account"])  # an empty zone means the default
def test_a_submission_with_every_field_missing_is_refused_at_the_fields(client, open_form, kind):
    url, token = open_form(kind)

    response = client.post(url, data={"csrf_token": token})

    assert_refused_at_the_field(response)


JSON_BODIES = [{"email": ["ada@example.org", 5], "password": {"x": None}, "consent": True},
               [1, 2, 3], "a string", 42, None]


@pytest.mark.parametrize("kind", [kind for kind in VALID if kind != "account"])
def test_a_json_body_is_refused_at_the_fields(client, open_form, kind):
    url, token = open_form(kind)

    for payload in JSON_BODIES:
        response = client.post(url, json=payload, headers={"X-CSRFToken": token})
        assert response.status_code == 400, payload
        assert_refused_at_the_field(response)
    nothing_was_stored()


@pytest.mark.parametrize("kind", EMAIL_FORMS)
def test_a_file_in_place_of_the_email_is_refused_at_the_field(client, open_form, kind):
    url, token = open_form(kind)

    response = client.post(url, content_type="multipart/form-data", data={
        **VALID[kind], "email": (io.BytesIO(b"ada@example.org"), "address.txt"), "csrf_token": token})

    assert_refused_at_the_field(response)
    nothing_was_stored()


def test_undecodable_bytes_are_refused_without_an_error(client, open_form):
    for kind in EMAIL_FORMS:
        url, token = open_form(kind)
        response = client.post(url, data=b"email=%FF%FE%C0&consent=%FF&password=%C0%AF&csrf_token=" + token.encode(),
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400, kind


def test_an_unknown_time_zone_is_refused_at_the_field(client, open_form):
    url, token = open_form("account")

    for value in ("Mars/Olympus_Mons", "x" * 10_240, "Europe/Berlin\x00", "../../etc/passwd"):
        response = client.post(url, data={"time_zone": value, "csrf_token": token})
        assert_refused_at_the_field(response)
    with database.connection_context():
        assert User.by_email("ada@example.org").time_zone is None


def test_an_international_domain_is_accepted_and_mailed_in_its_ascii_form(client, open_form, outbox):
    url, token = open_form("signup")

    response = client.post(url, data={**VALID["signup"], "email": "zoe@exämple.org", "csrf_token": token})

    assert response.status_code == 200
    with database.connection_context():
        assert User.by_email("zoe@exämple.org") is not None
    assert outbox.last_to("zoe@xn--exmple-cua.org").subject == "Confirm your email address"


def test_a_unicode_password_works_for_sign_in(client, open_form, make_user, login):
    make_user("ada@example.org", password="Grüße aus Köln 🙂 東京")

    login("ada@example.org", "Grüße aus Köln 🙂 東京")

    assert client.get("/account").status_code == 200


def test_the_refused_form_keeps_what_was_typed_but_never_the_password(client, open_form):
    url, token = open_form("signup")

    response = client.post(url, data={"email": "new@example.org", "password": "secret but short",
                                      "confirm": "secret but different", "csrf_token": token})

    page = response.get_data(as_text=True)
    assert 'value="new@example.org"' in page
    assert "secret but" not in page


def test_a_too_large_body_is_refused_with_the_themed_page(client, open_form):
    url, token = open_form("signup")

    response = client.post(url, data={"email": "x" * (3 * 1024 * 1024), "csrf_token": token})

    assert response.status_code == 413
    assert "That was too large" in response.get_data(as_text=True)


# CSRF -----------------------------------------------------------------------------------------------

def test_csrf_protection_is_on_in_the_test_app(app):
    assert app.config["TESTING"] is True
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    assert app.config.get("WTF_CSRF_CHECK_DEFAULT", True) is True


@pytest.mark.parametrize("url", ["/login", "/signup", "/logout", "/newsletter", "/reset", "/magic",
                                 "/verify/resend", "/account"])
def test_a_post_without_csrf_token_is_refused_with_the_themed_page(client, make_user, login, url):
    make_user("ada@example.org")
    if url == "/account":
        login("ada@example.org")
    data = {**VALID["login"], "confirm": PASSWORD, "consent": "y", "time_zone": "Europe/Berlin"}

    response = client.post(url, data=data)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The form expired or was sent from another site" in page
    assert "Test Conversations" in page


def test_a_post_with_a_forged_csrf_token_is_refused(client, make_user):
    make_user("ada@example.org")
    client.get("/login")

    response = client.post("/login", data={**VALID["login"], "csrf_token": "IjEyMyI.forged.token"})

    assert response.status_code == 400
    assert client.get("/account").status_code == 302


def test_a_csrf_token_from_another_session_is_refused(client, make_user):
    make_user("ada@example.org")
    stranger = client.application.test_client()
    stolen = csrf_token_from(stranger.get("/login").get_data(as_text=True))
    client.get("/login")

    response = client.post("/login", data={**VALID["login"], "csrf_token": stolen})

    assert response.status_code == 400
    assert client.get("/account").status_code == 302


def test_logout_without_csrf_token_keeps_the_session(client, make_user, login):
    make_user("ada@example.org")
    login("ada@example.org")

    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_single_use_links_need_the_csrf_token_too(client, make_user, outbox):
    make_user("ada@example.org")
    token = csrf_token_from(client.get("/magic").get_data(as_text=True))
    client.post("/magic", data={"email": "ada@example.org", "csrf_token": token})
    link = urlsplit(outbox.links(outbox.last_to("ada@example.org"))[0]).path

    assert client.post(link).status_code == 400
    assert client.get("/account").status_code == 302
    assert client.get(link).status_code == 200, "the refused POST did not spend the link"


# Rate limits ---------------------------------------------------------------------------------------

LIMITED = {"login": "/login", "signup": "/signup", "reset": "/reset", "magic": "/magic",
           "resend_verification": "/verify/resend", "newsletter": "/newsletter"}


def post_times(client: Any, url: str, times: int, data: dict[str, Any] | None = None) -> list[int]:
    """POST the form `times` times (each with a valid CSRF token) and return the status codes."""
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return [client.post(url, data={**(data or {}), "csrf_token": token}).status_code for _ in range(times)]


@low_limits
@pytest.mark.parametrize("name", list(LIMITED))
def test_the_fourth_post_answers_429_with_the_themed_page(client, name):
    url = LIMITED[name]

    statuses = post_times(client, url, 3)
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    refused = client.post(url, data={"csrf_token": token})

    assert 429 not in statuses
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert "Retry-After" in refused.headers


@low_limits
def test_a_rate_limited_login_refuses_even_the_right_password(client, make_user):
    make_user("ada@example.org")
    post_times(client, "/login", 3, {"email": "ada@example.org", "password": "a wrong guess"})
    token = csrf_token_from(client.get("/login").get_data(as_text=True))

    response = client.post("/login", data={**VALID["login"], "csrf_token": token})

    assert response.status_code == 429
    assert client.get("/account").status_code == 302


@low_limits
def test_gets_are_not_rate_limited(client):
    post_times(client, "/login", 4)

    assert [client.get("/login").status_code for _ in range(8)] == [200] * 8


@low_limits
def test_each_limited_form_counts_on_its_own(client):
    post_times(client, "/login", 4)

    assert post_times(client, "/signup", 1) == [400]
    assert post_times(client, "/magic", 1) == [400]


@low_limits
def test_limits_count_per_client_address(client):
    post_times(client, "/login", 4)
    elsewhere = client.application.test_client()
    token = csrf_token_from(elsewhere.get("/login").get_data(as_text=True))

    response = elsewhere.post("/login", data={"csrf_token": token}, environ_base={"REMOTE_ADDR": "192.0.2.7"})

    assert response.status_code == 400


@low_limits
def test_limits_do_not_leak_between_app_instances(client, instance):
    from core.app import create_app
    from core.config import load_config

    assert post_times(client, "/login", 4)[-1] == 429
    other = create_app(load_config(instance / "oss-connect.yaml"), testing=True).test_client()

    assert post_times(other, "/login", 1) == [400]


REDIS_LIMITS = {"accounts": {"rate_limits": {"login": LIMIT, "storage_url": "redis://127.0.0.1:6379/0"}}}


@pytest.mark.parametrize("oss_connect_settings", [REDIS_LIMITS], indirect=True, ids=["redis"])
def test_redis_counters_are_shared_between_processes(client, instance):
    import redis

    from core.app import create_app
    from core.config import load_config

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        require_service("Redis", f"redis://127.0.0.1:6379/0: {error}")
    address = {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"}  # this run's own counter
    second_process = create_app(load_config(instance / "oss-connect.yaml"), testing=True).test_client()

    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    first = [client.post("/login", data={"csrf_token": token}, environ_base=address).status_code for _ in range(3)]
    token = csrf_token_from(second_process.get("/login").get_data(as_text=True))
    fourth = second_process.post("/login", data={"csrf_token": token}, environ_base=address)

    assert first == [400, 400, 400]
    assert fourth.status_code == 429

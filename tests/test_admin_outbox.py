"""The admin outbox: admins read every message the platform wrote; nobody else can."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_token_from


def send_a_sign_in_link(client: Any, email: str) -> None:
    """Make the platform write a message (a magic link) to `email`."""
    fresh = client.application.test_client()
    token = csrf_token_from(fresh.get("/magic").get_data(as_text=True))
    assert fresh.post("/magic", data={"email": email, "csrf_token": token}).status_code == 200


@pytest.fixture
def message_id(client: Any, make_user: Any, outbox: Any) -> str:
    """The id of one message in the outbox (a sign-in link for ada@example.org)."""
    make_user("ada@example.org")
    send_a_sign_in_link(client, "ada@example.org")
    return outbox.last_to("ada@example.org").id


@pytest.fixture
def admin_client(client: Any, make_user: Any, login: Any) -> Any:
    """The test client, signed in as an admin."""
    make_user("root@example.org", role="admin")
    login("root@example.org")
    return client


def test_admin_sees_every_message_in_the_list(admin_client, message_id, outbox):
    response = admin_client.get("/admin/outbox")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Your sign-in link" in page
    assert "ada@example.org" in page
    assert f'href="/admin/outbox/{message_id}"' in page


def test_admin_list_shows_the_newest_message_first(admin_client, make_user, message_id, outbox):
    make_user("bob@example.org")
    send_a_sign_in_link(admin_client, "bob@example.org")
    newest = outbox.last_to("bob@example.org").id

    page = admin_client.get("/admin/outbox").get_data(as_text=True)

    assert page.index(newest) < page.index(message_id)


def test_admin_sees_an_empty_outbox_message(admin_client):
    response = admin_client.get("/admin/outbox")

    assert response.status_code == 200
    assert "The outbox is empty." in response.get_data(as_text=True)


def test_admin_reads_a_message_with_its_text_and_a_sandboxed_html_frame(admin_client, message_id, outbox):
    response = admin_client.get(f"/admin/outbox/{message_id}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    link = outbox.links(outbox.last_to("ada@example.org"))[0]
    assert link in page
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame, "the HTML part is shown in a frame"
    assert re.search(r"\ssandbox(\s|>|=\"\")", frame.group(0))
    assert f'src="/admin/outbox/{message_id}/html"' in frame.group(0)


def test_the_html_part_is_served_with_its_own_sandbox_policy(admin_client, message_id):
    response = admin_client.get(f"/admin/outbox/{message_id}/html")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    directives = [directive.strip() for directive in policy.split(";")]
    assert "sandbox" in directives
    assert "default-src 'none'" in directives
    assert "script-src" not in policy
    assert "frame-ancestors 'self'" in directives


def test_the_html_part_is_the_mail_html(admin_client, message_id, outbox):
    response = admin_client.get(f"/admin/outbox/{message_id}/html")

    assert response.get_data(as_text=True) == outbox.last_to("ada@example.org").html


ADMIN_PAGES = ["/admin/", "/admin/outbox", "/admin/outbox/{id}", "/admin/outbox/{id}/html"]


def test_a_participant_gets_403_on_every_admin_page(client, login, message_id):
    login("ada@example.org")

    for path in ADMIN_PAGES:
        assert client.get(path.format(id=message_id)).status_code == 403, path


def test_a_facilitator_gets_403_on_every_admin_page(client, make_user, login, message_id):
    make_user("fay@example.org", role="facilitator")
    login("fay@example.org")

    for path in ADMIN_PAGES:
        assert client.get(path.format(id=message_id)).status_code == 403, path


def test_anonymous_visitors_are_sent_to_sign_in(client, message_id):
    for path in ADMIN_PAGES:
        response = client.get(path.format(id=message_id))
        assert response.status_code == 302, path
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert "next=" in location.query


def test_anonymous_visitors_cannot_read_a_message_even_with_its_id(client, message_id, outbox):
    response = client.get(f"/admin/outbox/{message_id}", follow_redirects=True)

    link = outbox.links(outbox.last_to("ada@example.org"))[0]
    assert link not in response.get_data(as_text=True)


BAD_IDS = ["..", "...", "..%2F..%2Fsecret", "%2e%2e%2fsecret", "..%5Csecret", "secret%00", "..\\secret",
           "x" * 201, "no-such-message", ".hidden", "%00", "outbox%2F..%2Fsecret"]


def test_ids_that_are_not_messages_give_404(admin_client, message_id, outbox):
    (outbox.folder.parent / "secret.eml").write_text("To: x@example.org\nSubject: secret\n\nsecret\n", "utf-8")
    (outbox.folder / ".hidden.tmp").write_text("To: x@example.org\nSubject: half\n\nhalf\n", "utf-8")

    for bad_id in BAD_IDS:
        for path in (f"/admin/outbox/{bad_id}", f"/admin/outbox/{bad_id}/html"):
            response = admin_client.get(path)
            assert response.status_code == 404, path
            assert "Page not found" in response.get_data(as_text=True)


def test_a_file_outside_the_outbox_is_unreachable(admin_client, message_id, outbox):
    (outbox.folder.parent / "outside.eml").write_text("To: x@example.org\nSubject: outside\n\nnot yours\n", "utf-8")

    for path in ("/admin/outbox/..%2Foutside", "/admin/outbox/../outside", "/admin/outbox/%2E%2E%2Foutside"):
        response = admin_client.get(path)
        assert response.status_code == 404, path
        assert "not yours" not in response.get_data(as_text=True)


def test_the_admin_overview_links_to_the_outbox(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert 'href="/admin/outbox"' in response.get_data(as_text=True)

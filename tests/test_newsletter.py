"""The "Stay informed" newsletter: double opt-in, unsubscribe, re-subscribe, no duplicates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from core.db import database
from core.models import NewsletterSubscriber
from tests.conftest import csrf_token_from

PRIVACY = {"program": {"privacy_notice": {
    "version": "2025-06-b", "text": "We keep your address only to send you the news you asked for."}}}


@pytest.fixture
def oss_connect_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A privacy notice with a version of our own; a test may pass other settings."""
    return getattr(request, "param", PRIVACY)


def post_form(client: Any, page: str, data: dict[str, Any], action: str | None = None) -> Any:
    """Open `page`, take its CSRF token and post `data` to `action` (default: the same page)."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(action or page, data={**data, "csrf_token": token})


def subscribe(client: Any, email: str) -> Any:
    """Fill in the form on the newsletter page."""
    return post_form(client, "/newsletter", {"email": email, "consent": "y"})


def links(outbox: Any, email: str) -> dict[str, str]:
    """The confirm and unsubscribe paths in the newest mail to `email`."""
    found = {}
    for link in outbox.links(outbox.last_to(email)):
        path = urlsplit(link).path
        if path.startswith("/newsletter/confirm/"):
            found["confirm"] = path
        elif path.startswith("/newsletter/unsubscribe/"):
            found["unsubscribe"] = path
    assert set(found) == {"confirm", "unsubscribe"}, outbox.last_to(email).text
    return found


def subscriber(email: str) -> NewsletterSubscriber | None:
    """The stored subscription, read fresh."""
    with database.connection_context():
        return NewsletterSubscriber.get_or_none(NewsletterSubscriber.email == email)


def confirmed(client: Any, outbox: Any, email: str) -> dict[str, str]:
    """Subscribe and confirm; return the links of the confirmation mail."""
    subscribe(client, email)
    found = links(outbox, email)
    assert post_form(client, found["confirm"], {}).status_code == 200
    return found


def test_signing_up_stores_an_unconfirmed_address_and_mails_a_link(client, outbox):
    response = subscribe(client, "reader@example.org")

    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    assert outbox.last_to("reader@example.org").subject == "Confirm your subscription"
    stored = subscriber("reader@example.org")
    assert stored is not None and stored.confirmed_at is None and not stored.is_subscribed


def test_opening_the_confirm_link_does_not_confirm(client, outbox):
    subscribe(client, "reader@example.org")
    confirm = links(outbox, "reader@example.org")["confirm"]

    first, second = client.get(confirm), client.get(confirm)

    assert first.status_code == second.status_code == 200
    assert "Yes, send me news" in second.get_data(as_text=True)
    assert subscriber("reader@example.org").confirmed_at is None


def test_posting_the_confirm_link_confirms(client, outbox):
    subscribe(client, "reader@example.org")

    response = post_form(client, links(outbox, "reader@example.org")["confirm"], {})

    assert response.status_code == 200
    assert "You are subscribed" in response.get_data(as_text=True)
    assert subscriber("reader@example.org").is_subscribed


def test_the_privacy_notice_version_is_recorded(client):
    subscribe(client, "reader@example.org")

    assert subscriber("reader@example.org").privacy_version == "2025-06-b"


def test_the_unsubscribe_link_shows_a_button_then_unsubscribes(client, outbox):
    unsubscribe = confirmed(client, outbox, "reader@example.org")["unsubscribe"]

    assert client.get(unsubscribe).status_code == 200
    assert subscriber("reader@example.org").is_subscribed
    response = post_form(client, unsubscribe, {})

    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert not subscriber("reader@example.org").is_subscribed
    assert subscriber("reader@example.org").unsubscribed_at is not None


def test_an_already_subscribed_address_gets_no_second_mail(client, outbox):
    confirmed(client, outbox, "reader@example.org")

    response = subscribe(client, "reader@example.org")

    assert response.status_code == 200
    assert len(outbox.to("reader@example.org")) == 1
    assert subscriber("reader@example.org").is_subscribed


def test_the_answer_is_the_same_for_a_subscribed_and_a_new_address(client, outbox):
    confirmed(client, outbox, "reader@example.org")

    known = subscribe(client, "reader@example.org").get_data(as_text=True)
    new = subscribe(client, "new@example.org").get_data(as_text=True)

    assert known.replace("reader@example.org", "X") == new.replace("new@example.org", "X")


def test_an_unsubscribed_address_can_subscribe_again_with_a_new_confirmation(client, outbox):
    old = confirmed(client, outbox, "reader@example.org")
    post_form(client, old["unsubscribe"], {})

    subscribe(client, "reader@example.org")

    assert len(outbox.to("reader@example.org")) == 2
    assert not subscriber("reader@example.org").is_subscribed, "a new subscription waits for its confirmation"
    post_form(client, links(outbox, "reader@example.org")["confirm"], {})
    assert subscriber("reader@example.org").is_subscribed


def test_subscribing_again_retires_the_earlier_links(client, outbox):
    subscribe(client, "reader@example.org")
    earlier = links(outbox, "reader@example.org")

    subscribe(client, "reader@example.org")

    assert client.get(earlier["confirm"]).status_code == 400
    assert client.get(links(outbox, "reader@example.org")["confirm"]).status_code == 200


def test_a_pending_address_gets_a_fresh_link_when_it_asks_again(client, outbox):
    subscribe(client, "reader@example.org")

    subscribe(client, "reader@example.org")

    assert len(outbox.to("reader@example.org")) == 2
    with database.connection_context():
        assert NewsletterSubscriber.select().count() == 1


def test_addresses_are_stored_lower_case(client, outbox):
    subscribe(client, "Reader@Example.ORG")

    assert subscriber("reader@example.org") is not None


def test_consent_is_required(client, outbox):
    response = post_form(client, "/newsletter", {"email": "reader@example.org"})

    assert response.status_code == 400
    assert "Tick the box to agree" in response.get_data(as_text=True)
    assert subscriber("reader@example.org") is None
    assert outbox.messages() == []


def test_the_landing_page_form_posts_to_the_newsletter(client, outbox):
    page = client.get("/").get_data(as_text=True)
    assert 'action="/newsletter"' in page

    response = client.post("/newsletter", data={"email": "reader@example.org", "consent": "y",
                                                "csrf_token": csrf_token_from(page)})

    assert response.status_code == 200
    assert outbox.last_to("reader@example.org")


@pytest.mark.parametrize("kind", ["confirm", "unsubscribe"])
def test_an_unknown_link_is_refused(client, kind):
    path = f"/newsletter/{kind}/{'x' * 43}"

    assert client.get(path).status_code == 400
    assert post_form(client, "/newsletter", {}, action=path).status_code == 400


@pytest.mark.parametrize("oss_connect_settings", [{"program": {"newsletter": {"enabled": False}}}], indirect=True)
def test_a_disabled_newsletter_has_no_page(client):
    assert client.get("/newsletter").status_code == 404
    assert 'action="/newsletter"' not in client.get("/").get_data(as_text=True)


def test_the_admin_overview_counts_only_confirmed_subscribers(client, outbox, make_user, login):
    confirmed(client, outbox, "reader@example.org")
    subscribe(client, "pending@example.org")
    left = confirmed(client, outbox, "gone@example.org")
    post_form(client, left["unsubscribe"], {})
    make_user("root@example.org", role="admin")
    login("root@example.org")

    page = client.get("/admin/").get_data(as_text=True)

    assert "<strong>1</strong> newsletter subscribers" in page

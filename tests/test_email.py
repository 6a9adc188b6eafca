"""Email: every message has a text and a branded HTML part, is sent from a job, is written to the
outbox idempotently, and reaches a real SMTP server when mail.backend is smtp."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from core.mail import SEND_EMAIL_JOB
from tests.conftest import csrf_token_from, free_port

BRAND = {"theme": {"tokens": {"colors": {"primary": "#7a1f5c", "on_primary": "#fffffe"}}},
         "mail": {"from_address": "Test Radio <talk@radio.example>"}}


@pytest.fixture
def oss_connect_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A brand colour of our own (so we can find it in the HTML); tests may add more.

    The parameter "smtp" starts a real SMTP server and points mail.backend at it.
    """
    extra = getattr(request, "param", {})
    if extra in ("smtp", "smtp-down"):
        port = request.getfixturevalue("smtp_server").port if extra == "smtp" else free_port()
        extra = {"mail": {**BRAND["mail"], "backend": "smtp",
                          "smtp": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 5}}}
    return {**BRAND, **extra}


def post_form(client: Any, page: str, data: dict[str, Any]) -> Any:
    """Open `page`, take its CSRF token and post `data` to it."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(page, data={**data, "csrf_token": token})


def trigger_signup(client: Any, make_user: Any) -> str:
    post_form(client, "/signup", {"email": "new@example.org", "password": "correct horse battery",
                                  "confirm": "correct horse battery"})
    return "new@example.org"


def trigger_signup_exists(client: Any, make_user: Any) -> str:
    make_user("ada@example.org")
    trigger = post_form(client, "/signup", {"email": "ada@example.org", "password": "correct horse battery",
                                            "confirm": "correct horse battery"})
    assert trigger.status_code == 200
    return "ada@example.org"


def trigger_reset(client: Any, make_user: Any) -> str:
    make_user("ada@example.org")
    post_form(client, "/reset", {"email": "ada@example.org"})
    return "ada@example.org"


def trigger_magic_link(client: Any, make_user: Any) -> str:
    make_user("ada@example.org")
    post_form(client, "/magic", {"email": "ada@example.org"})
    return "ada@example.org"


def trigger_newsletter(client: Any, make_user: Any) -> str:
    post_form(client, "/newsletter", {"email": "reader@example.org", "consent": "y"})
    return "reader@example.org"


TRIGGERS = [trigger_signup, trigger_signup_exists, trigger_reset, trigger_magic_link, trigger_newsletter]
TRIGGER_IDS = ["verify", "signup_exists", "reset", "magic_link", "newsletter_confirm"]


def raw_files(outbox: Any) -> list[Path]:
    """The .eml files in the outbox folder."""
    return sorted(outbox.folder.glob("*.eml"))


def parsed(path: Path) -> email.message.EmailMessage:
    """An outbox file as a MIME message."""
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=TRIGGER_IDS)
def test_every_mail_has_a_text_and_an_html_part(client, make_user, outbox, trigger):
    address = trigger(client, make_user)

    message = outbox.last_to(address)
    assert message.text.strip()
    assert message.html and "<html" in message.html
    assert not re.search(r"<(html|p|a|table|br)\b", message.text), "the text part is plain text"


@pytest.mark.parametrize("trigger", TRIGGERS, ids=TRIGGER_IDS)
def test_every_mail_html_carries_the_brand_colour_and_site_name(client, make_user, outbox, trigger):
    address = trigger(client, make_user)

    message = outbox.last_to(address)
    assert "#7a1f5c" in message.html
    assert "Test Conversations" in message.html
    assert "Test Conversations" in message.text


@pytest.mark.parametrize("trigger", TRIGGERS, ids=TRIGGER_IDS)
def test_every_mail_has_a_message_id_a_date_and_the_configured_sender(client, make_user, outbox, trigger):
    address = trigger(client, make_user)

    mime = parsed(raw_files(outbox)[-1])
    assert mime["To"] == address
    assert mime["Message-ID"].startswith("<") and mime["Message-ID"].endswith(">")
    assert mime["Date"]
    assert mime["From"] == "Test Radio <talk@radio.example>"


@pytest.mark.parametrize("trigger", TRIGGERS, ids=TRIGGER_IDS)
def test_every_link_in_the_text_part_is_also_in_the_html_part(client, make_user, outbox, trigger):
    address = trigger(client, make_user)

    message = outbox.last_to(address)
    links = outbox.links(message)
    assert links
    for link in links:
        assert link in message.html


def test_links_in_mails_use_the_configured_base_url(client, outbox):
    trigger_signup(client, None)

    assert all(link.startswith("http://localhost/") for link in outbox.links(outbox.last_to("new@example.org")))


def test_links_in_mails_ignore_a_forged_host_header(client, outbox):
    forged = "http://evil.example"
    token = csrf_token_from(client.get("/signup", base_url=forged).get_data(as_text=True))
    response = client.post("/signup", base_url=forged,
                           data={"email": "new@example.org", "password": "correct horse battery",
                                 "confirm": "correct horse battery", "csrf_token": token})
    assert response.status_code == 200

    links = outbox.links(outbox.last_to("new@example.org"))
    assert links and not any("evil.example" in link for link in links)


def test_the_outbox_backend_writes_the_same_message_once(app, outbox):
    message = {"to": "ada@example.org", "subject": "Hello", "text": "Hello in text",
               "html": "<html><body>Hello</body></html>", "message_id": "<fixed-id.1@localhost>"}

    with app.app_context():
        app.extensions["oss_connect"].jobs.enqueue(SEND_EMAIL_JOB, message)
        app.extensions["oss_connect"].jobs.enqueue(SEND_EMAIL_JOB, message)

    files = raw_files(outbox)
    assert [path.name for path in files] == ["fixed-id.1_localhost.eml"]
    assert parsed(files[0])["Message-ID"] == "<fixed-id.1@localhost>"


def test_the_outbox_leaves_no_temporary_files(client, outbox):
    trigger_signup(client, None)

    assert [path.suffix for path in outbox.folder.iterdir()] == [".eml"]


@pytest.mark.parametrize("oss_connect_settings", [{"jobs": {"backend": "sqlite", "sqlite_file": "jobs.sqlite3"}}],
                         indirect=True)
def test_mail_is_sent_from_a_job_not_during_the_request(app, client, outbox):
    trigger_signup(client, None)
    jobs = app.extensions["oss_connect"].jobs

    assert outbox.messages() == []
    assert jobs.pending_count() == 1
    jobs.huey.execute(jobs.huey.dequeue())
    assert outbox.last_to("new@example.org").subject == "Confirm your email address"


class Recorder:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.envelopes: list[Any] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        self.received.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Any:
    """A real SMTP server on a free local port."""
    recorder = Recorder(free_port())
    controller = Controller(recorder, hostname="127.0.0.1", port=recorder.port)
    controller.start()
    yield recorder
    controller.stop()


@pytest.mark.parametrize("oss_connect_settings", ["smtp"], indirect=True)
def test_with_the_smtp_backend_a_real_server_receives_the_message(smtp_server, client):
    trigger_signup(client, None)

    assert smtp_server.received.wait(10)
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["new@example.org"]
    assert envelope.mail_from == "talk@radio.example"
    mime = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mime["Subject"] == "Confirm your email address"
    assert "/verify/" in mime.get_body(preferencelist=("plain",)).get_content()
    assert "#7a1f5c" in mime.get_body(preferencelist=("html",)).get_content()


@pytest.mark.parametrize("oss_connect_settings", ["smtp-down"], indirect=True)
def test_an_unreachable_smtp_server_does_not_break_the_page(client):
    response = post_form(client, "/signup", {"email": "new@example.org", "password": "correct horse battery",
                                             "confirm": "correct horse battery"})

    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)


@pytest.mark.parametrize("oss_connect_settings", ["smtp"], indirect=True)
def test_with_the_smtp_backend_nothing_is_written_to_the_outbox(smtp_server, client, outbox):
    trigger_signup(client, None)

    assert smtp_server.received.wait(10)
    assert outbox.messages() == []


HOSTILE_SUBJECT = "New message from Zoë\r\nBcc: eve@example.org\rX-Evil: 1\u2028\u202e G."
"""A subject built from a name stored before names were checked: line breaks, a header after each, an override."""


def queue_hostile(app: Any) -> None:
    from core.mail import queue_email

    with app.test_request_context():
        queue_email("ada@example.org", HOSTILE_SUBJECT, "verify", url="https://example.org/verify/x")


def assert_one_line_subject(raw: bytes) -> None:
    """One Subject header, no header added by the name, and the non-ASCII name encoded by the library."""
    headers = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in headers.split(b"\n") if line and not line[:1].isspace()]
    assert names.count(b"Subject") == 1 and b"Bcc" not in names and b"X-Evil" not in names, names
    assert b"\r" not in headers
    assert b"=?utf-8?" in headers  # RFC 2047, written by the email library, not by us
    mime = email.message_from_bytes(raw, policy=email.policy.default)
    assert mime["Subject"].strip() == "New message from Zoë Bcc: eve@example.org X-Evil: 1 G."  # folded by the library
    assert mime["Bcc"] is None and mime["X-Evil"] is None


def test_a_name_with_line_breaks_in_the_subject_is_sent_as_one_encoded_line_to_the_outbox(app, outbox):
    queue_hostile(app)

    files = raw_files(outbox)
    assert len(files) == 1
    assert_one_line_subject(files[0].read_bytes())


@pytest.mark.parametrize("oss_connect_settings", ["smtp"], indirect=True)
def test_a_name_with_line_breaks_in_the_subject_reaches_a_real_smtp_server_as_one_line(app, smtp_server):
    queue_hostile(app)

    assert smtp_server.received.wait(10)
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["ada@example.org"]
    assert_one_line_subject(envelope.content)


@pytest.mark.parametrize("oss_connect_settings", [{"jobs": {"backend": "sqlite", "sqlite_file": "jobs.sqlite3"}}],
                         indirect=True)
def test_a_queued_job_with_a_line_break_in_its_subject_is_still_sent(app, outbox):
    """A job queued before subjects were made one line no longer fails on every retry."""
    message = {"to": "ada@example.org", "subject": HOSTILE_SUBJECT, "text": "Hello", "html": "<p>Hello</p>",
               "message_id": "<queued.1@localhost>"}
    jobs = app.extensions["oss_connect"].jobs
    with app.app_context():
        jobs.enqueue(SEND_EMAIL_JOB, message)
        jobs.huey.execute(jobs.huey.dequeue())

    assert_one_line_subject(raw_files(outbox)[0].read_bytes())

"""Email: render in the theme (text and HTML), queue, and send from a job."""

from __future__ import annotations

import base64
import email.utils
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_mailman import EmailMultiAlternatives
from flask_mailman.backends.base import BaseEmailBackend

from core.input_checks import one_line

SEND_EMAIL_JOB = "send_email"


def queue_email(to: str, subject: str, template: str, *, attachments: list[tuple[str, bytes, str]] | None = None,
                message_id: str | None = None, **context: Any) -> str:
    """Render `email/TEMPLATE.txt` and `email/TEMPLATE.html` now and send them from a job.

    `attachments`: (filename, bytes, mimetype) triples; `message_id`: a fixed Message-ID (for messages that must
    go out once: a retry rewrites the same outbox file), else a fresh one. The subject, which often holds a
    person's name, is made one line (core.input_checks.one_line) so no name can add or break a header.
    """
    site = current_app.extensions["oss_connect"].config.settings.site
    context.setdefault("subject", subject)
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)
    domain = site.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    message_id = message_id or email.utils.make_msgid(domain=domain)
    message = {"to": to, "subject": one_line(subject), "text": text, "html": html, "message_id": message_id}
    if attachments:
        message["attachments"] = [{"filename": name, "content": base64.b64encode(content).decode("ascii"),
                                   "mimetype": mimetype} for name, content, mimetype in attachments]
    current_app.extensions["oss_connect"].jobs.enqueue(SEND_EMAIL_JOB, message)
    return message_id


def send_email_job(message: dict[str, Any]) -> None:
    """The job: build a multipart message (with any attachments) and hand it to the configured backend.

    The subject is made one line (a name with a line break, queued before names were checked, would make
    the mail library refuse the message on every retry); the library encodes what is left (RFC 2047).
    """
    mail = EmailMultiAlternatives(
        subject=one_line(message["subject"]), body=message["text"], to=[message["to"]],
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        headers={"Message-ID": message["message_id"]},
    )
    mail.attach_alternative(message["html"], "text/html")
    for attachment in message.get("attachments") or ():
        mail.attach(attachment["filename"], base64.b64decode(attachment["content"]), attachment["mimetype"])
    mail.send(fail_silently=False)


class OutboxEmailBackend(BaseEmailBackend):
    """Writes each message to the outbox folder as one .eml file named after its Message-ID.

    Re-sending the same message (a retried job) rewrites the same file, so it is idempotent.
    """

    def send_messages(self, email_messages: list[Any]) -> int:
        folder = Path(current_app.config["OSS_CONNECT_OUTBOX"])
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            mime = message.message()
            stem = outbox_stem(str(mime["Message-ID"] or email.utils.make_msgid()))
            temporary = folder / f".{stem}.tmp"
            temporary.write_bytes(mime.as_bytes())
            temporary.replace(folder / f"{stem}.eml")  # atomic: readers never see half a file
            sent += 1
        return sent


def outbox_stem(message_id: str) -> str:
    """A safe file name for a Message-ID (letters, digits, dot, dash, underscore)."""
    core = message_id.strip("<>")
    return "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in core)[:200]

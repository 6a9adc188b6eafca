"""Read the outbox folder: the messages the outbox mail backend wrote, newest first."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from pathlib import Path

_STEM = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@dataclass
class OutboxMessage:
    """One message in the outbox."""

    id: str
    to: str
    sender: str
    subject: str
    sent_at: dt.datetime
    text: str
    html: str | None


def list_messages(folder: Path, limit: int = 200) -> list[OutboxMessage]:
    """The newest `limit` messages."""
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda path: path.stat().st_mtime, reverse=True)[:limit]
    return [read_message(path) for path in files]


def get_message(folder: Path, message_id: str) -> OutboxMessage | None:
    """A message by its file stem; names that are not plain stems are refused."""
    if not _STEM.match(message_id):
        return None
    path = folder / f"{message_id}.eml"
    return read_message(path) if path.is_file() else None


def read_message(path: Path) -> OutboxMessage:
    """Parse one .eml file into its headers and its text and HTML parts."""
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    date_header = parsed["Date"]
    sent_at = email.utils.parsedate_to_datetime(date_header) if date_header else \
        dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=dt.UTC)
    return OutboxMessage(
        id=path.stem, to=str(parsed["To"] or ""), sender=str(parsed["From"] or ""),
        subject=str(parsed["Subject"] or ""), sent_at=sent_at.astimezone(dt.UTC),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else None,
    )

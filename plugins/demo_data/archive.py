"""Two demo conversations that already took place, so that the archive can be tried without a call:
one both participants made public and archived (on the listening pages once the worker deposits it),
one whose participants have not chosen yet. Their audio is two tones taking turns, standing in for
two voices, made with ffmpeg and processed by the real recording pipeline."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from core.api import (
    User,
    approve_description,
    book_conversation,
    conversations_of,
    ffmpeg_executable,
    import_recording,
    propose_description,
    record_archive_choice,
    utcnow,
)

DEMO_SECONDS = 30
TURN_SECONDS = 6
VOICES = (196.0, 262.0)  # the first participant's tone, the second's (Hz)
PUBLISHED_DESCRIPTION = {
    "title": "Demo: two neighbours on home, work and what they hope for",
    "summary": "A demo conversation made by the demo_data plugin. Its audio is two tones taking turns, "
               "standing in for two voices. In a real one, two people talk about where they grew up, the "
               "work they do and what they hope for their children.",
    "keywords": ["home", "work", "hope"],
    "people": ["a grandmother"],
    "places": ["Columbus, Ohio", "Dayton, Ohio"],
    "organisations": ["Columbus Public Library"],
    "languages": ["eng"],
    "location": "Columbus, Ohio",
}


class DemoArchiveError(Exception):
    """The past demo conversations could not be made; the message says why."""


def create_archive_demos(email_domain: str) -> list[str]:
    """The two past conversations (participants 3 and 4, 5 and 6), made once; returns what was made."""
    made = []
    published = _pair(email_domain, 3, 4)
    if published and not _past_conversation(*published):
        conversation = _held_conversation(*published, days_ago=1)
        for user in published:
            record_archive_choice(conversation.id, user.id, deposit=True, public=True, broadcast=True)
        proposal = propose_description(conversation.id, published[0].id, **PUBLISHED_DESCRIPTION)
        approve_description(conversation.id, published[1].id, proposal)
        made.append(f"conversation {conversation.id} of participant3 and participant4, public and archived "
                    "(the worker deposits it: /listen, /admin/archive)")
    undecided = _pair(email_domain, 5, 6)
    if undecided and not _past_conversation(*undecided):
        conversation = _held_conversation(*undecided, days_ago=0)
        made.append(f"conversation {conversation.id} of participant5 and participant6, waiting for their "
                    f"choices (/conversations/{conversation.id}/archive)")
    return made


def _pair(email_domain: str, first: int, second: int) -> tuple[Any, Any] | None:
    users = (User.by_email(f"participant{first}@{email_domain}"), User.by_email(f"participant{second}@{email_domain}"))
    return users if all(users) else None


def _past_conversation(first: Any, second: Any) -> bool:
    """Whether the two already have a conversation that started before now (an earlier run made it)."""
    now = utcnow()
    return any({c.a_id, c.b_id} == {first.id, second.id} and c.starts_at is not None and c.starts_at < now
               for c in conversations_of(first.id))


def _held_conversation(first: Any, second: Any, *, days_ago: int) -> Any:
    """A conversation of the two that took place `days_ago` days ago (hours ago for 0), with its
    recording processed."""
    hours = 24 * days_ago if days_ago else 3
    starts = (utcnow() - dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="oss-connect-demo-") as folder:
        tracks = {user.id: _voice(Path(folder) / f"voice-{index}.ogg", index)  # first: no ffmpeg, no booking
                  for index, user in enumerate((first, second))}
        conversation = book_conversation(first.id, second.id, starts, source="demo")
        recording = import_recording(conversation.id, tracks, process=True)
    if recording.status != "processed":
        raise DemoArchiveError(f"the demo recording of conversation {conversation.id} could not be processed: "
                               f"{recording.error}")
    return conversation


def _voice(target: Path, index: int) -> Path:
    """One participant's track: a tone with a syllable-like rhythm, speaking every other turn (Ogg Opus)."""
    speaking = f"lt(mod(t,{2 * TURN_SECONDS}),{TURN_SECONDS})" if index == 0 else \
        f"gte(mod(t,{2 * TURN_SECONDS}),{TURN_SECONDS})"
    expression = f"0.3*sin(2*PI*{VOICES[index]}*t)*(0.55+0.45*sin(2*PI*3.5*t))*{speaking}"
    try:
        subprocess.run([ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"aevalsrc='{expression}':s=48000:d={DEMO_SECONDS}", "-c:a", "libopus", "-b:a", "48k",
                        str(target)], check=True, capture_output=True, text=True, timeout=120)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or error
        raise DemoArchiveError(f"ffmpeg could not make the demo audio ({str(detail).strip()}); install ffmpeg "
                               "or `pip install imageio-ffmpeg`") from None
    return target

"""Create an instance folder: config copied from config/, a secret key, a migrated database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config" / "oss-connect.example.yaml"
EXAMPLE_QUESTIONNAIRE = EXAMPLE_CONFIG.parent / "questionnaire.yaml"
EXAMPLE_GUIDE = EXAMPLE_CONFIG.parent / "conversation_guide.yaml"
CONFIG_NAME = "oss-connect.yaml"


def write_instance(folder: Path, *, force: bool = False) -> list[str]:
    """Create the folder, its config and its secret key when missing; return what was written."""
    written: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / CONFIG_NAME
    if force or not config.exists():
        config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(str(config))
    for example in (EXAMPLE_QUESTIONNAIRE, EXAMPLE_GUIDE):
        copy = folder / example.name
        if not copy.exists():  # never overwritten: the partner's own questions and guide live here
            copy.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(str(copy))
    key = folder / "secret_key"
    if not key.exists():
        descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        written.append(str(key))
    (folder / ".gitignore").write_text("*\n", encoding="utf-8")
    return written


DEMO_MARKER = "  # demo_data:"
MFA_MARKER = "    required_roles: [admin, facilitator, staff]"
DEMO_MFA = "    required_roles: []              # the demo: staff need not set up a second factor; never in production"


def enable_demo(config: Path) -> bool:
    """Uncomment the demo_data line of a config written from the example, and let its staff sign in without
    setting up a second factor first (accounts.mfa.required_roles: []); False if the line is not found."""
    text = config.read_text(encoding="utf-8")
    if DEMO_MARKER not in text:
        return False
    text = text.replace(DEMO_MARKER, "  demo_data:", 1)
    config.write_text(text.replace(MFA_MARKER, DEMO_MFA, 1), encoding="utf-8")
    return True

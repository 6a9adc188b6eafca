"""The bundled demo_data plugin: demo accounts from a command, a note on the sign-in page, its settings.

demo_data is found through oss-connect's own `oss_connect` entry point, like any installed plugin:
the tests enable it by naming it in the config only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import ConfigError, load_config
from core.db import database
from core.models import User

OSS_CONNECT = str(Path(sys.executable).parent / "oss-connect")
DOMAIN = "demo.example.net"
DEMO = {"plugins": {"demo_data": {"participants": 3, "password": "demo <b>password</b>", "email_domain": DOMAIN}}}
ADDRESSES = [f"admin@{DOMAIN}", *(f"participant{number}@{DOMAIN}" for number in (1, 2, 3))]
with_demo_data = pytest.mark.parametrize("oss_connect_settings", [DEMO], ids=["demo_data"])


def demo_data_command(instance: Path) -> subprocess.CompletedProcess[str]:
    """Run `oss-connect demo-data --config INSTANCE/oss-connect.yaml` as a real process."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    return subprocess.run([OSS_CONNECT, "demo-data", "--config", str(instance / "oss-connect.yaml")],
                          capture_output=True, text=True, cwd=instance, env=environment, timeout=60)


def accounts() -> list[tuple[str, str, bool]]:
    """(email, role, verified) of every account, by email."""
    with database.connection_context():
        return [(user.email, user.role, user.email_verified_at is not None)
                for user in User.select().order_by(User.email)]


@with_demo_data
def test_demo_data_command_creates_an_admin_and_verified_participants(app, instance):
    result = demo_data_command(instance)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"demo accounts (4), password 'demo <b>password</b>': admin@{DOMAIN}, "
                                    f"participant1@{DOMAIN} ... participant3@{DOMAIN}\n"
                                    "a demo conversation of participant1 and participant2 is open now: sign in as "
                                    "each (two browsers) and open /conversations/")
    assert accounts() == [(f"admin@{DOMAIN}", "admin", True),
                          *((f"participant{number}@{DOMAIN}", "participant", True) for number in (1, 2, 3))]


@with_demo_data
def test_demo_data_command_run_twice_creates_each_account_once(app, instance):
    first = demo_data_command(instance)
    second = demo_data_command(instance)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert second.stdout == first.stdout  # the same open conversation, not a second one
    assert [email for email, _, _ in accounts()] == ADDRESSES


@with_demo_data
def test_the_demo_conversation_room_opens_for_the_two_demo_participants(app, instance, login, client):
    import re

    from core.db import database
    from core.models import Conversation

    result = demo_data_command(instance)
    conversation_id = int(re.search(r"/conversations/(\d+)/room", result.stdout).group(1))
    with database.connection_context():
        assert Conversation.select().count() == 1
        assert Conversation.get_by_id(conversation_id).status == "scheduled"
    login(f"participant1@{DOMAIN}", "demo <b>password</b>")
    page = client.get(f"/conversations/{conversation_id}/room")
    assert page.status_code == 200 and "I agree to be recorded" in page.get_data(as_text=True)


@with_demo_data
def test_demo_accounts_sign_in_with_the_configured_password(app, instance, client, login):
    assert demo_data_command(instance).returncode == 0

    login(f"participant2@{DOMAIN}", "demo <b>password</b>")

    account = client.get("/account")
    assert account.status_code == 200
    assert f"participant2@{DOMAIN}" in account.get_data(as_text=True)


@with_demo_data
def test_demo_data_command_leaves_an_existing_account_alone(app, instance, make_user, login):
    make_user(f"participant1@{DOMAIN}", password="my very own password", role="facilitator")

    assert demo_data_command(instance).returncode == 0

    assert (f"participant1@{DOMAIN}", "facilitator", True) in accounts()
    login(f"participant1@{DOMAIN}", "my very own password")


@with_demo_data
def test_login_page_shows_the_demo_note_when_the_plugin_is_enabled(client):
    page = client.get("/login").get_data(as_text=True)

    assert '<h2 id="demo-note">This is a demo</h2>' in page
    assert (f"Sign in as <code>participant1@{DOMAIN}</code> (up to participant3) or <code>admin@{DOMAIN}</code>, "
            "password <code>demo &lt;b&gt;password&lt;/b&gt;</code>.") in page
    assert "admins and facilitators must set up a second factor" in page, "the demo says what it leaves out"


def test_login_page_has_no_demo_note_without_the_plugin(client):
    page = client.get("/login").get_data(as_text=True)

    assert "<h1>Sign in</h1>" in page
    assert "This is a demo" not in page


@with_demo_data
def test_demo_note_appears_only_on_the_login_page(client):
    page = client.get("/").get_data(as_text=True)

    assert "Test Conversations" in page
    assert "This is a demo" not in page


def test_invalid_demo_settings_are_each_reported_with_file_and_line(tmp_path):
    config = tmp_path / "oss-connect.yaml"
    config.write_text(
        "site:\n"
        "  secret_key: 0123456789abcdef0123456789abcdef0123456789\n"
        "plugins:\n"
        "  demo_data:\n"
        "    participants: 0\n"
        "    password: short\n"
        "    email_domain: Not A Domain\n",
        encoding="utf-8")

    with pytest.raises(ConfigError) as refused:
        load_config(config)

    reported = [issue.format() for issue in refused.value.issues]
    assert len(reported) == 3, reported
    assert reported[0].startswith(f"{config}:5: plugins.demo_data.participants: out of range")
    assert reported[1].startswith(f"{config}:6: plugins.demo_data.password: wrong length")
    assert reported[2].startswith(f"{config}:7: plugins.demo_data.email_domain: wrong format")


def test_oss_connect_check_refuses_invalid_demo_settings_with_exit_code_2(tmp_path):
    config = tmp_path / "oss-connect.yaml"
    config.write_text("site:\n  secret_key: 0123456789abcdef0123456789abcdef0123456789\n"
                      "plugins:\n  demo_data:\n    participants: many\n", encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}

    result = subprocess.run([OSS_CONNECT, "check", "--config", str(config)], capture_output=True, text=True,
                            cwd=tmp_path, env=environment, timeout=60)

    assert result.returncode == 2
    assert f"{config}:5: plugins.demo_data.participants: wrong type" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("oss_connect_settings", [{"plugins": {"questionnaire_yaml": None, **DEMO["plugins"]}}],
                         ids=["demo_data+questionnaire"])
def test_demo_participants_get_complete_varied_profiles_once(app, instance):
    from core.models import Answer, Profile

    first = demo_data_command(instance)
    assert first.returncode == 0, first.stderr
    with database.connection_context():
        complete = Profile.select().where(Profile.completed_at.is_null(False)).count()
        leans = {row.value for row in Answer.select().where(Answer.question_id == "lean")}
        answers = Answer.select().count()
    assert complete == 3  # the three participants; the admin answers nothing
    assert len(leans) == 2  # both political sides, so the demo has matches to suggest
    assert demo_data_command(instance).returncode == 0
    with database.connection_context():
        assert Answer.select().count() == answers  # a second run adds nothing


ARCHIVE_DEMO = {"plugins": {"questionnaire_yaml": None, "archive_site": None, "archive_bagit": None,
                            "demo_data": {**DEMO["plugins"]["demo_data"], "participants": 6}}}


@pytest.mark.parametrize("oss_connect_settings", [ARCHIVE_DEMO], ids=["demo_data+archive"])
def test_demo_data_makes_a_public_archived_conversation_and_one_waiting_for_choices(app, instance, client, login):
    """Participants 3 and 4 are heard on /listen (first names and bios public), their bag is valid in
    the pickup folder; participants 5 and 6 have a processed recording and no choices yet. Made once."""
    import re

    import bagit

    from core.models import Conversation
    from core.models.archive import ArchiveConsent, Deposit
    from core.models.recording import Recording
    from plugins.demo_data.profiles import BIOS, FIRST_NAMES

    first = demo_data_command(instance)
    assert first.returncode == 0, first.stderr
    public_id, waiting_id = (int(number) for number in re.findall(r"a demo conversation (\d+) of", first.stdout))
    with database.connection_context():
        recordings = {row.conversation_id: row.status for row in Recording.select()}
        deposits = {row.destination: row.status for row in Deposit.select().where(Deposit.conversation == public_id)}
        waiting_choices = ArchiveConsent.select().where(ArchiveConsent.conversation == waiting_id).count()
    assert recordings == {public_id: "processed", waiting_id: "processed"}
    assert deposits == {"site": "deposited", "bagit": "deposited"}  # the tests' jobs run as they are queued
    assert waiting_choices == 0

    listing = client.get("/listen").get_data(as_text=True)
    slug = re.search(r'href="/listen/([0-9a-f]{32})"', listing).group(1)
    item = client.get(f"/listen/{slug}").get_data(as_text=True)
    assert "Demo: two neighbours on home, work and what they hope for" in item
    for number in (3, 4):
        assert FIRST_NAMES[number] in item and BIOS[number % len(BIOS)] in item
    assert client.get(f"/listen/{slug}/audio", headers={"Range": "bytes=0-99"}).status_code == 206
    bags = list((instance / "archive" / "outbox").glob("oss-connect-*"))
    assert len(bags) == 1 and bagit.Bag(str(bags[0])).is_valid()

    login(f"participant5@{DOMAIN}", "demo <b>password</b>")
    choices = client.get(f"/conversations/{waiting_id}/archive")
    assert choices.status_code == 200 and "Deposit it at the archive" in choices.get_data(as_text=True)

    second = demo_data_command(instance)
    assert second.returncode == 0, second.stderr
    assert "a demo conversation 2" not in second.stdout and "a demo conversation 3" not in second.stdout
    with database.connection_context():
        assert Conversation.select().count() == 3  # the open one and the two that took place, once


@pytest.mark.parametrize("oss_connect_settings", [ARCHIVE_DEMO], ids=["demo_data+archive"])
def test_without_ffmpeg_the_demo_says_so_and_books_no_past_conversation(app, instance):
    from core.models import Conversation

    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSS_CONNECT")}
    environment.update(IMAGEIO_FFMPEG_EXE=str(instance / "no-ffmpeg-here"), PATH=str(instance))  # no ffmpeg at all
    result = subprocess.run([OSS_CONNECT, "demo-data", "--config", str(instance / "oss-connect.yaml")],
                            capture_output=True, text=True, cwd=instance, env=environment, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "the demo's past conversations were not made: ffmpeg could not make the demo audio" in result.stderr
    assert "Traceback" not in result.stderr
    with database.connection_context():
        assert Conversation.select().count() == 1  # only the open one

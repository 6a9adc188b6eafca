"""demo_data: demo accounts for trying an instance, a conversation open now, two that took place (one
public and archived, one waiting for its participants' choices), and a note on the sign-in page.

Enable it with `oss-connect init --demo` (or `make run DEMO=1`); never in production.
"""

from __future__ import annotations

from typing import Any

import click

from core.api import (
    Field,
    Markup,
    Section,
    active_questionnaire,
    book_conversation,
    cli_app,
    create_user,
    current_answers,
    database,
    escape,
    field_name,
    give_consent,
    hookimpl,
    platform,
    plugin_settings,
    read_step,
    save_answers,
    utcnow,
    visibility_field,
)
from plugins.demo_data.archive import DemoArchiveError, create_archive_demos
from plugins.demo_data.profiles import demo_answers

PUBLIC_PROFILES = (3, 4)  # the participants of the demo's public conversation (plugins/demo_data/archive.py)


class DemoSettings(Section):
    """Settings under `plugins: demo_data:`."""

    participants: int = Field(12, ge=1, le=500, description="How many demo participants to create.")
    password: str = Field("conversation", min_length=10, max_length=128,
                          description="The password of every demo account.")
    email_domain: str = Field("demo.example.org", pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$",
                              description="Demo addresses are participantN@DOMAIN and admin@DOMAIN.")


@hookimpl
def register_config_schema() -> type[DemoSettings]:
    """demo_data's settings."""
    return DemoSettings


@hookimpl
def register_cli_commands(cli: Any) -> None:
    """Add `oss-connect demo-data`."""

    @cli.command("demo-data")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help="The instance config.")
    @click.pass_context
    def demo_data(ctx: click.Context, config_path: str | None) -> None:
        """Create the demo admin and participants (idempotent)."""
        app = cli_app(ctx, config_path)
        with app.app_context(), database.connection_context():
            settings = plugin_settings("demo_data")
            addresses = create_demo_accounts(settings)
            booked = book_demo_conversation(settings) if settings.participants >= 2 else None
            try:
                archived = create_archive_demos(settings.email_domain) if settings.participants >= 6 else []
            except DemoArchiveError as error:
                archived = []
                click.echo(f"the demo's past conversations were not made: {error}", err=True)
        click.echo(f"demo accounts ({len(addresses)}), password '{settings.password}': "
                   f"{addresses[0]}, {addresses[1]} ... {addresses[-1]}")
        if booked is not None:
            click.echo(f"a demo conversation of participant1 and participant2 is open now: sign in as each (two "
                       f"browsers) and open /conversations/{booked}/room")
        for line in archived:
            click.echo(f"a demo {line}")


def create_demo_accounts(settings: DemoSettings) -> list[str]:
    """One admin and `participants` verified participants with complete, varied profiles.

    Existing accounts are left alone; a participant without answers gets them.
    """
    addresses = [f"admin@{settings.email_domain}"]
    questionnaire = active_questionnaire()
    with database.atomic():
        create_user(addresses[0], settings.password, role="admin")
        for number in range(1, settings.participants + 1):
            address = f"participant{number}@{settings.email_domain}"
            user = create_user(address, settings.password)
            if questionnaire is not None:
                fill_profile(user, questionnaire, number)
            addresses.append(address)
    return addresses


def book_demo_conversation(settings: DemoSettings) -> int:
    """A conversation of participant1 and participant2 whose room is open now (booked anew when needed)."""
    import datetime as dt

    from core.api import User, room_role

    first = User.by_email(f"participant1@{settings.email_domain}")
    second = User.by_email(f"participant2@{settings.email_domain}")
    scheduling = platform().settings.scheduling
    for conversation_id in demo_conversation_ids(first.id, second.id):
        if room_role(first.id, conversation_id) is not None:
            return conversation_id
    starts = utcnow() + dt.timedelta(minutes=min(5, scheduling.early_entry_minutes))
    return book_conversation(first.id, second.id, starts, source="demo").id


def demo_conversation_ids(a_id: int, b_id: int) -> list[int]:
    """The booked conversations of the two demo participants, newest first."""
    from core.api import conversations_of

    return [c.id for c in conversations_of(a_id) if {c.a_id, c.b_id} == {a_id, b_id}]


def fill_profile(user: Any, questionnaire: Any, number: int) -> None:
    """Consent and answer the questionnaire for a demo participant who has not answered yet."""
    from werkzeug.datastructures import MultiDict

    if current_answers(user.id, questionnaire.id):
        return
    notice = platform().settings.program.privacy_notice
    give_consent(user, notice.version, notice.text)
    form = MultiDict()
    for name, value in demo_answers(questionnaire, number, field_name).items():
        for item in value if isinstance(value, list) else [value]:
            form.add(name, item)
    if number in PUBLIC_PROFILES:  # their conversation is on the listening pages: show who is talking
        for question in questionnaire.questions():
            if question.role in ("first_name", "bio"):
                form[visibility_field(question)] = "public"
    result = read_step(questionnaire, questionnaire.questions(), form, allow_missing=True)
    save_answers(user, questionnaire, result.values, source="demo")


@hookimpl
def render_slot(slot: str) -> Markup | None:
    """On the sign-in page, say that this is a demo and how to sign in."""
    if slot != "login_aside":
        return None
    settings = plugin_settings("demo_data")
    return Markup(
        '<aside class="panel" aria-labelledby="demo-note"><h2 id="demo-note">This is a demo</h2>'
        "<p>Sign in as <code>participant1@{domain}</code> (up to participant{count}) or "
        "<code>admin@{domain}</code>, password <code>{password}</code>.</p>"
        "<p>On a real instance, admins and facilitators must set up a second factor (an authenticator app or a "
        "passkey) when they first sign in; the demo does not ask for it, so you can look around at once. Try it "
        "on your account's security page.</p></aside>"
    ).format(domain=escape(settings.email_domain), count=settings.participants,
             password=escape(settings.password))

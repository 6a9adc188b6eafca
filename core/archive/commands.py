"""`oss-connect deposit` and `oss-connect package`: the archive's work from the command line, with progress."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from core.cli import _fail, app_or_exit, cli, config_option


def _progress_bar(label: str) -> tuple[click.progressbar, object]:
    """A progress bar and the (fraction, label) callback that advances it."""
    bar = click.progressbar(length=1000, label=label, show_percent=True, file=sys.stderr)
    done = 0

    def advance(fraction: float, step: str) -> None:
        nonlocal done
        target = int(min(1.0, max(0.0, fraction)) * 1000)
        if target > done:
            bar.update(target - done)
            done = target

    return bar, advance


@cli.command("deposit")
@config_option
@click.argument("conversation_ids", nargs=-1, type=int)
@click.option("--due", is_flag=True, help="Do every conversation's due deposit work (new, retried, abandoned).")
@click.pass_context
def deposit_command(ctx: click.Context, config_path: str | None, conversation_ids: tuple[int, ...], due: bool) -> None:
    """Deposit (or withdraw) conversations' packages now, with a progress bar.

    The worker does this by itself; use it to watch a deposit, or to finish one whose process died.
    Exit code 1 when a deposit failed (the reason is printed and shown on /admin/archive).
    """
    from core.archive.deposits import deposit_conversation, due_conversation_ids, plan_unplanned, status_label
    from core.db import database
    from core.models.archive import Deposit

    if not conversation_ids and not due:
        _fail(click.UsageError("name the conversations (their numbers are on /admin/archive), or pass --due"))
    app = app_or_exit(ctx, config_path)
    failed = 0
    with app.app_context(), database.connection_context():
        plan_unplanned()  # a destination enabled since the participants agreed gets its rows
        ids = list(dict.fromkeys(list(conversation_ids) + (due_conversation_ids() if due else [])))
        if not ids:
            click.echo("no deposit work is due")
        for conversation_id in ids:
            bar, advance = _progress_bar(f"conversation {conversation_id}")
            with bar:
                outcomes = deposit_conversation(conversation_id, listener=advance)
            if not outcomes:
                click.echo(f"conversation {conversation_id}: nothing is due (or another worker holds it)")
            for row in Deposit.select().where(Deposit.conversation == conversation_id).order_by(Deposit.destination):
                line = f"conversation {conversation_id} → {row.destination}: {status_label(row)}"
                if row.status == "failed":
                    failed += 1
                    click.echo(f"{line}: {row.error}", err=True)
                elif row.destination in outcomes:
                    click.echo(line)
    sys.exit(1 if failed else 0)


@cli.command("package")
@config_option
@click.argument("conversation_id", type=int)
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="A folder to create; the bag is written into it.")
@click.pass_context
def package_command(ctx: click.Context, config_path: str | None, conversation_id: int, out: str) -> None:
    """Build one conversation's BagIt bag into a folder (to inspect it, or to hand it over yourself)."""
    from core.archive.bag import BagBuildError, build_bag, processes_for
    from core.archive.gather import NotReadyError, gather
    from core.db import database
    from core.models import Conversation

    target = Path(out)
    if target.exists() and any(target.iterdir()):
        _fail(click.UsageError(f"{target} exists and is not empty; name a new folder"))
    app = app_or_exit(ctx, config_path)
    with app.app_context(), database.connection_context():
        conversation = Conversation.get_or_none(Conversation.id == conversation_id)
        if conversation is None:
            _fail(click.UsageError(f"there is no conversation {conversation_id}"))
        work = target.parent / f".{target.name}.input"
        try:
            source = gather(conversation, work)
            bar, advance = _progress_bar(f"bagging conversation {conversation_id}")
            with bar:
                package = build_bag(source, target, progress=advance, processes=processes_for(source))
        except NotReadyError as error:
            _fail(click.UsageError(f"conversation {conversation_id} cannot be packaged yet: {error}"))
        except BagBuildError as error:
            _fail(click.UsageError(f"conversation {conversation_id} cannot be packaged: {error}"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    click.echo(f"{package.path}: {package.identifier}, {len(package.files)} files, {package.size} bytes, "
               f"Payload-Oxum {package.payload_oxum}, checksum {package.checksum}")

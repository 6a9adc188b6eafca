"""The deposit pipeline: one small state machine per (conversation, destination).

A `Deposit` row says where a conversation's package should be (`wanted`: deposited, or withdrawn)
and how far the work got (`status`: pending, running, deposited, failed, withdrawn). `plan()` sets
the target from the participants' consent and the approved description; the job
`deposit_conversation` claims the due rows under a lease, builds the BagIt bag once, and calls each
destination. Deposits are idempotent by (package checksum, destination): a row that already holds
the package with the same checksum is not sent again, and destinations themselves must keep one copy
when called twice (a worker killed between the destination's work and the row's update). Failures
are retried with a doubling wait (`archive.retry`), unless the destination says retrying cannot help.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.archive.consent import agreed_conversation_ids, both_agree
from core.archive.descriptions import approved_proposal
from core.archive.types import ArchivePackage, DepositError, WithdrawalResult
from core.db import database, utcnow
from core.leases import lease_is_free, lease_owner
from core.models import Conversation
from core.models.archive import Deposit, DescriptionProposal
from core.models.recording import Recording
from core.platform import platform

log = logging.getLogger(__name__)

DEPOSIT_JOB = "deposit_conversation"
DEPOSIT_SWEEP_JOB = "deposit_sweep"
FIXITY_JOB = "check_deposits"
LEASE = dt.timedelta(minutes=30)
FIXITY_EVERY = dt.timedelta(days=7)
Progress = Callable[[float, str], None]

STATUS_LABELS = {
    ("pending", True): "Waiting to be deposited",
    ("running", True): "Depositing",
    ("deposited", True): "Deposited",
    ("failed", True): "Deposit failed",
    ("pending", False): "Waiting to be withdrawn",
    ("running", False): "Withdrawing",
    ("failed", False): "Withdrawal failed",
    ("withdrawn", False): "Withdrawn",
    ("withdrawn", True): "Withdrawn",
    ("deposited", False): "Deposited (withdrawal waiting)",
}


def register_archive_jobs(jobs: Any) -> None:
    """The deposit job, the sweep that starts due and retried deposits, and the weekly fixity check."""
    from huey import crontab

    jobs.task(DEPOSIT_JOB, retries=0)(deposit_conversation)
    jobs.periodic(DEPOSIT_SWEEP_JOB, crontab(minute="*"))(deposit_sweep)
    jobs.periodic(FIXITY_JOB, crontab(minute="17", hour="3"))(check_deposits)


def destinations() -> dict[str, Any]:
    """The registered archive destinations by name."""
    return dict(platform().providers.get("archive_destination", {}))


def status_label(deposit: Deposit) -> str:
    """The deposit's state in words, for admins."""
    return STATUS_LABELS.get((deposit.status, deposit.wanted), deposit.status)


def is_ready(conversation: Conversation) -> bool:
    """The recording is processed and both participants approved a description."""
    recording = Recording.get_or_none(Recording.conversation == conversation.id)
    return recording is not None and recording.status == "processed" and approved_proposal(conversation) is not None


# --- planning ------------------------------------------------------------------------------------

def plan(conversation: Conversation) -> bool:
    """Bring the conversation's deposits and publication in line with its consent and description.

    Call after every change of a participant's choices, an approved description, or a finished
    recording. Withdrawn public consent takes the conversation off the site in this very call; every
    other change is done by the deposit job, queued here. Returns True when a job was queued.
    """
    if not both_agree(conversation, "public"):
        from core.archive.publication import unpublish

        unpublish(conversation.id)
    ready = is_ready(conversation)
    now = utcnow()
    queue = False
    with database.atomic():
        for name, destination in destinations().items():
            want = ready and both_agree(conversation, destination.consent)
            row = Deposit.get_or_none((Deposit.conversation == conversation.id) & (Deposit.destination == name))
            if row is None:
                if want:
                    Deposit.create(conversation=conversation.id, destination=name, status="pending", wanted=True)
                    queue = True
                continue
            if row.held:
                continue
            queue = _retarget(row, want, now) or queue
    if queue:
        platform().jobs.enqueue(DEPOSIT_JOB, conversation.id)
    return queue


def plan_unplanned(limit: int = 200) -> list[int]:
    """Plan the conversations that a registered destination has no row for although both participants
    agreed and the description is approved: those agreed before the destination was enabled (a new
    institution, a plugin installed later). Run by the sweep; returns the ids planned."""
    described = DescriptionProposal.select(DescriptionProposal.conversation).where(
        DescriptionProposal.status == "approved")
    found: set[int] = set()
    for name, destination in destinations().items():
        has_row = Deposit.select(Deposit.conversation).where(Deposit.destination == name)
        query = (Recording.select(Recording.conversation)
                 .where((Recording.status == "processed") & Recording.conversation.in_(described)
                        & Recording.conversation.in_(agreed_conversation_ids(destination.consent))
                        & Recording.conversation.not_in(has_row))
                 .limit(limit))
        found.update(row.conversation_id for row in query)
    for conversation_id in sorted(found):
        plan(Conversation.get_by_id(conversation_id))
    return sorted(found)


def _retarget(row: Deposit, want: bool, now: dt.datetime) -> bool:
    """Point one row at its new target; True when the job has work to do for it."""
    if row.status == "running":
        if row.wanted != want:
            Deposit.update(wanted=want, updated_at=now).where(Deposit.id == row.id).execute()
        return False                      # the worker that holds it looks at `wanted` when it is done
    if want:
        # Deposited rows go again too: a changed choice or description makes a new package, and an
        # unchanged one is recognised by its checksum without calling the destination.
        Deposit.update(wanted=True, status="pending", attempts=0, next_attempt_at=None, error=None,
                       updated_at=now).where(Deposit.id == row.id).execute()
        return True
    if not row.wanted and row.status in ("withdrawn", "pending", "failed"):
        return row.status != "withdrawn"
    if row.receipt is None:
        Deposit.update(wanted=False, status="withdrawn", withdrawn_at=now, error=None, next_attempt_at=None,
                       updated_at=now).where(Deposit.id == row.id).execute()
        return False
    Deposit.update(wanted=False, status="pending", attempts=0, next_attempt_at=None, error=None,
                   updated_at=now).where(Deposit.id == row.id).execute()
    return True


# --- the job -------------------------------------------------------------------------------------

def due_condition(now: dt.datetime) -> Any:
    """Rows a worker should pick up now (running rows are checked for a free lease separately)."""
    return (((Deposit.status == "pending") & (Deposit.next_attempt_at.is_null() | (Deposit.next_attempt_at <= now)))
            | ((Deposit.status == "failed") & Deposit.next_attempt_at.is_null(False) & (Deposit.next_attempt_at <= now))
            | (Deposit.status == "running"))


def claim(conversation_id: int, *, destination: str | None = None) -> list[Deposit]:
    """Take the lease on every due row of the conversation; rows another live worker holds are left."""
    now = utcnow()
    owner = lease_owner()
    query = Deposit.select().where((Deposit.conversation == conversation_id) & due_condition(now))
    if destination is not None:
        query = query.where(Deposit.destination == destination)
    claimed = []
    for row in query.order_by(Deposit.id):
        if row.status == "running" and not lease_is_free(row.lease_owner, row.lease_until, now):
            continue
        holder = Deposit.lease_owner.is_null() if row.lease_owner is None else Deposit.lease_owner == row.lease_owner
        taken = (Deposit.update(status="running", lease_owner=owner, lease_until=now + LEASE, progress=0.0,
                                progress_label="Starting", updated_at=now)
                 .where((Deposit.id == row.id) & (Deposit.status == row.status) & holder).execute())
        if taken:
            claimed.append(Deposit.get_by_id(row.id))
    return claimed


class Reporter:
    """Writes a step's progress to the rows being worked on (at most twice a second), renewing their lease."""

    def __init__(self, row_ids: list[int], owner: str, listener: Progress | None = None):
        self.row_ids = row_ids
        self.owner = owner
        self.listener = listener
        self.last_write = 0.0
        self.lock = threading.Lock()

    def __call__(self, fraction: float, label: str, *, force: bool = False) -> None:
        """Report `fraction` (0..1) of the current step, doing `label`."""
        fraction = min(1.0, max(0.0, fraction))
        if self.listener:
            self.listener(fraction, label)
        with self.lock:
            if not force and time.monotonic() - self.last_write < 0.5:
                return
            self.last_write = time.monotonic()
        Deposit.update(progress=fraction, progress_label=label[:200], lease_until=utcnow() + LEASE).where(
            Deposit.id.in_(self.row_ids) & (Deposit.lease_owner == self.owner)).execute()

    def only(self, row_id: int) -> Reporter:
        """A reporter for one of the rows."""
        return Reporter([row_id], self.owner, self.listener)


def deposit_conversation(conversation_id: int, *, destination: str | None = None,
                         listener: Progress | None = None) -> dict[str, str]:
    """Do the due deposit work of one conversation; returns each destination's new state in words."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        return {}
    rows = claim(conversation_id, destination=destination)
    if not rows:
        return {}
    owner = rows[0].lease_owner
    report = Reporter([row.id for row in rows], owner, listener)
    worker = lease_owner().replace(":", "-")
    work = Path(platform().config.instance_file("work")) / f"deposit-{conversation_id}-{worker}"
    shutil.rmtree(work, ignore_errors=True)
    built: dict[str, ArchivePackage] = {}

    def package() -> ArchivePackage:
        if "package" not in built:
            built["package"] = build_package(conversation, work, report)
        return built["package"]

    outcomes: dict[str, str] = {}
    try:
        for row in rows:
            outcomes[row.destination] = _work_on(conversation, row, package, report.only(row.id))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    again = [row for row in Deposit.select().where(Deposit.id.in_([row.id for row in rows]))
             if row.status == "pending"]
    if again:
        platform().jobs.enqueue(DEPOSIT_JOB, conversation_id)
    return outcomes


def build_package(conversation: Conversation, work: Path, report: Reporter) -> ArchivePackage:
    """Gather the conversation's package inputs and make its BagIt bag in `work`."""
    from core.archive.bag import build_bag
    from core.archive.gather import gather

    report(0.0, "Gathering the recording and its description", force=True)
    source = gather(conversation, work / "input")
    bag = build_bag(source, work / "bag", progress=lambda fraction, label: report(fraction, label))
    bag.conversation_id = conversation.id
    return bag


def _work_on(conversation: Conversation, row: Deposit, package: Callable[[], ArchivePackage],
             report: Reporter) -> str:
    """Deposit or withdraw one row, recording the outcome; never raises for a destination's failure."""
    from core.archive.bag import BagBuildError
    from core.archive.gather import NotReadyError

    destination = destinations().get(row.destination)
    if destination is None:
        return _fail(row, f"The archive destination “{row.destination}” is not enabled any more: enable its "
                          "plugin again under plugins: in the config, or withdraw this deposit.", retry=False)
    try:
        if row.wanted:
            return _deposit(conversation, row, destination, package(), report)
        return _withdraw(row, destination)
    except NotReadyError as error:
        return _fail(row, f"{error} The deposit waits until it is ready.", retry=False)
    except BagBuildError as error:
        return _fail(row, f"The package could not be made: {error}", retry=True)
    except DepositError as error:
        return _fail(row, str(error), retry=error.retry)
    except Exception as error:  # a plugin's bug, or the blob store or disk: kept, shown, and retried
        log.exception("archive destination %s failed on conversation %s", row.destination, conversation.id)
        return _fail(row, f"The destination “{row.destination}” failed unexpectedly ({type(error).__name__}: "
                          f"{error}). It is tried again; if it keeps failing, tell the plugin's authors.", retry=True)


def _deposit(conversation: Conversation, row: Deposit, destination: Any, package: ArchivePackage,
             report: Reporter) -> str:
    if row.receipt is not None and row.package_sha256 == package.checksum:
        _settle(row, "deposited", {})     # this very package is there already: idempotent by checksum
        return "deposited (unchanged)"
    report(0.0, f"Depositing at {destination.institution}", force=True)
    package.progress = lambda fraction, label: report(fraction, label)
    receipt = destination.deposit(package)
    try:
        receipt_text = json.dumps(receipt, sort_keys=True, default=str)
    except (TypeError, ValueError) as error:
        raise DepositError(f"The destination returned a receipt that is not JSON ({error}); the plugin must "
                           "return a dict of plain values.", retry=False) from None
    now = utcnow()
    _settle(row, "deposited", {"receipt": receipt_text, "package_sha256": package.checksum,
                               "package_size": package.size, "deposited_at": now, "withdrawn_at": None,
                               "by_hand": None, "check_ok": None, "checked_at": None})
    platform().hook.item_archived(conversation=conversation, destination=row.destination, receipt=receipt)
    return "deposited"


def _withdraw(row: Deposit, destination: Any) -> str:
    if row.receipt is None:
        _settle(row, "withdrawn", {"withdrawn_at": utcnow()})
        return "withdrawn"
    result = destination.withdraw(json.loads(row.receipt))
    if not isinstance(result, WithdrawalResult):
        raise DepositError(f"withdraw() returned {type(result).__name__}; the plugin must return a "
                           "WithdrawalResult(removed, message).", retry=False)
    _settle(row, "withdrawn", {"withdrawn_at": utcnow(), "package_sha256": None,
                               "by_hand": None if result.removed else (result.message or "Tell them by hand."),
                               "told_at": None, "told_by": None})
    return "withdrawn" + ("" if result.removed else " (tell the institution by hand)")


def _settle(row: Deposit, status: str, fields: dict[str, Any]) -> None:
    """Record an outcome; if the target changed while the worker was busy, the row goes round again."""
    now = utcnow()
    with database.atomic():
        wanted = Deposit.select(Deposit.wanted).where(Deposit.id == row.id).scalar()
        done_target = status == "deposited"
        final = status if wanted == done_target else "pending"
        Deposit.update(status=final, lease_owner=None, lease_until=None, error=None, next_attempt_at=None,
                       attempts=0, progress=1.0, progress_label="Done", updated_at=now, **fields).where(
            (Deposit.id == row.id) & (Deposit.lease_owner == row.lease_owner)).execute()


def _fail(row: Deposit, message: str, *, retry: bool) -> str:
    """Record a failure; schedule the next try with a doubling wait while tries are left."""
    settings = platform().settings.archive.retry
    attempts = row.attempts + 1
    now = utcnow()
    next_at = None
    if retry and attempts < settings.max_attempts:
        wait = min(settings.first_delay_seconds * 2 ** (attempts - 1), settings.max_delay_minutes * 60)
        next_at = now + dt.timedelta(seconds=wait)
    Deposit.update(status="failed", error=message[:4000], attempts=attempts, next_attempt_at=next_at,
                   lease_owner=None, lease_until=None, updated_at=now).where(
        (Deposit.id == row.id) & (Deposit.lease_owner == row.lease_owner)).execute()
    return "failed"


# --- periodic work -------------------------------------------------------------------------------

def due_conversation_ids(now: dt.datetime | None = None) -> list[int]:
    """Conversations with deposit work due now (pending, retries whose time came, abandoned runs)."""
    now = now or utcnow()
    due = set()
    for row in Deposit.select(Deposit.conversation, Deposit.status, Deposit.lease_owner, Deposit.lease_until).where(
            due_condition(now)):
        if row.status != "running" or lease_is_free(row.lease_owner, row.lease_until, now):
            due.add(row.conversation_id)
    return sorted(due)


def deposit_sweep() -> int:
    """Plan what a newly enabled destination should receive, then queue the deposit job of each
    conversation with due work; returns how many conversations have work."""
    planned = set(plan_unplanned())  # plan() queued their jobs
    ids = due_conversation_ids()
    for conversation_id in ids:
        if conversation_id not in planned:
            platform().jobs.enqueue(DEPOSIT_JOB, conversation_id)
    return len(planned | set(ids))


def check_deposits(limit: int = 50) -> int:
    """Fixity: ask each destination whether its deposits are intact, the oldest checks first."""
    from core.archive.types import CheckResult

    now = utcnow()
    rows = (Deposit.select().where((Deposit.status == "deposited") & Deposit.wanted
                                   & (Deposit.checked_at.is_null() | (Deposit.checked_at < now - FIXITY_EVERY)))
            .order_by(Deposit.checked_at.asc(nulls="first"), Deposit.id).limit(limit))
    checked = 0
    for row in rows:
        destination = destinations().get(row.destination)
        if destination is None or row.receipt is None:
            continue
        try:
            result = destination.check(json.loads(row.receipt))
            ok, message = (result.ok, result.message) if isinstance(result, CheckResult) else (
                False, f"check() returned {type(result).__name__}, not a CheckResult")
        except Exception as error:  # a failed check is a finding, not a crash
            ok, message = False, f"{type(error).__name__}: {error}"
        Deposit.update(checked_at=utcnow(), check_ok=ok, error=None if ok else f"Fixity check: {message}"[:4000]).where(
            Deposit.id == row.id).execute()
        checked += 1
    return checked


# --- admin actions -------------------------------------------------------------------------------

def retry(row: Deposit) -> None:
    """An admin asks for the failed or waiting work to be done now."""
    Deposit.update(status="pending", attempts=0, next_attempt_at=None, error=None, updated_at=utcnow()).where(
        (Deposit.id == row.id) & (Deposit.status != "running")).execute()
    platform().jobs.enqueue(DEPOSIT_JOB, row.conversation_id)


def withdraw_by_admin(row: Deposit) -> None:
    """An admin withdraws a deposit; it stays withdrawn (held) until an admin releases it."""
    now = utcnow()
    if row.receipt is None and row.status != "running":
        Deposit.update(held=True, wanted=False, status="withdrawn", withdrawn_at=now, next_attempt_at=None,
                       error=None, updated_at=now).where(Deposit.id == row.id).execute()
        return
    fields: dict[str, Any] = {"held": True, "wanted": False, "updated_at": now}
    if row.status != "running":
        fields.update(status="pending", attempts=0, next_attempt_at=None, error=None)
    Deposit.update(**fields).where(Deposit.id == row.id).execute()
    platform().jobs.enqueue(DEPOSIT_JOB, row.conversation_id)


def release(row: Deposit) -> bool:
    """An admin lets the participants' consent decide again; True when work was queued."""
    Deposit.update(held=False, updated_at=utcnow()).where(Deposit.id == row.id).execute()
    return plan(Conversation.get_by_id(row.conversation_id))


def mark_told(row: Deposit, admin_id: int) -> None:
    """An admin records that the institution was told of a withdrawal by hand."""
    Deposit.update(told_at=utcnow(), told_by=admin_id).where(Deposit.id == row.id).execute()


def recording_processed(conversation_id: int) -> None:
    """After processing: invite both participants to choose, and deposit what they already agreed."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        return
    try:
        from core.archive.notices import send_choices_invitation

        send_choices_invitation(conversation)
    except Exception:  # an email problem must not stop the archive
        log.exception("could not send the choices invitation of conversation %s", conversation_id)
    plan(conversation)

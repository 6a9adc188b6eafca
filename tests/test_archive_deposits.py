"""The deposit pipeline: consent decides, the description gates, one package per change, deposits
idempotent by checksum, retried with back-off, withdrawable, and shown to admins."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import plugins.archive_site
from core.db import database, utcnow
from tests.archive_fakes import ShelfPlugin
from tests.archive_helpers import DESCRIPTION, choose, describe, processed
from tests.room_fakes import ROOM_SETTINGS, booked, people, room_plugins

pytestmark = pytest.mark.database


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {**ROOM_SETTINGS, "archive": {"retry": {"max_attempts": 4, "first_delay_seconds": 60,
                                                   "max_delay_minutes": 3}}}


@pytest.fixture
def oss_connect_plugins(tmp_path: Path) -> dict[str, Any]:
    return {**room_plugins(), "shelf": ShelfPlugin(tmp_path / "shelf"), "archive_site": plugins.archive_site}


@pytest.fixture
def shelf(oss_connect_plugins: dict[str, Any]) -> Any:
    return oss_connect_plugins["shelf"].destination


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    return people(app, make_user)


@pytest.fixture
def recorded(app, cast) -> Any:
    conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=80)
    processed(app, conversation)
    return conversation


def rows(app: Any) -> dict[str, Any]:
    from core.models.archive import Deposit

    with app.app_context(), database.connection_context():
        return {row.destination: row for row in Deposit.select()}


def publication(app: Any, conversation: Any) -> Any:
    from core.models.archive import Publication

    with app.app_context(), database.connection_context():
        return Publication.get_or_none(Publication.conversation == conversation.id)


def plan(app: Any, conversation: Any) -> bool:
    from core.archive.deposits import plan as plan_now
    from core.models import Conversation

    with app.app_context(), database.connection_context():
        return plan_now(Conversation.get_by_id(conversation.id))


def agree(app: Any, conversation: Any, cast: dict[str, Any], **flags: bool) -> None:
    """Both participants make the same choices, then the pipeline plans."""
    choose(app, conversation, cast["ann"], **flags)
    choose(app, conversation, cast["ben"], **flags)
    plan(app, conversation)


def sweep(app: Any) -> int:
    from core.archive.deposits import deposit_sweep

    with app.app_context(), database.connection_context():
        return deposit_sweep()


def move_next_attempt_back(app: Any) -> None:
    from core.models.archive import Deposit

    with app.app_context(), database.connection_context():
        Deposit.update(next_attempt_at=utcnow() - dt.timedelta(seconds=1)).where(
            Deposit.next_attempt_at.is_null(False)).execute()


def record_in_bag(shelf: Any) -> dict[str, Any]:
    """The JSON record inside the newest bag on the shelf."""
    package = shelf.packages[-1]
    path = Path(shelf.folder, package.identifier, "data", "metadata", "record.json")
    return json.loads(path.read_text(encoding="utf-8"))


def signed_in(app: Any, login: Any, email: str) -> Any:
    client = app.test_client()
    login(email, test_client=client)
    return client


def form_token(client: Any, url: str) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(client.get(url).get_data(as_text=True))


# --- what consent and the description decide ----------------------------------------------------

def test_nothing_leaves_before_a_description_is_approved(app, cast, recorded, shelf):
    agree(app, recorded, cast, deposit=True, public=True)
    assert rows(app) == {} and shelf.deposits == [] and publication(app, recorded) is None
    describe(app, recorded, cast["ben"], cast["ann"])
    plan(app, recorded)
    found = rows(app)
    assert {name: row.status for name, row in found.items()} == {"shelf": "deposited", "site": "deposited"}
    assert len(shelf.deposits) == 1 and found["shelf"].package_sha256 == shelf.deposits[0]
    assert publication(app, recorded) is not None


PATTERNS = {"both": (True, True), "one": (True, False), "neither": (False, False)}


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("purpose", ["public", "deposit", "broadcast"])
def test_the_consent_matrix(app, client, cast, recorded, shelf, purpose, pattern):
    describe(app, recorded, cast["ann"], cast["ben"])
    ann_says, ben_says = PATTERNS[pattern]
    both = ann_says and ben_says
    observe_bag = purpose == "broadcast"      # broadcast use has no destination: it is written in the bag
    choose(app, recorded, cast["ann"], **{purpose: ann_says}, **({"deposit": True} if observe_bag else {}))
    choose(app, recorded, cast["ben"], **{purpose: ben_says}, **({"deposit": True} if observe_bag else {}))
    plan(app, recorded)
    found = rows(app)
    if purpose == "public":
        assert (publication(app, recorded) is not None) is both
        assert ("site" in found and found["site"].status == "deposited") is both
        assert (DESCRIPTION["title"] in client.get("/listen").get_data(as_text=True)) is both
        assert "shelf" not in found and shelf.deposits == [], "public consent alone deposits nothing"
    elif purpose == "deposit":
        assert (len(shelf.deposits) == 1) is both
        assert ("shelf" in found and found["shelf"].status == "deposited") is both
        assert publication(app, recorded) is None, "deposit consent alone publishes nothing"
    else:
        assert len(shelf.deposits) == 1
        record = record_in_bag(shelf)
        assert record["consent"]["broadcast"] is both
        assert [item["broadcast"] for item in record["consent"]["records"]] == [ann_says, ben_says]
        assert publication(app, recorded) is None


def test_the_bag_holds_every_decision_with_its_release(app, cast, recorded, shelf):
    from core.archive.consent import release_sha256

    describe(app, recorded, cast["ann"], cast["ben"])
    choose(app, recorded, cast["ann"], deposit=True, public=True)
    choose(app, recorded, cast["ann"], deposit=True)          # Ann changes her mind about public
    choose(app, recorded, cast["ben"], deposit=True, broadcast=True)
    plan(app, recorded)
    record = record_in_bag(shelf)
    with app.app_context():
        release = app.extensions["oss_connect"].settings.archive.release
    assert [(item["participant"], item["public"]) for item in record["consent"]["records"]] == [
        ("Participant A", True), ("Participant A", False), ("Participant B", False)]
    assert {item["release_sha256"] for item in record["consent"]["records"]} == {release_sha256(release.text)}
    assert "ann@example.org" not in json.dumps(record) and "ben@example.org" not in json.dumps(record)
    assert record["extra"]["partner_programme"] == "Shelf test programme", "before_archive's metadata"


# --- idempotence, retries, failures --------------------------------------------------------------

def test_the_same_package_is_never_sent_twice(app, cast, recorded, shelf):
    from core.archive.deposits import deposit_conversation

    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, deposit=True)
    first = rows(app)["shelf"].package_sha256
    plan(app, recorded)                     # nothing changed: the rebuilt bag has the same checksum
    with app.app_context(), database.connection_context():
        assert deposit_conversation(recorded.id) == {}, "nothing is due"
    assert shelf.deposits == [first] and rows(app)["shelf"].status == "deposited"
    describe(app, recorded, cast["ben"], cast["ann"], title="A new title for the same conversation")
    plan(app, recorded)
    assert len(shelf.deposits) == 2 and shelf.deposits[1] != first, "a new description is a new package"
    assert rows(app)["shelf"].package_sha256 == shelf.deposits[1]


def test_failures_are_retried_with_doubling_waits_then_succeed(app, cast, recorded, shelf):
    from core.api import DepositError

    describe(app, recorded, cast["ann"], cast["ben"])
    shelf.failures = [DepositError("The shelf is closed for lunch."), DepositError("The shelf is still closed.")]
    before = utcnow()
    agree(app, recorded, cast, deposit=True)
    row = rows(app)["shelf"]
    assert (row.status, row.attempts, row.error) == ("failed", 1, "The shelf is closed for lunch.")
    assert dt.timedelta(seconds=59) <= row.next_attempt_at - before <= dt.timedelta(seconds=70)
    assert sweep(app) == 0, "not due yet"
    move_next_attempt_back(app)
    second_try = utcnow()
    assert sweep(app) == 1
    row = rows(app)["shelf"]
    assert (row.status, row.attempts, row.error) == ("failed", 2, "The shelf is still closed.")
    assert dt.timedelta(seconds=119) <= row.next_attempt_at - second_try <= dt.timedelta(seconds=130)
    move_next_attempt_back(app)
    sweep(app)
    row = rows(app)["shelf"]
    assert (row.status, row.error, row.attempts, row.next_attempt_at) == ("deposited", None, 0, None)
    assert len(shelf.deposits) == 1


def test_waits_stop_growing_and_tries_stop_at_the_limit(app, cast, recorded, shelf):
    from core.api import DepositError

    describe(app, recorded, cast["ann"], cast["ben"])
    shelf.failures = [DepositError(f"failure {n}") for n in range(1, 6)]
    agree(app, recorded, cast, deposit=True)
    waits = []
    for _ in range(3):
        row = rows(app)["shelf"]
        waits.append(round((row.next_attempt_at - row.updated_at).total_seconds()))
        move_next_attempt_back(app)
        sweep(app)
    row = rows(app)["shelf"]
    assert waits == [60, 120, 180], "doubling, capped at archive.retry.max_delay_minutes"
    assert (row.status, row.attempts, row.next_attempt_at, row.error) == ("failed", 4, None, "failure 4")
    assert sweep(app) == 0, "after max_attempts only an admin retries"


def test_a_failure_retrying_cannot_fix_waits_for_an_admin(app, login, cast, recorded, shelf):
    from core.api import DepositError

    describe(app, recorded, cast["ann"], cast["ben"])
    shelf.failures = [DepositError("The shelf refused our key: ask its keeper for a new one.", retry=False)]
    agree(app, recorded, cast, deposit=True)
    row = rows(app)["shelf"]
    assert (row.status, row.next_attempt_at) == ("failed", None)
    assert sweep(app) == 0
    admin = signed_in(app, login, "ada@example.org")
    page = admin.get("/admin/archive").get_data(as_text=True)
    assert "The shelf refused our key: ask its keeper for a new one." in page and "Try again now" in page
    token = form_token(admin, "/admin/archive")
    response = admin.post(f"/admin/archive/deposits/{row.id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert rows(app)["shelf"].status == "deposited" and len(shelf.deposits) == 1


def test_a_plugins_unexpected_exception_is_kept_and_retried(app, cast, recorded, shelf):
    describe(app, recorded, cast["ann"], cast["ben"])
    shelf.failures = [KeyError("bucket")]
    agree(app, recorded, cast, deposit=True)
    row = rows(app)["shelf"]
    assert row.status == "failed" and row.next_attempt_at is not None
    assert "“shelf” failed unexpectedly (KeyError: 'bucket')" in row.error
    move_next_attempt_back(app)
    sweep(app)
    assert rows(app)["shelf"].status == "deposited"


def test_a_destination_no_longer_enabled_is_named(app, cast, recorded):
    from core.archive.deposits import deposit_conversation
    from core.models.archive import Deposit

    with app.app_context(), database.connection_context():
        Deposit.create(conversation=recorded.id, destination="attic", status="pending")
        assert deposit_conversation(recorded.id) == {"attic": "failed"}
    row = rows(app)["attic"]
    assert "“attic” is not enabled any more" in row.error and row.next_attempt_at is None


def test_a_destination_enabled_later_receives_what_was_agreed_before(app, cast, recorded, shelf, make_user):
    """The shelf has no row for a conversation agreed while it was not enabled (as if installed since):
    the next sweep plans and deposits it; one not agreed, and one withdrawn, are left alone."""
    from core.models.archive import Deposit

    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, deposit=True, public=True)
    assert [rows(app)["shelf"].status, len(shelf.deposits)] == ["deposited", 1]
    with app.app_context(), database.connection_context():
        Deposit.delete().where(Deposit.destination == "shelf").execute()
    other = booked(app, cast["cal"], cast["ben"], minutes_ago=200)
    processed(app, other)
    describe(app, other, cast["cal"], cast["ben"])
    choose(app, other, cast["cal"], deposit=True)  # Ben has not agreed: nothing to send

    assert sweep(app) == 1

    assert [rows(app)["shelf"].status, len(shelf.deposits)] == ["deposited", 2]
    with app.app_context(), database.connection_context():
        assert Deposit.select().where(Deposit.conversation == other.id).count() == 0
    assert sweep(app) == 0, "planned once: the row now exists"


# --- withdrawal ---------------------------------------------------------------------------------

def test_withdrawn_public_consent_takes_it_off_the_site_at_once(app, client, cast, recorded):
    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, public=True)
    slug = publication(app, recorded).slug
    assert client.get(f"/listen/{slug}").status_code == 200
    from core.archive.consent import record_choice
    from core.models import Conversation

    with app.app_context(), database.connection_context():
        record_choice(Conversation.get_by_id(recorded.id), cast["ben"].id, deposit=False, public=False,
                      broadcast=False)
        from core.archive.deposits import plan as plan_now

        plan_now(Conversation.get_by_id(recorded.id))
    assert publication(app, recorded) is None
    assert client.get(f"/listen/{slug}").status_code == 404
    assert client.get(f"/listen/{slug}/audio").status_code == 404
    assert slug not in client.get("/listen/feed.xml").get_data(as_text=True)
    assert rows(app)["site"].status == "withdrawn"


def test_withdrawn_deposit_consent_withdraws_and_names_who_to_tell(app, login, cast, recorded, shelf):
    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, deposit=True)
    shelf.removes = False
    choose(app, recorded, cast["ann"], deposit=False)
    plan(app, recorded)
    row = rows(app)["shelf"]
    assert (row.status, row.wanted) == ("withdrawn", False)
    assert len(shelf.withdrawals) == 1 and shelf.withdrawals[0]["checksum"] == shelf.deposits[0]
    assert row.by_hand == "The shelf keeps paper copies: write to the archivist."
    admin = signed_in(app, login, "ada@example.org")
    page = admin.get("/admin/archive").get_data(as_text=True)
    assert "Institutions to tell by hand" in page and "write to the archivist" in page
    assert "The Shelf Archive" in page and shelf.packages[0].identifier in page
    assert "Contact: Pat Archivist, archive@shelf.example." in page
    token = form_token(admin, "/admin/archive")
    admin.post(f"/admin/archive/deposits/{row.id}/told", data={"csrf_token": token})
    assert rows(app)["shelf"].told_at is not None
    assert "Institutions to tell by hand" not in admin.get("/admin/archive").get_data(as_text=True)


def test_an_admins_withdrawal_holds_until_released(app, login, cast, recorded, shelf):
    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, deposit=True)
    admin = signed_in(app, login, "ada@example.org")
    token = form_token(admin, "/admin/archive")
    row = rows(app)["shelf"]
    admin.post(f"/admin/archive/deposits/{row.id}/withdraw", data={"csrf_token": token})
    assert (rows(app)["shelf"].status, rows(app)["shelf"].held) == ("withdrawn", True)
    agree(app, recorded, cast, deposit=True, broadcast=True)     # a change by the participants
    assert rows(app)["shelf"].status == "withdrawn" and len(shelf.deposits) == 1, "held stays withdrawn"
    admin.post(f"/admin/archive/deposits/{row.id}/release", data={"csrf_token": token})
    assert rows(app)["shelf"].status == "deposited" and len(shelf.deposits) == 2


def test_withdrawing_before_anything_was_deposited_calls_nobody(app, cast, recorded, shelf):
    from core.api import DepositError

    describe(app, recorded, cast["ann"], cast["ben"])
    shelf.failures = [DepositError("closed")]
    agree(app, recorded, cast, deposit=True)
    assert rows(app)["shelf"].status == "failed"
    choose(app, recorded, cast["ben"], deposit=False)
    plan(app, recorded)
    assert rows(app)["shelf"].status == "withdrawn" and shelf.withdrawals == [] and shelf.deposits == []


# --- admin page, fixity, the journey's end --------------------------------------------------------

def test_only_admins_see_the_archive_page(app, login, cast, recorded):
    assert app.test_client().get("/admin/archive").status_code == 302
    assert signed_in(app, login, "ann@example.org").get("/admin/archive").status_code == 403
    page = signed_in(app, login, "ada@example.org").get("/admin/archive").get_data(as_text=True)
    assert f"conversation-{recorded.id}" in page and "Not described yet" in page
    assert "ann@example.org" not in page


def test_progress_json_names_the_state(app, login, cast, recorded, shelf):
    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, deposit=True)
    admin = signed_in(app, login, "ada@example.org")
    row = rows(app)["shelf"]
    data = admin.get(f"/admin/archive/deposits/{row.id}/progress.json").get_json()
    assert data == {"ok": True, "id": row.id, "status": "deposited", "status_label": "Deposited",
                    "active": False, "progress": 1.0, "label": "Done", "error": None}
    assert admin.get("/admin/archive/deposits/999999/progress.json").status_code == 404


def test_the_fixity_check_finds_a_lost_copy(app, cast, recorded, shelf):
    import shutil

    from core.archive.deposits import check_deposits

    describe(app, recorded, cast["ann"], cast["ben"])
    agree(app, recorded, cast, deposit=True)
    with app.app_context(), database.connection_context():
        assert check_deposits() == 1
        assert rows(app)["shelf"].check_ok is True
        from core.models.archive import Deposit

        Deposit.update(checked_at=utcnow() - dt.timedelta(days=8)).execute()
        shutil.rmtree(Path(shelf.folder, shelf.packages[0].identifier))
        assert check_deposits() == 1
    row = rows(app)["shelf"]
    assert row.check_ok is False and row.error == "Fixity check: gone from the shelf"


def test_a_processed_recording_invites_both_and_deposits_what_was_agreed(app, cast, recorded, shelf, outbox):
    from core.archive.deposits import recording_processed

    describe(app, recorded, cast["ann"], cast["ben"])
    choose(app, recorded, cast["ann"], deposit=True)
    choose(app, recorded, cast["ben"], deposit=True)
    with app.app_context(), database.connection_context():
        recording_processed(recorded.id)
    assert len(shelf.deposits) == 1
    assert outbox.to("ann@example.org") and outbox.to("ben@example.org")

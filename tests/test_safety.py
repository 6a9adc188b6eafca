"""Safety: blocks hide both ways for good, reports land in the moderation queue, and admins act on them."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest

from core.db import database, utcnow
from tests.conftest import csrf_token_from
from tests.matching_fakes import MATCHING_SETTINGS, LeanPlugin
from tests.profiles import complete_profile


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The default questionnaire (so people have names and complete profiles) and two suggestions each."""
    return {**MATCHING_SETTINGS, "matching": {**MATCHING_SETTINGS["matching"], "suggestions": 2}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    """A small real strategy: the most different lean first."""
    return {"lean": LeanPlugin()}


@contextlib.contextmanager
def services(app: Any) -> Any:
    """A short context for calling services between requests."""
    with app.test_request_context(), database.connection_context():
        yield


@pytest.fixture
def ann(app, make_user) -> Any:
    """A participant with a complete profile."""
    user = make_user("ann@example.org")
    complete_profile(app, user, first_name="Ann", lean="1")
    return user


@pytest.fixture
def bob(app, make_user) -> Any:
    """Another participant with a complete profile, on the other side."""
    user = make_user("bob@example.org")
    complete_profile(app, user, first_name="Bob", lean="7")
    return user


@pytest.fixture
def admin(make_user) -> Any:
    """An admin."""
    return make_user("root@example.org", role="admin")


def invite(inviter: Any, invitee: Any, status: str = "open") -> Any:
    """An invitation row between two people (inside a context)."""
    from core.models import Invitation

    return Invitation.create(inviter=inviter.id, invitee=invitee.id, status=status,
                             expires_at=utcnow() + dt.timedelta(days=3))


def form_post(client: Any, url: str, data: dict[str, str]) -> Any:
    """POST a form with the CSRF token from the page at `url`."""
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def file_report(app: Any, reporter: Any, reported: Any, reason: str = "harassment", details: str = "") -> Any:
    from core import safety

    with services(app):
        return safety.report(reporter, reported, reason, details)


# --- blocks ----------------------------------------------------------------------------------

def test_a_block_is_symmetric(app, ann, bob):
    from core import safety

    with services(app):
        safety.block(ann, bob)

        assert safety.is_blocked_either_way(ann.id, bob.id)
        assert safety.is_blocked_either_way(bob.id, ann.id)
        assert safety.blocked_ids(ann.id) == {bob.id}
        assert safety.blocked_ids(bob.id) == {ann.id}


def test_blocking_twice_is_a_no_op(app, ann, bob):
    from core import safety
    from core.models import Block

    with services(app):
        first = safety.block(ann, bob)
        again = safety.block(ann, bob)

        assert first.id == again.id
        assert Block.select().count() == 1


def test_blocked_people_are_never_suggested_either_way(app, ann, bob):
    from core import safety
    from core.matching.candidates import eligible_candidate_ids

    with services(app):
        assert bob.id in eligible_candidate_ids(ann), "they are suggested before the block"
        safety.block(bob, ann)

        assert bob.id not in eligible_candidate_ids(ann)
        assert ann.id not in eligible_candidate_ids(bob)


def test_a_block_cancels_open_invitations_both_ways_and_tells_nobody(app, ann, bob, outbox):
    from core import safety
    from core.models import Invitation

    with services(app):
        one, other = invite(ann, bob), invite(bob, ann)
        accepted = invite(ann, bob, status="accepted")
        sent_before = len(outbox.messages())

        safety.block(bob, ann)

        assert Invitation.get_by_id(one.id).status == "cancelled"
        assert Invitation.get_by_id(other.id).status == "cancelled"
        assert Invitation.get_by_id(accepted.id).status == "accepted"
    assert len(outbox.messages()) == sent_before, "the blocked person is not told"


def test_blocking_through_the_page_lists_the_person_without_an_undo(app, client, login, ann, bob):
    with services(app):
        invite(bob, ann)
    login("ann@example.org")

    confirm = client.get(f"/people/{bob.id}/block").get_data(as_text=True)
    assert "Bob G." in confirm and "cannot be undone" in confirm
    response = form_post(client, f"/people/{bob.id}/block", {})

    assert response.status_code == 302
    listed = client.get("/people/blocked").get_data(as_text=True)
    assert "Bob G." in listed
    assert "no way to undo it" in listed
    assert "nblock" not in listed


def test_people_never_met_cannot_be_probed(app, client, login, make_user, bob):
    stranger = make_user("stranger@example.org")  # no complete profile: never suggested
    login("bob@example.org")

    for user_id in (stranger.id, 999_999, bob.id):
        assert client.get(f"/people/{user_id}/report").status_code == 404
        assert client.get(f"/people/{user_id}/block").status_code == 404


def test_someone_suggested_may_be_reported(client, login, ann, bob):
    login("ann@example.org")

    assert client.get(f"/people/{bob.id}/report").status_code == 200


def test_someone_eligible_but_not_among_the_suggestions_shown_cannot_be_looked_up(app, client, login, ann, bob,
                                                                                   make_user):
    close = [make_user(f"near{number}@example.org") for number in range(2)]
    for number, user in enumerate(close):
        complete_profile(app, user, first_name=f"Near{number}", lean="6")
    far = make_user("far@example.org")
    complete_profile(app, far, first_name="Farley", lean="2")  # eligible, but ranked below the two shown
    login("ann@example.org")
    assert client.get(f"/people/{bob.id}/report").status_code == 200
    assert client.get(f"/people/{far.id}/report").status_code == 404
    assert client.get(f"/people/{far.id}/block").status_code == 404


# --- reports ---------------------------------------------------------------------------------

def test_a_report_lands_in_the_moderation_queue(app, client, login, ann, bob, admin):
    with services(app):
        invite(bob, ann)
    login("ann@example.org")
    response = form_post(client, f"/people/{bob.id}/report",
                         {"reason": "shared_contact_details", "details": "He asked me to call 555-0100."})
    assert response.status_code == 200
    assert "Thank you for your report" in response.get_data(as_text=True)

    admin_client = app.test_client()
    login("root@example.org", test_client=admin_client)
    queue = admin_client.get("/admin/moderation").get_data(as_text=True)

    assert "Bob G." in queue
    assert "Pushed to move off the platform or shared contact details" in queue
    from core.models import Report

    with services(app):
        report = Report.get()
    detail = admin_client.get(f"/admin/moderation/{report.id}").get_data(as_text=True)
    assert "555-0100" in detail, "admins read the details, contact details included"
    assert "bob@example.org" in detail


def test_a_report_can_block_as_well(app, client, login, ann, bob):
    from core import safety

    with services(app):
        invite(bob, ann)
    login("ann@example.org")
    form_post(client, f"/people/{bob.id}/report", {"reason": "disrespectful", "also_block": "y"})

    with services(app):
        assert safety.is_blocked_either_way(ann.id, bob.id)


@pytest.mark.parametrize(("data", "message"), [
    ({}, "Choose what happened."),
    ({"reason": "made-up"}, "Not a valid choice"),
    ({"reason": "other", "details": "x" * 2001}, "Use at most 2000 characters."),
])
def test_a_bad_report_is_refused_at_its_field(app, client, login, ann, bob, data, message):
    from core.models import Report

    with services(app):
        invite(bob, ann)
    login("ann@example.org")
    response = form_post(client, f"/people/{bob.id}/report", data)

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with services(app):
        assert Report.select().count() == 0


def test_the_queue_shows_open_reports_newest_first_with_counts(app, client, login, ann, bob, admin, make_user):
    cat = make_user("cat@example.org")
    older = file_report(app, ann, bob, "spam_or_scam")
    newer = file_report(app, ann, cat, "no_show")
    login("root@example.org")

    page = client.get("/admin/moderation").get_data(as_text=True)

    assert page.index(f"/admin/moderation/{newer.id}") < page.index(f"/admin/moderation/{older.id}")
    assert "<strong>2</strong> open" in page


def test_participants_cannot_open_the_moderation_pages(app, client, login, ann, bob):
    report = file_report(app, ann, bob)
    login("ann@example.org")

    assert client.get("/admin/moderation").status_code == 403
    assert client.get(f"/admin/moderation/{report.id}").status_code == 403
    assert client.post(f"/admin/moderation/{report.id}", data={"action": "dismiss"}).status_code in (400, 403)


# --- moderation actions ----------------------------------------------------------------------

@pytest.fixture
def admin_client(app, admin, login) -> Any:
    """A separate client signed in as the admin."""
    signed_in = app.test_client()
    login("root@example.org", test_client=signed_in)
    return signed_in


def test_dismissing_closes_the_report_and_records_it(app, admin_client, ann, bob):
    from core.models import ModerationAction, Report

    report = file_report(app, ann, bob)
    response = form_post(admin_client, f"/admin/moderation/{report.id}",
                         {"action": "dismiss", "note": "A misunderstanding."})

    assert response.status_code == 302
    with services(app):
        assert Report.get_by_id(report.id).status == "dismissed"
        action = ModerationAction.get()
        assert (action.action, action.note, action.subject_id, action.report_id) == (
            "dismiss", "A misunderstanding.", bob.id, report.id)
    assert f"/admin/moderation/{report.id}" not in admin_client.get("/admin/moderation").get_data(as_text=True)


def test_warning_emails_the_reported_participant(app, admin_client, ann, bob, outbox):
    from core.models import Report

    report = file_report(app, ann, bob, "disrespectful")
    form_post(admin_client, f"/admin/moderation/{report.id}", {"action": "warn"})

    message = outbox.last_to("bob@example.org")
    assert message.subject == "A note about how you take part"
    assert "treat every partner with respect" in message.text
    assert "Ann" not in message.text, "the reporter is not named"
    with services(app):
        assert Report.get_by_id(report.id).status == "warned"


def test_suspending_signs_the_participant_out_and_keeps_them_out(app, admin_client, client, login, ann, bob):
    from core.models import Invitation, Report, User

    login("bob@example.org")
    assert client.get("/account").status_code == 200
    with services(app):
        waiting = invite(bob, ann)
    report = file_report(app, ann, bob)
    second = file_report(app, ann, bob, "spam_or_scam")

    form_post(admin_client, f"/admin/moderation/{report.id}", {"action": "suspend", "note": "Threats."})

    assert client.get("/account").status_code == 302, "the open session is signed out"
    fresh = app.test_client()
    token = csrf_token_from(fresh.get("/login").get_data(as_text=True))
    refused = fresh.post("/login", data={"email": "bob@example.org", "password": "correct horse battery",
                                         "csrf_token": token})
    assert refused.status_code == 400
    with services(app):
        assert not User.get_by_id(bob.id).is_active
        assert Invitation.get_by_id(waiting.id).status == "cancelled"
        assert {row.status for row in Report.select()} == {"suspended"}
        assert Report.get_by_id(second.id).status == "suspended"


def test_reinstating_lets_the_participant_sign_in_again(app, admin_client, login, ann, bob):
    from core.models import ModerationAction

    report = file_report(app, ann, bob)
    form_post(admin_client, f"/admin/moderation/{report.id}", {"action": "suspend"})
    page = admin_client.get(f"/admin/moderation/{report.id}").get_data(as_text=True)
    assert "Reinstate the account" in page and "Suspend the account" not in page

    response = form_post(admin_client, f"/admin/moderation/{report.id}", {"action": "reinstate"})

    assert response.status_code == 302
    login("bob@example.org", test_client=app.test_client())
    with services(app):
        assert [row.action for row in ModerationAction.select().order_by(ModerationAction.id)] == [
            "suspend", "reinstate"]


def test_the_record_shows_history_but_no_private_answers(app, admin_client, ann, bob, make_user):
    from core import safety

    complete_profile(app, bob, first_name="Bob", lean="7", visibility={"bio": "private"},
                     bio="A private sentence nobody else may read.")
    earlier = file_report(app, ann, bob, "no_show")
    with services(app):
        safety.act(earlier, None, "dismiss", "")
        safety.block(ann, bob)
        invite(bob, ann, status="declined")
    report = file_report(app, ann, bob, "harassment")

    page = admin_client.get(f"/admin/moderation/{report.id}").get_data(as_text=True)

    assert "<strong>2</strong> reports against them" in page
    assert "<strong>1</strong> blocks received" in page
    assert "<strong>1</strong> invitations sent" in page
    assert "Dismiss" in page
    assert "A private sentence" not in page


def test_an_unknown_action_is_refused_with_a_message(app, admin_client, ann, bob):
    from core.models import Report

    report = file_report(app, ann, bob)
    response = form_post(admin_client, f"/admin/moderation/{report.id}", {"action": "delete"})

    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    with services(app):
        assert Report.get_by_id(report.id).status == "open"

"""Suggestions and invitations through HTTP: send, accept, decline, cancel, expiry, limits, guessed ids,
and privacy (nothing private of the inviter reaches the invitee, and never an email address)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from core.api import hookimpl
from core.db import database, utcnow
from tests.conftest import csrf_token_from
from tests.matching_fakes import MATCHING_SETTINGS, LeanPlugin, participant

CANARY = "CANARY-7f3a-private-bio"


class Recorder:
    """Records match_made calls."""

    def __init__(self) -> None:
        self.matches: list[Any] = []

    @hookimpl
    def match_made(self, match: Any) -> None:
        """Remember the match."""
        self.matches.append(match)


RECORDER = Recorder()


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return MATCHING_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    RECORDER.matches.clear()
    return {"lean": LeanPlugin(), "recorder": RECORDER}


@pytest.fixture
def people(app, make_user) -> dict[str, Any]:
    """Ann (left, private bio with a canary) and Ben, Cal (right), Dee (centre)."""
    return {"ann": participant(app, make_user, "ann@example.org", lean="2", first_name="Ann",
                               bio=f"My secret is {CANARY}.", visibility={"bio": "private"}),
            "ben": participant(app, make_user, "ben@example.org", lean="6", first_name="Ben"),
            "cal": participant(app, make_user, "cal@example.org", lean="7", first_name="Cal"),
            "dee": participant(app, make_user, "dee@example.org", lean="5", first_name="Dee")}


def post(client: Any, url: str, page: str = "/suggestions", **kwargs: Any) -> Any:
    """POST with the CSRF token of a page the client can see."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}, **kwargs)


def second_client(app: Any, login: Any, email: str) -> Any:
    other = app.test_client()
    login(email, test_client=other)
    return other


def invitations(**where: Any) -> list[Any]:
    from core.models.matching import Invitation

    with database.connection_context():
        query = Invitation.select()
        for field, value in where.items():
            query = query.where(getattr(Invitation, field) == value)
        return list(query)


def test_suggestions_page_lists_the_best_partners_with_their_shared_profile(client, login, people):
    login("ann@example.org")
    html = client.get("/suggestions").get_data(as_text=True)
    assert html.index("Cal G.") < html.index("Ben G.") < html.index("Dee G.")
    assert "both enjoy cooking, gardening" in html
    assert "@example.org" not in html
    assert "Match me automatically" in html


def test_invite_accept_makes_a_match_and_tells_both(app, client, login, people, outbox):
    ann, ben = people["ann"], people["ben"]
    login("ann@example.org")
    answer = post(client, f"/suggestions/{ben.id}/invite")
    assert answer.status_code == 302
    [invitation] = invitations(inviter=ann.id)
    assert answer.headers["Location"].endswith(f"/invitations/{invitation.id}")
    assert invitation.invitee_id == ben.id and invitation.status == "open" and invitation.source == "suggestion"
    assert abs((invitation.expires_at - invitation.created_at) - dt.timedelta(hours=72)) < dt.timedelta(seconds=5)

    email = outbox.last_to("ben@example.org")
    assert "Ann G. would like to talk with you" in email.subject
    assert f"http://localhost/invitations/{invitation.id}" in outbox.links(email)

    bob = second_client(app, login, "ben@example.org")
    page = bob.get(f"/invitations/{invitation.id}").get_data(as_text=True)
    assert "Ann G. would like to talk with you" in page and "Accept" in page
    answer = post(bob, f"/invitations/{invitation.id}/accept", page=f"/invitations/{invitation.id}",
                  follow_redirects=True)
    assert "You are matched" in answer.get_data(as_text=True)
    [invitation] = invitations(inviter=ann.id)
    assert invitation.status == "accepted" and invitation.responded_at is not None
    from core.models.matching import Match

    with database.connection_context():
        [match] = list(Match.select())
    assert (match.a_id, match.b_id) == tuple(sorted((ann.id, ben.id))) and match.invitation_id == invitation.id
    assert [recorded.id for recorded in RECORDER.matches] == [match.id]
    assert "Ben G." in outbox.last_to("ann@example.org").subject
    assert "Ann G." in outbox.last_to("ben@example.org").subject
    assert "are matched" in outbox.last_to("ann@example.org").subject


def test_accepting_leaves_other_open_invitations_alone(app, client, login, people):
    ben, cal = people["ben"], people["cal"]
    login("ann@example.org")
    post(client, f"/suggestions/{ben.id}/invite")
    post(client, f"/suggestions/{cal.id}/invite")
    to_ben = invitations(invitee=ben.id)[0]
    bob = second_client(app, login, "ben@example.org")
    post(bob, f"/invitations/{to_ben.id}/accept", page="/invitations")
    assert invitations(invitee=cal.id)[0].status == "open"


def test_decline_keeps_the_two_apart_for_the_cooldown(app, client, login, people):
    ann, ben = people["ann"], people["ben"]
    login("ann@example.org")
    post(client, f"/suggestions/{ben.id}/invite")
    [invitation] = invitations(inviter=ann.id)
    bob = second_client(app, login, "ben@example.org")
    answer = post(bob, f"/invitations/{invitation.id}/decline", page="/invitations", follow_redirects=True)
    assert "You declined" in answer.get_data(as_text=True)
    assert invitations(inviter=ann.id)[0].status == "declined"
    assert "Invite Ben G." not in client.get("/suggestions").get_data(as_text=True)
    assert post(client, f"/suggestions/{ben.id}/invite").status_code == 404
    assert "Invite Ann G." not in bob.get("/suggestions").get_data(as_text=True)


def test_inviter_cancels_and_only_the_right_person_may_answer(app, client, login, people):
    ann, ben = people["ann"], people["ben"]
    login("ann@example.org")
    post(client, f"/suggestions/{ben.id}/invite")
    [invitation] = invitations(inviter=ann.id)
    own = f"/invitations/{invitation.id}"
    answer = post(client, f"{own}/accept", page=own, follow_redirects=True)
    assert "Only the person who received this invitation can answer it." in answer.get_data(as_text=True)
    bob = second_client(app, login, "ben@example.org")
    answer = post(bob, f"{own}/cancel", page=own, follow_redirects=True)
    assert "Only the person who sent this invitation can cancel it." in answer.get_data(as_text=True)
    assert invitations(inviter=ann.id)[0].status == "open"
    answer = post(client, f"{own}/cancel", page=own, follow_redirects=True)
    assert "You cancelled the invitation." in answer.get_data(as_text=True)
    assert invitations(inviter=ann.id)[0].status == "cancelled"
    answer = post(bob, f"{own}/accept", page=own, follow_redirects=True)
    assert "already cancelled" in answer.get_data(as_text=True)


def test_guessed_ids_get_404_never_a_profile(app, client, login, people, make_user):
    from core.models.safety import Block

    ann, ben, cal = people["ann"], people["ben"], people["cal"]
    login("ann@example.org")
    with database.connection_context():
        Block.create(blocker=cal.id, blocked=ann.id)
    for target in (cal.id, ann.id, 99999):
        assert post(client, f"/suggestions/{target}/invite").status_code == 404
        assert post(client, f"/suggestions/{target}/dismiss").status_code == 404
    assert invitations() == []
    post(client, f"/suggestions/{ben.id}/invite")
    [invitation] = invitations()
    make_user("eve@example.org")
    eve = second_client(app, login, "eve@example.org")
    for url in (f"/invitations/{invitation.id}", "/invitations/99999"):
        response = eve.get(url)
        assert response.status_code == 404 and "Ann" not in response.get_data(as_text=True)
    for action in ("accept", "decline", "cancel"):
        assert post(eve, f"/invitations/{invitation.id}/{action}", page="/invitations").status_code == 404
    assert invitations()[0].status == "open"


def test_not_for_me_hides_a_suggestion(client, login, people):
    login("ann@example.org")
    answer = post(client, f"/suggestions/{people['cal'].id}/dismiss", follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert "Cal G. is hidden" in html
    assert "Invite Cal G." not in html and "Invite Ben G." in html


def test_an_expired_invitation_cannot_be_accepted_and_the_job_marks_it(app, client, login, people):
    from core.matching.invitations import expire_due
    from core.models.matching import Invitation

    ann, ben = people["ann"], people["ben"]
    login("ann@example.org")
    post(client, f"/suggestions/{ben.id}/invite")
    [invitation] = invitations(inviter=ann.id)
    with database.connection_context():
        Invitation.update(expires_at=utcnow() - dt.timedelta(minutes=1)).execute()
    bob = second_client(app, login, "ben@example.org")
    page = f"/invitations/{invitation.id}"
    assert "expired without an answer" in bob.get(page).get_data(as_text=True)
    answer = post(bob, f"{page}/accept", page=page, follow_redirects=True)
    assert "already expired" in answer.get_data(as_text=True)
    assert invitations(inviter=ann.id)[0].status == "open"  # not yet marked, but treated as expired
    with app.app_context(), database.connection_context():
        assert expire_due() == 1
    assert invitations(inviter=ann.id)[0].status == "expired"
    # Expired, the two may meet again: Ben is suggested to Ann once more.
    assert "Invite Ben G." in client.get("/suggestions").get_data(as_text=True)


def test_the_expiry_job_is_registered_as_periodic(app):
    from huey.api import PeriodicTask

    task = app.extensions["oss_connect"].jobs.tasks["expire_invitations"]
    assert issubclass(task.task_class, PeriodicTask)
    assert task.task_class().validate_datetime(dt.datetime(2026, 1, 1, 0, 10))
    assert not task.task_class().validate_datetime(dt.datetime(2026, 1, 1, 0, 11))


class TestLimits:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {**MATCHING_SETTINGS, "matching": {"strategy": "lean", "max_open_invitations": 2,
                                                  "invitation_hours": 5}}

    def test_at_most_k_open_invitations(self, client, login, people):
        login("ann@example.org")
        for name in ("ben", "cal"):
            assert post(client, f"/suggestions/{people[name].id}/invite").status_code == 302
        answer = post(client, f"/suggestions/{people['dee'].id}/invite", follow_redirects=True)
        assert "You already have 2 invitations waiting for an answer" in answer.get_data(as_text=True)
        assert len(invitations(inviter=people["ann"].id)) == 2
        invitation = invitations(invitee=people["ben"].id)[0]
        assert abs((invitation.expires_at - invitation.created_at) - dt.timedelta(hours=5)) < dt.timedelta(seconds=5)
        # Cancelling one frees a place.
        post(client, f"/invitations/{invitation.id}/cancel")
        assert post(client, f"/suggestions/{people['dee'].id}/invite").status_code == 302


class TestRateLimit:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {**MATCHING_SETTINGS, "matching": {"strategy": "lean", "invitation_rate_limit": "2 per hour",
                                                  "max_open_invitations": 10}}

    def test_invitations_are_rate_limited_per_account(self, client, login, people):
        login("ann@example.org")
        assert post(client, f"/suggestions/{people['ben'].id}/invite").status_code == 302
        assert post(client, "/suggestions/auto").status_code == 302  # automatic invitations count too
        answer = post(client, f"/suggestions/{people['dee'].id}/invite")
        assert answer.status_code == 429
        assert "Too many attempts" in answer.get_data(as_text=True)
        assert len(invitations(inviter=people["ann"].id)) == 2


def test_match_me_automatically_invites_the_best_available_partner(client, login, people, outbox):
    login("ann@example.org")
    answer = post(client, "/suggestions/auto", follow_redirects=True)
    assert "We invited Cal G." in answer.get_data(as_text=True)
    [invitation] = invitations(inviter=people["ann"].id)
    assert invitation.invitee_id == people["cal"].id and invitation.source == "auto"
    assert "both enjoy" in invitation.reason
    assert outbox.last_to("cal@example.org")


def test_match_me_automatically_says_so_when_nobody_is_available(client, login, people):
    from core.models.matching import Dismissal

    with database.connection_context():
        for name in ("ben", "cal", "dee"):
            Dismissal.create(user=people["ann"].id, dismissed=people[name].id)
    login("ann@example.org")
    answer = post(client, "/suggestions/auto", follow_redirects=True)
    assert "Nobody is available for you right now" in answer.get_data(as_text=True)
    assert invitations() == []


class TestAutoMatchOff:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {**MATCHING_SETTINGS, "matching": {"strategy": "lean", "auto_match": False}}

    def test_the_button_and_the_endpoint_are_gone(self, client, login, people):
        login("ann@example.org")
        assert "Match me automatically" not in client.get("/suggestions").get_data(as_text=True)
        assert post(client, "/suggestions/auto").status_code == 404


def test_an_incomplete_profile_is_sent_to_the_profile_overview(client, login, make_user, people):
    make_user("new@example.org")
    login("new@example.org")
    answer = client.get("/suggestions")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/profile/")
    assert "Complete your profile first" in client.get("/profile/").get_data(as_text=True)
    assert post(client, f"/suggestions/{people['ben'].id}/invite", page="/profile/").status_code == 404


def test_the_list_shows_received_and_sent_invitations_with_states(app, client, login, people):
    login("ann@example.org")
    post(client, f"/suggestions/{people['ben'].id}/invite")
    html = client.get("/invitations").get_data(as_text=True)
    sent = html[html.index("Invitations you sent"):]
    assert "Ben G." in sent and "Waiting for an answer" in sent
    bob = second_client(app, login, "ben@example.org")
    received = bob.get("/invitations").get_data(as_text=True)
    received = received[received.index("Invitations you received"):received.index("Invitations you sent")]
    assert "Ann G." in received


def test_nothing_private_of_the_inviter_and_no_email_address_reaches_the_invitee(app, client, login, people,
                                                                                    outbox):
    ann, ben = people["ann"], people["ben"]
    bob = second_client(app, login, "ben@example.org")
    seen = [bob.get("/suggestions").get_data(as_text=True)]
    assert "Ann G." in seen[0]  # Ann is suggested to Ben: her shared profile is on the page
    login("ann@example.org")
    post(client, f"/suggestions/{ben.id}/invite")
    [invitation] = invitations(inviter=ann.id)
    seen.append(bob.get(f"/invitations/{invitation.id}").get_data(as_text=True))
    seen.append(bob.get("/invitations").get_data(as_text=True))
    email = outbox.last_to("ben@example.org")
    seen += [email.subject, email.text, email.html or ""]
    for text in seen:
        assert CANARY not in text
        assert "ann@example.org" not in text
    # Her shared answers do arrive (the test would pass vacuously otherwise).
    assert "Ann G." in email.text and "Gardening" in email.text
    # The canary was really saved (as Ann's own, private bio).
    assert _own_bio(app, ann) == f"My secret is {CANARY}."


def _own_bio(app: Any, user: Any) -> str:
    from core.api import profile_for

    with app.test_request_context(), database.connection_context():
        return profile_for(user.id, "self").bio


class TestNoStrategy:
    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {"plugins": {"questionnaire_yaml": None}}  # default strategy "bridge", its plugin not enabled

    @pytest.fixture
    def oss_connect_plugins(self) -> dict[str, Any]:
        return {}

    def test_participants_read_not_set_up_and_admins_read_the_fix(self, app, client, login, make_user):
        user = participant(app, make_user, "ann@example.org")
        assert user
        login("ann@example.org")
        answer = client.get("/suggestions")
        html = answer.get_data(as_text=True)
        assert answer.status_code == 503 and "Matching is not set up on this site yet" in html
        assert "matching_bridge" not in html
        admin = participant(app, make_user, "root@example.org")
        with database.connection_context():
            from core.models import User

            User.update(role="admin").where(User.id == admin.id).execute()
        other = second_client(app, login, "root@example.org")
        pool = other.get("/admin/pool").get_data(as_text=True)
        assert "enable the plugin matching_bridge" in pool and "matching.strategy" in pool


def test_email_link_and_payload_never_leak_addresses_in_reasons(people, app):
    """Reasons come from the strategy; the fake builds them only from shared interests."""
    from core.matching.suggestions import suggestions_for

    with app.test_request_context(), database.connection_context():
        reasons = [suggestion.reason for suggestion, _ in suggestions_for(people["ben"])]
    assert reasons and all(not re.search(r"@|CANARY", reason) for reason in reasons)


class TestWithTheBridgeStrategy:
    """The real default strategy, from the bundled plugin matching_bridge."""

    @pytest.fixture
    def oss_connect_settings(self) -> dict[str, Any]:
        return {"plugins": {"questionnaire_yaml": None, "matching_bridge": None}}

    @pytest.fixture
    def oss_connect_plugins(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def people(self, app, make_user) -> dict[str, Any]:
        """Ann and Ben disagree on the lean and on every issue; Ann's bio is private."""
        left = {f"issue_{name}": "5" for name in ("guns", "immigration", "climate", "abortion")}
        right = {f"issue_{name}": "1" for name in ("guns", "immigration", "climate", "abortion")}
        return {"ann": participant(app, make_user, "ann@example.org", lean="1", first_name="Ann", issue_economy="1",
                                   bio=f"My secret is {CANARY}.", visibility={"bio": "private", "interests": "private"},
                                   **left),
                "ben": participant(app, make_user, "ben@example.org", lean="7", first_name="Ben", issue_economy="5",
                                   **right)}

    def test_suggest_and_invite_through_bridge_without_private_answers(self, app, client, login, people, outbox):
        login("ben@example.org")
        html = client.get("/suggestions").get_data(as_text=True)
        assert "Invite Ann G." in html
        assert CANARY not in html and "@example.org" not in html
        # Both enjoy gardening and cooking, but Ann keeps her interests private: no reason may say so.
        assert "gardening" not in html.lower() and "cooking" not in html.lower()
        answer = post(client, f"/suggestions/{people['ann'].id}/invite")
        assert answer.status_code == 302
        [invitation] = invitations(inviter=people["ben"].id)
        assert invitation.invitee_id == people["ann"].id and invitation.score is not None
        assert invitation.reason and "gardening" not in invitation.reason.lower()
        email = outbox.last_to("ann@example.org")
        assert "Ben G." in email.subject and "ben@example.org" not in email.text

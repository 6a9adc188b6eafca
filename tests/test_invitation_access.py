"""Who may be invited, and whose profile may be seen: only the people the strategy suggests to me right
now (its own refusals and the page's top N included), or people I already share an invitation, a match or
a conversation with. Guessed ids, same-side people the strategy refuses and people below the top all get
the same 404, through every route that shows a profile by id."""

from __future__ import annotations

from typing import Any

import pytest

from core.api import MatchingStrategy, hookimpl
from core.db import database
from tests.conftest import csrf_token_from
from tests.matching_fakes import MATCHING_SETTINGS, LeanStrategy, participant

CENTRE = 0.5  # leans arrive scaled to 0..1: answer 4 of 7 is the centre


class SidesStrategy(LeanStrategy):
    """LeanStrategy that refuses two people on the same side of the centre (as the bridge strategy does)."""

    def score(self, a: Any, b: Any) -> float | None:
        """None for a same-side pair, else the lean distance."""
        if a.lean is None or b.lean is None or (a.lean - CENTRE) * (b.lean - CENTRE) > 0:
            return None
        return abs(a.lean - b.lean)


class SidesPlugin:
    """Registers SidesStrategy under the name "lean"."""

    @hookimpl
    def register_matching_strategies(self) -> list[MatchingStrategy]:
        """One strategy."""
        return [SidesStrategy()]


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {**MATCHING_SETTINGS, "matching": {**MATCHING_SETTINGS["matching"], "suggestions": 2}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"sides": SidesPlugin()}


@pytest.fixture
def people(app, make_user) -> dict[str, Any]:
    """Ann and Lia on the left; Cal, Ben, Dee on the right, in that order of distance from Ann."""
    leans = {"ann": "2", "lia": "1", "cal": "7", "ben": "6", "dee": "5"}
    return {name: participant(app, make_user, f"{name}@example.org", lean=lean, first_name=name.title())
            for name, lean in leans.items()}


def post(client: Any, url: str, page: str = "/suggestions", **kwargs: Any) -> Any:
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}, **kwargs)


def invitations() -> list[Any]:
    from core.models.matching import Invitation

    with database.connection_context():
        return list(Invitation.select())


def test_only_a_suggested_partner_can_be_invited_or_seen(app, client, login, people):
    ann, lia, ben, dee = (people[name] for name in ("ann", "lia", "ben", "dee"))
    login("ann@example.org")
    page = client.get("/suggestions").get_data(as_text=True)
    assert "Cal" in page and "Ben" in page and "Lia" not in page and "Dee" not in page
    # Lia: same side, the strategy refuses her; Dee: acceptable but below the page's top 2; 99999: nobody.
    for target in (lia.id, dee.id, 99999):
        assert post(client, f"/suggestions/{target}/invite").status_code == 404
        assert post(client, f"/suggestions/{target}/dismiss").status_code == 404
        for url in (f"/people/{target}/block", f"/people/{target}/report"):
            response = client.get(url)
            assert response.status_code == 404 and "Lia" not in response.get_data(as_text=True)
    assert invitations() == []
    assert "Ben" in client.get(f"/people/{ben.id}/report").get_data(as_text=True)
    answer = post(client, f"/suggestions/{ben.id}/invite")
    assert answer.status_code == 302
    [invitation] = invitations()
    assert (invitation.inviter_id, invitation.invitee_id) == (ann.id, ben.id)
    assert invitation.score == pytest.approx(4 / 6)  # the strategy's own score and reason, from the suggestion


def test_the_service_refuses_the_same_way_and_cohorts_keep_their_own_rule(app, people):
    from core.matching.access import NOT_SUGGESTED, may_invite
    from core.matching.invitations import InvitationError, send_invitation

    ann, lia, cal = people["ann"], people["lia"], people["cal"]
    with app.test_request_context(), database.connection_context():
        assert may_invite(ann, lia.id) == NOT_SUGGESTED and may_invite(ann, people["dee"].id) == NOT_SUGGESTED
        assert may_invite(ann, cal.id) is None
        with pytest.raises(InvitationError, match="not among your suggestions"):
            send_invitation(ann, lia, source="suggestion")
        with pytest.raises(InvitationError, match="not among your suggestions"):
            send_invitation(ann, lia, source="auto")
        assert send_invitation(ann, lia, source="cohort").invitee_id == lia.id  # an admin paired them


def test_people_who_already_met_see_each_other_whatever_the_suggestions(app, client, login, people):
    from core.scheduling.conversations import create_conversation

    ann, lia, dee = people["ann"], people["lia"], people["dee"]
    login("ann@example.org")
    assert client.get(f"/people/{dee.id}/report").status_code == 404
    dee_client = app.test_client()
    login("dee@example.org", test_client=dee_client)
    assert post(dee_client, f"/suggestions/{ann.id}/invite").status_code == 302  # Ann is in Dee's top 2
    assert "Dee" in client.get(f"/people/{dee.id}/report").get_data(as_text=True)
    assert client.get(f"/people/{lia.id}/report").status_code == 404
    with app.app_context(), database.connection_context():
        create_conversation(ann.id, lia.id)  # e.g. a standby pairing: no invitation, no match
    assert "Lia" in client.get(f"/people/{lia.id}/report").get_data(as_text=True)

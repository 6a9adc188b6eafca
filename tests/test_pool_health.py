"""Pool health: waiting participants by side and region for admins; an honest wait estimate and a
lopsided-pool note for participants."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.db import database, utcnow
from tests.matching_fakes import MATCHING_SETTINGS, LeanPlugin, participant


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return MATCHING_SETTINGS


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


def measure(app: Any) -> Any:
    from core.matching.pool import measure as measure_pool

    with app.test_request_context(), database.connection_context():
        return measure_pool()


def matched(a: Any, b: Any, status: str = "matched", days_ago: float = 0) -> None:
    from core.models.matching import Match

    low, high = sorted((a.id, b.id))
    with database.connection_context():
        Match.create(a=low, b=high, status=status, created_at=utcnow() - dt.timedelta(days=days_ago))


@pytest.mark.parametrize(("lean", "side"), [(None, "unknown"), (0.0, "left"), (0.449, "left"), (0.45, "centre"),
                                            (0.55, "centre"), (0.551, "right"), (1.0, "right")])
def test_sides_from_the_lean(lean, side):
    from core.matching.pool import side_of

    assert side_of(lean) == side


def test_waiting_counts_by_side_and_region(app, make_user):
    ann = participant(app, make_user, "ann@example.org", lean="2")
    participant(app, make_user, "bea@example.org", lean="1",
                location={"country": "DE", "region": "Bavaria", "city": "Munich"})
    participant(app, make_user, "cid@example.org", lean="4")
    ben = participant(app, make_user, "ben@example.org", lean="6")
    participant(app, make_user, "dan@example.org", lean="7")
    make_user("new@example.org")  # no profile: not waiting
    health = measure(app)
    assert health.waiting == 5
    assert health.by_side == {"left": 2, "centre": 1, "right": 2, "unknown": 0}
    assert health.by_region == [("US", "Ohio", 4), ("DE", "Bavaria", 1)]
    # A match in progress takes both out of the pool; a finished one puts them back.
    matched(ann, ben)
    assert measure(app).by_side == {"left": 1, "centre": 1, "right": 1, "unknown": 0}
    from core.models.matching import Match

    with database.connection_context():
        Match.update(status="completed").execute()
    assert measure(app).waiting == 5


def test_suspended_participants_are_not_waiting(app, make_user):
    from core.models import User

    ann = participant(app, make_user, "ann@example.org", lean="2")
    participant(app, make_user, "ben@example.org", lean="6")
    with database.connection_context():
        User.update(is_active=False).where(User.id == ann.id).execute()
    assert measure(app).by_side == {"left": 0, "centre": 0, "right": 1, "unknown": 0}


def test_admin_page_shows_the_counts_and_participants_cannot_open_it(app, client, login, make_user):
    participant(app, make_user, "ann@example.org", lean="2")
    participant(app, make_user, "ben@example.org", lean="6",
                location={"country": "DE", "region": "Bavaria", "city": "Munich"})
    make_user("root@example.org", role="admin")
    other = app.test_client()
    login("ann@example.org", test_client=other)
    assert other.get("/admin/pool").status_code == 403
    login("root@example.org")
    html = client.get("/admin/pool").get_data(as_text=True)
    assert "<strong>2</strong> participants waiting" in html
    assert "<td>Lean left</td><td>1</td>" in html and "<td>Lean right</td><td>1</td>" in html
    assert "<td>Bavaria, Germany</td><td>1</td>" in html and "<td>Ohio, United States</td><td>1</td>" in html
    assert "Pool health" in client.get("/admin/").get_data(as_text=True)


def estimate_for(app: Any, user: Any) -> Any:
    from core.matching.pool import wait_estimate

    with app.test_request_context(), database.connection_context():
        from core.matching.pool import measure as measure_pool

        return wait_estimate(user, measure_pool())


def test_no_estimate_while_data_is_thin(app, make_user):
    ann = participant(app, make_user, "ann@example.org", lean="2")
    ben = participant(app, make_user, "ben@example.org", lean="6")
    cal = participant(app, make_user, "cal@example.org", lean="6")
    assert estimate_for(app, ann).text.startswith("We can't estimate your wait yet: too few matches")
    for days in (40, 50, 60):  # old matches do not count
        matched(ben, cal, status="completed", days_ago=days)
    assert estimate_for(app, ann).text.startswith("We can't estimate your wait yet")


def test_nobody_on_the_other_side_is_said_plainly(app, make_user):
    ann = participant(app, make_user, "ann@example.org", lean="2")
    participant(app, make_user, "bea@example.org", lean="1")
    assert "nobody with different views is waiting right now" in estimate_for(app, ann).text


def test_an_estimate_from_recent_matches(app, make_user):
    ann = participant(app, make_user, "ann@example.org", lean="2")
    ben = participant(app, make_user, "ben@example.org", lean="6")
    done = [participant(app, make_user, f"old{n}@example.org", lean="4") for n in range(2)]
    for days in (1, 5, 10):
        matched(done[0], done[1], status="completed", days_ago=days)
    estimate = estimate_for(app, ann)
    assert estimate.text.startswith("Based on the 3 matches made here in the last 30 days")
    # 4 waiting, 3 matches in 30 days (0.1 a day, 2 people each): 4 / 0.2 = 20 days.
    assert "usually takes two to five weeks" in estimate.text and "not a promise" in estimate.text
    assert estimate_for(app, ben).lopsided_note is None


def test_a_lopsided_pool_is_noted_for_participants(app, client, login, make_user):
    for n in range(5):
        participant(app, make_user, f"left{n}@example.org", lean="2")
    participant(app, make_user, "ben@example.org", lean="6")
    login("left0@example.org")
    html = client.get("/suggestions").get_data(as_text=True)
    assert "many more people who lean left are waiting than people who lean right" in html
    assert "We can&#39;t estimate your wait yet" in html
    make_user("root@example.org", role="admin")
    admin = app.test_client()
    login("root@example.org", test_client=admin)
    assert "The pool is lopsided" in admin.get("/admin/pool").get_data(as_text=True)


def test_a_balanced_pool_has_no_note(app, make_user):
    ann = participant(app, make_user, "ann@example.org", lean="2")
    participant(app, make_user, "ben@example.org", lean="6")
    assert estimate_for(app, ann).lopsided_note is None


def test_the_participant_view_reads_a_cached_count(app, make_user):
    from core.matching.pool import pool_health

    participant(app, make_user, "ann@example.org", lean="2")
    with app.test_request_context(), database.connection_context():
        first = pool_health()
    participant(app, make_user, "ben@example.org", lean="6")
    with app.test_request_context(), database.connection_context():
        assert pool_health() is first and first.waiting == 1
        assert pool_health(max_age=0).waiting == 2

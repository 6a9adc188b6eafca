"""Opening a page never changes state: no GET route of a fully configured site writes to the database,
for a participant or an admin. (Presence on a conversation's join page is recorded by its "I'm here"
button, a POST, or by entering the room.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.db import database
from tests.test_bad_input_everywhere import SETTINGS, post_routes, signed_in, world  # noqa: F401  (fixture)

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
BOOKKEEPING = ("session",)  # a server-side session's "last seen" is bookkeeping of the visit, not page state


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return SETTINGS


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every writing SQL statement the app runs from now on (the real database still runs them)."""
    seen: list[str] = []
    real = database.obj
    original = real.execute_sql

    def logged(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if WRITE.match(sql) and not any(name in sql.split("(")[0].lower() for name in BOOKKEEPING):
            seen.append(sql)
        return original(sql, params, *args, **kwargs)

    monkeypatch.setattr(real, "execute_sql", logged)
    return seen


def test_opening_the_join_page_records_nothing_and_im_here_does(app, world, writes):  # noqa: F811
    client = signed_in(app, "ann@example.org")
    page = f"/conversations/{world['conversation_id']}/join"
    writes.clear()

    html = client.get(page).get_data(as_text=True)

    assert writes == []
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post(page, data={"csrf_token": token}).status_code == 302
    assert any("conversation_presence" in statement for statement in writes)


@pytest.mark.parametrize("who", ["ann@example.org", "root@example.org"])
def test_no_get_route_writes_to_the_database(app, world, writes, who):  # noqa: F811
    client = signed_in(app, who)
    routes = [route for route in post_routes(app, world, "GET") if not route.startswith("/static/")]
    assert f"/conversations/{world['conversation_id']}/join" in routes
    assert f"/conversations/{world['conversation_id']}/room" in routes
    found = {}
    for route in routes:
        writes.clear()
        client.get(route)
        if writes:
            found[route] = list(writes)

    assert found == {}

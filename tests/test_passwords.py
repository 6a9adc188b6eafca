"""The password policy: at least 10 characters, not a common or guessable password, and the form says why.

Every place that sets a password is checked: sign-up, a reset link, an invitation link and create-admin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from core.db import database
from core.models import User
from core.passwords import password_problems
from tests.conftest import csrf_token_from

COMMON = "qwertyuiop"  # ten characters, and one of the hundred most common passwords
OWN_DETAILS = "zorblatvex99"  # strong for anyone but zorblat@vexmail.org


def post_form(client: Any, page: str, data: dict[str, Any]) -> Any:
    """Open `page`, take its CSRF token and post `data` to it."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(page, data={**data, "csrf_token": token})


def field_error(response: Any) -> str:
    """The text of the first error shown at a field."""
    html = response.get_data(as_text=True)
    assert 'class="field-error"' in html, html[:2000]
    return html.split('class="field-error"', 1)[1].split("</", 1)[0]


def test_a_short_password_is_refused_with_the_minimum():
    assert password_problems("nine char", min_length=10)[0].startswith("Use at least 10 characters (you used 9).")


def test_a_common_password_is_refused_although_it_is_long_enough():
    problems = password_problems(COMMON)

    assert problems and "too easy to guess" in problems[0]
    assert "common password" in problems[0]


def test_the_persons_own_address_makes_a_password_guessable():
    assert password_problems(OWN_DETAILS) == []
    problems = password_problems(OWN_DETAILS, ["zorblat@vexmail.org"])

    assert "your own email address or name" in problems[0]


def test_the_default_test_password_and_long_passphrases_pass():
    assert password_problems("correct horse battery", ["ada@example.org"]) == []
    assert password_problems("x7 lantern orbit " * 60) == []  # longer than zxcvbn scores: the start decides


def test_a_score_of_zero_turns_the_guessability_check_off():
    assert password_problems(COMMON, min_score=0) == []


def test_signup_refuses_a_common_password_and_says_why(client):
    response = post_form(client, "/signup", {"email": "ada@example.org", "password": COMMON, "confirm": COMMON})

    assert response.status_code == 400
    assert "too easy to guess" in field_error(response)
    with database.connection_context():
        assert User.by_email("ada@example.org") is None


def test_signup_refuses_a_password_made_of_the_address(client):
    response = post_form(client, "/signup", {"email": "zorblat@vexmail.org", "password": OWN_DETAILS,
                                             "confirm": OWN_DETAILS})

    assert response.status_code == 400
    assert "your own email address" in field_error(response)


@pytest.mark.parametrize("oss_connect_settings", [{"accounts": {"password_min_score": 0}}], ids=["score-0"])
def test_the_guessability_check_follows_the_config(client):
    response = post_form(client, "/signup", {"email": "ada@example.org", "password": COMMON, "confirm": COMMON})

    assert response.status_code == 200
    assert "<h1>Check your email</h1>" in response.get_data(as_text=True)


def test_a_reset_link_refuses_a_password_made_of_the_accounts_address(client, make_user, outbox):
    make_user("zorblat@vexmail.org")
    post_form(client, "/reset", {"email": "zorblat@vexmail.org"})
    link = next(urlsplit(url).path for url in outbox.links(outbox.last_to("zorblat@vexmail.org")) if "/reset/" in url)

    response = post_form(client, link, {"password": OWN_DETAILS, "confirm": OWN_DETAILS})

    assert response.status_code == 400
    assert "your own email address" in field_error(response)


def test_an_invitation_link_refuses_a_common_password(app, client, make_user, outbox):
    from core import accounts

    user = make_user("invited@example.org", password=None, verified=False)
    with app.test_request_context(), database.connection_context():
        accounts.send_invitation(user)
    link = next(urlsplit(url).path for url in outbox.links(outbox.last_to("invited@example.org"))
                if "/welcome/" in url)

    response = post_form(client, link, {"password": COMMON, "confirm": COMMON})

    assert response.status_code == 400
    assert "common password" in field_error(response)


def test_create_admin_refuses_a_common_password_and_says_why(instance):
    from click.testing import CliRunner

    from core.cli import cli

    result = CliRunner().invoke(cli, ["create-admin", "--config", str(instance / "oss-connect.yaml"),
                                      "root@example.org", "--password-stdin"], input=f"{COMMON}\n", obj={})

    assert result.exit_code == 2
    assert "too easy to guess" in result.output
    assert "password_min_score" in result.output


# --- the site's context words (OWASP ASVS 6.1.2 / 6.2.11) -----------------------------------------

SITE = {"site": {"name": "Talk Across", "organisation": "Radio Wolkenfeld", "base_url": "https://gespraech.example.org"},
        "accounts": {"password_context_words": ["Brückenbauer", "one small step"]}}


@pytest.mark.parametrize("oss_connect_settings", [SITE], ids=["site"])
@pytest.mark.parametrize("password", ["talkacross2024", "TalkAcross2025!", "radiowolkenfeld1", "oss-connect2024",
                                      "brückenbauer2024", "onesmallstep2024", "gespraech2024!"])
def test_the_site_name_and_context_words_plus_a_year_are_refused(app, password):
    from core.passwords import context_words

    settings = app.extensions["oss_connect"].settings
    assert password_problems(password) == [], "strong for zxcvbn alone: only the context words refuse it"
    [problem] = password_problems(password, site_words=context_words(settings))
    assert "the name of this site or a word closely tied to it" in problem


@pytest.mark.parametrize("oss_connect_settings", [SITE], ids=["site"])
def test_signup_and_a_password_change_refuse_the_sites_name(client, make_user):
    response = post_form(client, "/signup", {"email": "ada@example.org", "password": "talkacross2024",
                                             "confirm": "talkacross2024"})
    assert response.status_code == 400
    assert "the name of this site" in field_error(response)

    make_user("ben@example.org")
    post_form(client, "/login", {"email": "ben@example.org", "password": "correct horse battery"})
    changed = post_form(client, "/account/password", {"current": "correct horse battery",
                                                       "password": "Brückenbauer1999", "confirm": "Brückenbauer1999"})
    assert changed.status_code == 400
    assert "the name of this site" in field_error(changed)


@pytest.mark.parametrize("oss_connect_settings", [SITE], ids=["site"])
def test_create_admin_refuses_the_sites_name(instance):
    from click.testing import CliRunner

    from core.cli import cli

    result = CliRunner().invoke(cli, ["create-admin", "--config", str(instance / "oss-connect.yaml"),
                                      "root@example.org", "--password-stdin"], input="TalkAcross2025!\n", obj={})

    assert result.exit_code == 2
    assert "the name of this site" in result.output

"""oss_hello's tests, using the fixtures oss-connect gives plugin authors (its pytest11 plugin)."""

from pathlib import Path

import oss_hello
import pytest

from core.api import platform


@pytest.fixture
def oss_connect_plugins():
    """Enable oss_hello in the test instance."""
    return {"hello": oss_hello}


@pytest.fixture
def oss_connect_settings():
    """Its settings, as they would appear in the YAML file."""
    return {"plugins": {"hello": {"greeting": "Howdy"}}}


def test_footer_greets_visitors(client):
    page = client.get("/").get_data(as_text=True)

    assert '<p class="hello">Howdy, friends of Test Conversations!</p>' in page


def test_questionnaire_source_is_registered(app):
    with app.app_context():
        source = platform().provider("questionnaire_source", "hello")

    assert source.questionnaire()["version"] == "1"


def test_startup_leaves_a_file_in_the_instance_folder(app):
    started = Path(app.instance_path, "hello-started.txt")

    assert started.read_text(encoding="utf-8") == "oss_hello started\n"

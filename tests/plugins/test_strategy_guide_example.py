"""The complete strategy plugin in docs/matching-strategies.md works as written: the test loads the
guide's code block as a module, enables it by name, and the suggestions page uses it."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest

from tests.profiles import complete_profile

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "matching-strategies.md"


def guide_plugin() -> types.ModuleType:
    """The first Python block of the guide's "Writing your own strategy" section, as a module."""
    section = GUIDE.read_text(encoding="utf-8").split("## Writing your own strategy", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    module = types.ModuleType("oss_farthest")
    exec(compile(code, str(GUIDE), "exec"), module.__dict__)
    return module


PLUGIN = guide_plugin()


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    return {"matching": {"strategy": "farthest"},
            "plugins": {"questionnaire_yaml": None, "oss_farthest": {"min_distance": 0.4}}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"oss_farthest": PLUGIN}


def test_the_guide_example_strategy_suggests_the_farthest_first(app, client, make_user, login):
    me, near, far, farthest = (make_user(f"{name}@example.org") for name in ("me", "near", "far", "farthest"))
    complete_profile(app, me, first_name="Mia", lean="1", issue_guns="5", issue_economy="1")
    complete_profile(app, near, first_name="Ned", lean="2", issue_guns="5", issue_economy="1")
    complete_profile(app, far, first_name="Fay", lean="6", issue_guns="2", issue_economy="4")
    complete_profile(app, farthest, first_name="Flo", lean="7", issue_guns="1", issue_economy="5",
                     issue_immigration="1", issue_climate="1", issue_abortion="1")
    login("me@example.org")
    page = client.get("/suggestions").get_data(as_text=True)
    names = re.findall(r'class="profile-name"[^>]*>([^<]+)<', page)
    assert names == ["Flo G.", "Fay G."]  # Ned is too close (min_distance 0.4) and never suggested
    assert "You see politics very differently, and you both like Cooking and Gardening." in page


def test_the_guide_example_settings_are_validated_like_any_plugin(tmp_path):
    from core.config import ConfigError, load_config

    config = tmp_path / "oss-connect.yaml"
    config.write_text("site: {secret_key: 0123456789012345678901234567890123456789}\n"
                      "plugins:\n  oss_farthest: {min_distance: 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config, extra_plugins={"oss_farthest": PLUGIN})
    assert ":3: plugins.oss_farthest.min_distance: out of range" in str(caught.value)

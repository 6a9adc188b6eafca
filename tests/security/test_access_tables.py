"""The access tables: core's declarations merged with each enabled plugin's `register_access_policies`,
through a real plugin manager. A plugin declares only its own routes and events; a wrong answer stops
start-up with a message naming the plugin."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.access_policy import (
    ADMIN,
    OBJECT_RELATIONS,
    ROUTES,
    SIGNED_IN,
    SOCKET_EVENTS,
    Policy,
    access_tables,
    related,
    roles,
)
from core.api import CONVERSATION_VIEWERS, PUBLIC, hookimpl
from core.app import create_app
from core.config import load_config
from core.plugins_loader import StartupError, new_plugin_manager


class DeclaringPlugin:
    """A plugin with a page, a webhook and a Socket.IO event, each declared."""

    def __init__(self, declared: Any) -> None:
        self.declared = declared

    @hookimpl
    def register_access_policies(self) -> Any:
        return self.declared


def tables_with(**plugins: Any) -> Any:
    manager = new_plugin_manager()
    for name, plugin in plugins.items():
        manager.register(plugin, name=name)
    return access_tables(manager)


def test_a_plugins_routes_and_events_join_cores():
    tables = tables_with(hello=DeclaringPlugin({"GET hello.page": SIGNED_IN, "POST hello.page": ADMIN,
                                                "hello_ping": CONVERSATION_VIEWERS, "/hello hello_ping": PUBLIC}))

    assert tables.routes == {**ROUTES, "GET hello.page": SIGNED_IN, "POST hello.page": ADMIN}
    assert tables.events == {**SOCKET_EVENTS, "hello_ping": CONVERSATION_VIEWERS, "/hello hello_ping": PUBLIC}


def test_a_plugin_cannot_redeclare_a_core_route():
    with pytest.raises(StartupError, match=re.escape("plugin 'sneaky' declares the access policy of 'GET admin.index', "
                                                     "which core declares already")):
        tables_with(sneaky=DeclaringPlugin({"GET admin.index": PUBLIC}))


def test_two_plugins_cannot_declare_the_same_event():
    with pytest.raises(StartupError, match=r"which (one|two) declares already"):
        tables_with(one=DeclaringPlugin({"hello_ping": SIGNED_IN}), two=DeclaringPlugin({"hello_ping": PUBLIC}))


@pytest.mark.parametrize("answer", [["GET hello.page"], {"GET hello.page": "public"}, {7: PUBLIC}])
def test_an_answer_that_is_not_keys_to_policies_stops_start_up_naming_the_plugin(answer):
    with pytest.raises(StartupError, match="plugin 'hello' register_access_policies"):
        tables_with(hello=DeclaringPlugin(answer))


def test_admins_hold_every_role_but_only_the_object_policies_that_name_them():
    assert roles("facilitator").admits("admin") and not roles("facilitator").admits("participant")
    parties = related("conversation", "party")
    assert not parties.admits("admin") and parties.admits("participant", {"party"})
    assert related("conversation", "party", roles=("admin",)).admits("admin")
    assert not SIGNED_IN.admits(None) and PUBLIC.admits(None)


def test_an_unknown_object_or_relation_is_refused_when_the_table_is_written():
    with pytest.raises(ValueError, match=re.escape("unknown object 'conversation' or relations ['owner']")):
        related("conversation", "owner")
    assert set(OBJECT_RELATIONS["conversation"]) == {"party", "facilitator_of"}


def test_a_policy_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown policy kind 'staff'"):
        Policy("staff")


SNEAKY = {"sneaky": DeclaringPlugin({"GET admin.index": PUBLIC})}
HELLO = {"hello": DeclaringPlugin({"hello_ping": SIGNED_IN})}


@pytest.mark.parametrize("oss_connect_plugins", [SNEAKY], ids=["sneaky"])
def test_the_app_does_not_start_when_a_plugin_redeclares_a_route(instance, oss_connect_plugins):
    refusal = re.escape("plugin 'sneaky' declares the access policy of 'GET admin.index'")
    with pytest.raises(StartupError, match=refusal):
        create_app(load_config(instance / "oss-connect.yaml", extra_plugins=oss_connect_plugins), testing=True)


@pytest.mark.parametrize("oss_connect_plugins", [HELLO], ids=["hello"])
def test_the_running_app_holds_cores_and_the_plugins_declarations(app):
    access = app.extensions["oss_connect"].access

    assert access.events["hello_ping"] is SIGNED_IN and access.routes == ROUTES

"""Every hook a plugin can implement, in one place; docs/plugins.md documents each with examples.

Hooks are grouped by purpose. `register_*` hooks return providers or lists; domain providers carry
a unique `name`, and a duplicate name stops start-up. Implementations may accept any subset of a
hook's arguments, so hooks can grow without breaking plugins.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("oss_connect")


# --- configuration and start-up --------------------------------------------------------------

@hookspec(firstresult=True)
def register_config_schema() -> Any:
    """Return a pydantic model class for this plugin's settings under `plugins: NAME:` in the YAML."""


@hookspec
def startup(app: Any) -> None:
    """Called once when the app is ready (config loaded, database bound); raise to refuse start-up."""


@hookspec
def register_models() -> Any:
    """Return a `PluginModels(models=[...], migrations=Path)`: the plugin's tables and migrations."""


@hookspec
def register_cli_commands(cli: Any) -> None:
    """Add click commands to the `oss-connect` command group `cli`."""


@hookspec
def register_jobs(queue: Any) -> None:
    """Register background jobs with `queue.task(name, retries=..., retry_delay=...)(function)`."""


# --- web, templates and real time ---------------------------------------------------------------

@hookspec
def register_blueprints(app: Any) -> Any:
    """Return a list of Flask blueprints to register on the app."""


@hookspec
def register_template_dirs() -> Any:
    """Return a list of folders searched for templates after the theme and before core."""


@hookspec
def extra_template_vars(template: str, request: Any) -> Any:
    """Return a dict of extra variables for rendering `template` (names may not shadow core's)."""


@hookspec
def render_slot(slot: str, context: Any) -> Any:
    """Return HTML (a Markup or escaped string) to insert at the named slot of a page, or None."""


@hookspec
def register_socketio_handlers(socketio: Any) -> None:
    """Register Socket.IO event handlers on `socketio` (authorise every event yourself)."""


@hookspec
def register_access_policies() -> Any:
    """Return {"METHOD endpoint" or Socket.IO event name: Policy} for the plugin's own routes and events."""


# --- questionnaire sources (DESIGN §3) --------------------------------------------------------

@hookspec
def register_questionnaire_sources() -> Any:
    """Return a list of `QuestionnaireSource` providers, each with a unique `name`."""


@hookspec
def questionnaire_submitted(participant: Any, questionnaire: Any, answers: Any) -> None:
    """Called after a participant's answers are saved."""


# --- matching strategies ----------------------------------------------------------------------

@hookspec
def register_matching_strategies() -> Any:
    """Return a list of `MatchingStrategy` providers, each with a unique `name`."""


@hookspec
def filter_match_candidates(participant: Any, candidates: Any) -> Any:
    """Return the ids among `candidates` that must not be suggested to `participant` (a veto)."""


@hookspec
def match_made(match: Any) -> None:
    """Called after two participants are matched."""


# --- call providers ---------------------------------------------------------------------------

@hookspec
def register_call_providers() -> Any:
    """Return a list of `CallProvider` providers, each with a unique `name`."""


@hookspec
def call_status_changed(conversation: Any, status: str) -> None:
    """Called when a conversation's call changes status (created, joined, left, ended)."""


@hookspec
def conversation_ended(conversation: Any) -> None:
    """Called once after a conversation ends."""


# --- archive destinations ---------------------------------------------------------------------

@hookspec
def register_archive_destinations() -> Any:
    """Return a list of `ArchiveDestination` providers, each with a unique `name`.

    Every registered destination is used: a package goes to each one whose `consent` ("deposit" or
    "public") both participants gave, once the recording is processed and its description approved.
    """


@hookspec
def before_archive(package: Any) -> Any:
    """Return a dict of metadata to add to an archive package before it is built, or None.

    `package` is a dict with `conversation_id` and `identifier`; the result goes into the package's
    JSON record under `extra`.
    """


@hookspec
def item_archived(conversation: Any, destination: str, receipt: Any) -> None:
    """Called after a package was deposited at the destination named `destination`, with its receipt."""

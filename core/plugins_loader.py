"""Find plugins (entry point group `oss_connect`), load the enabled ones, build a plugin manager."""

from __future__ import annotations

import difflib
import importlib.metadata as metadata
from dataclasses import dataclass, field
from typing import Any

import pluggy

from core import hookspecs

ENTRY_POINT_GROUP = "oss_connect"


class StartupError(Exception):
    """A plugin or resource stopped start-up; the message names the culprit and the fix. Exit 2."""

    exit_code = 2


@dataclass
class PluginInfo:
    """An enabled plugin: its name, the loaded object, where it came from and its settings."""

    name: str
    plugin: Any
    version: str = "unknown"
    distribution: str = "unknown"
    settings: Any = None
    hooks: list[str] = field(default_factory=list)


def installed_plugins() -> dict[str, metadata.EntryPoint]:
    """Every plugin any installed distribution declares, by entry point name."""
    found: dict[str, metadata.EntryPoint] = {}
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


def load_entry_point(entry_point: metadata.EntryPoint) -> tuple[Any, str, str]:
    """Import a plugin; return it with its distribution's name and version."""
    plugin = entry_point.load()
    dist = entry_point.dist
    return plugin, (dist.name if dist else "unknown"), (dist.version if dist else "unknown")


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows every hookspec and no plugin yet."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    return manager


def build_plugin_manager(plugins: list[PluginInfo]) -> pluggy.PluginManager:
    """Register the enabled plugins so that the first one in the config wins `firstresult` hooks."""
    manager = new_plugin_manager()
    for info in reversed(plugins):  # pluggy calls the last registered first
        try:
            manager.register(info.plugin, name=info.name)
        except ValueError as error:
            raise StartupError(f"plugin '{info.name}' could not be registered: {error}") from error
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise StartupError(_unknown_hook_message(manager, error.plugin)) from error
    for info in plugins:
        info.hooks = sorted(caller.name for caller in manager.get_hookcallers(info.plugin) or [])
    return manager


def _unknown_hook_message(manager: pluggy.PluginManager, plugin: Any) -> str:
    """Name the plugin and its implementations of hooks no hookspec declares, with a suggestion."""
    callers = {name: caller for name, caller in vars(manager.hook).items() if not name.startswith("_")}
    known = [name for name, caller in callers.items() if caller.has_spec()]
    unknown = [name for name, caller in callers.items() if not caller.has_spec()
               and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())]
    described = []
    for name in unknown:
        hint = difflib.get_close_matches(name, known, n=1)
        described.append(f"{name}" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    return (f"plugin '{manager.get_name(plugin)}' implements a hook that does not exist: {', '.join(described)}; "
            "check the hook names against docs/plugins.md")


def call_each(manager: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of a hook, highest priority first, naming the plugin on failure."""
    caller = getattr(manager.hook, hook_name)
    results = []
    for impl in reversed(caller.get_hookimpls()):
        arguments = {name: kwargs[name] for name in impl.argnames if name in kwargs}
        try:
            result = impl.function(**arguments)
        except StartupError:
            raise
        except Exception as error:  # a plugin's own failure: report it, never a bare traceback
            raise StartupError(
                f"plugin '{impl.plugin_name}' failed in {hook_name}: {type(error).__name__}: {error}; "
                f"fix the plugin, or disable it by removing '{impl.plugin_name}' from plugins: in the config"
            ) from error
        if result is not None:
            results.append((impl.plugin_name, result))
    return results


def collect_providers(manager: pluggy.PluginManager, hook_name: str, kind: str,
                      base_class: type) -> dict[str, Any]:
    """Gather a domain hook's providers by name; refuse duplicates and objects of the wrong kind."""
    providers: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for plugin_name, returned in call_each(manager, hook_name):
        items = returned if isinstance(returned, list | tuple) else [returned]
        for provider in items:
            if isinstance(provider, type):
                provider = provider()
            if not isinstance(provider, base_class):
                raise StartupError(
                    f"plugin '{plugin_name}' returned {provider!r} from {hook_name}, which is not a "
                    f"{base_class.__name__}; subclass core.api.{base_class.__name__}")
            name = getattr(provider, "name", None)
            if not name or not isinstance(name, str):
                raise StartupError(f"plugin '{plugin_name}' registered a {kind} without a name; "
                                   f"set the class attribute name = '...'")
            if name in providers:
                raise StartupError(
                    f"{kind} name '{name}' is registered twice, by plugin '{owners[name]}' and by plugin "
                    f"'{plugin_name}'; disable one of them in the config's plugins: section, or rename "
                    f"the provider in one of them")
            providers[name] = provider
            owners[name] = plugin_name
    return providers

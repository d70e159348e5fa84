"""Plugin loading and the registries built from the hooks.

Built-in plugins are modules of vampkit registered exactly like third-party ones; outside
plugins are found through the ``vampkit`` entry-point group. ``VAMPKIT_LOAD_PLUGINS`` limits
which outside plugins load: a comma-separated list of entry-point or distribution names
(empty: none). Each registry records which plugin registered each name.

Order: registries are built by calling each plugin's hook in load order: vampkit's built-ins
first (in ``BUILTIN_PLUGINS`` order), then entry-point plugins in the order
``importlib.metadata`` lists them, then in-process ``register_plugin`` calls. A name may be
registered once: a second registration is an error naming both plugins (the earlier first),
so the order decides listings and messages, never which object wins.

A plugin implementing a hook that does not exist (``register_mask`` for ``register_masks``) is
refused when it is loaded, with a did-you-mean, instead of being ignored.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError, UnknownNameError, VampkitError
from .naming import did_you_mean

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
LOAD_PLUGINS_ENV = "VAMPKIT_LOAD_PLUGINS"

#: Modules of vampkit itself that implement hooks. They take the same path as outside plugins.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "vampkit.masks.builtin",
    "vampkit.models.builtin",
    "vampkit.beats.builtin",
    "vampkit.codecs.builtin",
    "vampkit.pipeline.builtin",
    "vampkit.eval.builtin",
)

#: registry kind -> hook name
KINDS: dict[str, str] = {
    "masks": "register_masks",
    "bundles": "register_bundles",
    "codecs": "register_codecs",
    "beat_trackers": "register_beat_trackers",
    "onset_detectors": "register_onset_detectors",
    "analyses": "register_analyses",
    "stages": "register_stages",
    "metrics": "register_metrics",
    "embeddings": "register_embeddings",
}

_KIND_LABEL = {
    "masks": "mask generator",
    "bundles": "model bundle",
    "codecs": "codec",
    "beat_trackers": "beat tracker",
    "onset_detectors": "onset detector",
    "analyses": "analysis",
    "stages": "stage",
    "metrics": "metric",
    "embeddings": "embedding",
}


@attrs.frozen
class Registration:
    """One registered thing: its name, the object, and the plugin that registered it."""

    name: str
    obj: Any
    plugin: str


@attrs.frozen
class PluginInfo:
    """A loaded plugin as ``vampkit plugins`` lists it."""

    name: str
    version: str | None
    builtin: bool
    hooks: tuple[str, ...]
    registers: dict[str, tuple[str, ...]]


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_registries: dict[str, dict[str, Registration]] = {}
_dist_versions: dict[str, str | None] = {}


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with built-ins and allowed entry points loaded."""
    global _manager
    with _lock:
        if _manager is None:
            manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            manager.add_hookspecs(hookspecs)
            for module_name in BUILTIN_PLUGINS:
                manager.register(importlib.import_module(module_name), name=module_name)
            _load_entry_points(manager)
            check_hooks(manager)
            _manager = manager
        return _manager


def _allowed_plugins() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    allowed = _allowed_plugins()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        if allowed is not None and entry_point.name not in allowed and dist_name not in allowed:
            continue
        if manager.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:  # any import failure is the plugin's
            raise PluginError(
                f"plugin '{entry_point.name}' ({dist_name or 'unknown package'}) failed to load "
                f"from '{entry_point.value}': {type(exc).__name__}: {exc}"
            ) from exc
        try:
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # pluggy validation of hook signatures
            raise PluginError(f"plugin '{entry_point.name}' has invalid hooks: {exc}") from exc
        _dist_versions[entry_point.name] = dist.version if dist is not None else None


#: hooks of earlier releases -> what replaced them (named in the unknown-hook error)
RENAMED_HOOKS = {"register_models": "register_bundles (it registers vampkit.ModelBundle values)"}


def check_hooks(manager: pluggy.PluginManager) -> None:
    """A ``PluginError`` naming the plugin and the hook when a loaded plugin implements a hook
    vampkit does not specify (a misspelt ``register_mask`` would otherwise be ignored)."""
    known = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), f"{hookspecs.PROJECT_NAME}_spec"))
    for hook_name in sorted(vars(manager.hook)):
        caller = getattr(manager.hook, hook_name)
        if hook_name.startswith("_") or not hasattr(caller, "get_hookimpls") or caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            hint = (f" (it was replaced by {RENAMED_HOOKS[hook_name]})" if hook_name in RENAMED_HOOKS
                    else did_you_mean(hook_name, known))
            raise PluginError(
                f"plugin '{impl.plugin_name}' implements unknown hook '{hook_name}'{hint} "
                f"(vampkit's hooks: {', '.join(known)})"
            )
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:  # pragma: no cover - the loop above names it first
        raise PluginError(f"plugin '{exc.plugin_name}': {exc}") from exc


def reset() -> None:
    """Forget loaded plugins and registries (after installing a plugin, or in tests)."""
    global _manager
    with _lock:
        _manager = None
        _registries.clear()
        _dist_versions.clear()


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register an in-process plugin (a module or object with hookimpls), e.g. in a notebook."""
    with _lock:
        manager = plugin_manager()
        try:
            registered = manager.register(plugin, name=name)
        except ValueError as exc:
            raise PluginError(f"cannot register plugin {name or plugin!r}: {exc}") from exc
        try:
            check_hooks(manager)
        except PluginError:
            manager.unregister(name=registered)
            raise
        _registries.clear()
        assert registered is not None
        return registered


def unregister_plugin(name: str) -> None:
    with _lock:
        plugin_manager().unregister(name=name)
        _registries.clear()


def _validate(kind: str, obj: Any, plugin: str) -> str:
    label = _KIND_LABEL[kind]
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin '{plugin}' registered a {label} without a string 'name': {obj!r}")
    if kind == "masks":
        if not (isinstance(obj, type) and attrs.has(obj)):
            raise PluginError(f"plugin '{plugin}': mask generator '{name}' must be an attrs class")
        if not any("__call__" in vars(base) for base in obj.__mro__[:-1]):  # every class has type's __call__
            raise PluginError(f"plugin '{plugin}': mask generator '{name}' has no __call__(ctx)")
    if kind == "bundles":
        from .bundles import ModelBundle

        if not isinstance(obj, ModelBundle):
            raise PluginError(f"plugin '{plugin}': model bundle '{name}' must be a vampkit.ModelBundle value, "
                              f"got {type(obj).__name__}")
        if any(c in name for c in ":,/\\") or name != name.strip():
            raise PluginError(f"plugin '{plugin}': model bundle name '{name}' may not contain ':', ',', "
                              f"slashes or surrounding spaces (it is a --weights value)")
    if kind == "metrics":
        if not (isinstance(obj, type) and attrs.has(obj)):
            raise PluginError(f"plugin '{plugin}': metric '{name}' must be an attrs class")
        if getattr(obj, "kind", None) not in ("pair", "set"):
            raise PluginError(f"plugin '{plugin}': metric '{name}' needs kind = 'pair' or 'set'")
    return name


def _collect(kind: str) -> dict[str, Registration]:
    manager = plugin_manager()
    hook = getattr(manager.hook, KINDS[kind])
    found: dict[str, Registration] = {}
    # get_hookimpls() lists implementations in registration order (pluggy *calls* them in the
    # reverse order); walking this list builds registries in load order: built-ins first
    for impl in hook.get_hookimpls():
        plugin = impl.plugin_name

        def register(obj: Any, _plugin: str = plugin) -> None:
            name = _validate(kind, obj, _plugin)
            if name in found:
                other = found[name].plugin
                raise PluginError(
                    f"two plugins register the {_KIND_LABEL[kind]} '{name}': '{other}' and '{_plugin}'"
                    f" (uninstall one, or limit plugins with {LOAD_PLUGINS_ENV})"
                )
            found[name] = Registration(name, obj, _plugin)

        try:
            impl.function(register=register)
        except VampkitError:
            raise
        except Exception as exc:  # a plugin's own bug, named as such
            raise PluginError(
                f"plugin '{plugin}' raised in {KINDS[kind]}: {type(exc).__name__}: {exc}"
            ) from exc
    return found


def registered(kind: str) -> dict[str, Registration]:
    """Everything of one kind (``"masks"``, ``"codecs"``...) that loaded plugins register."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    with _lock:
        if kind not in _registries:
            _registries[kind] = _collect(kind)
        return _registries[kind]


def get(kind: str, name: str) -> Any:
    """The registered object ``name`` of ``kind``; a clear error with a suggestion otherwise."""
    registry = registered(kind)
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise UnknownNameError(
            f"unknown {_KIND_LABEL[kind]} '{name}'{did_you_mean(name, registry)} (known: {known})"
        )
    return registry[name].obj


@attrs.frozen
class MaskListing:
    """One row of ``vampkit masks``: a generator, its plugin, doc line and parameters."""

    name: str
    plugin: str
    doc: str
    parameters: tuple[Any, ...]  # vampkit.params.ParamInfo


def mask_listing() -> list[MaskListing]:
    """Every registered mask generator as ``vampkit masks`` lists it, sorted by name (the
    command line and ``vampkit.testing`` both read this)."""
    from .params import describe, first_line

    return [MaskListing(name, reg.plugin, first_line(reg.obj.__doc__), tuple(describe(reg.obj)))
            for name, reg in sorted(registered("masks").items())]


def mask_generators() -> dict[str, type]:
    """Every registered mask generator class by name."""
    return {name: reg.obj for name, reg in registered("masks").items()}


def get_mask_generator(name: str) -> type:
    return get("masks", name)


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins in load order, with what each registers."""
    manager = plugin_manager()
    by_plugin: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for reg in registered(kind).values():
            by_plugin.setdefault(reg.plugin, {}).setdefault(kind, []).append(reg.name)
    infos = []
    for name, plugin in manager.list_name_plugin():
        hooks = tuple(sorted(h.name for h in manager.get_hookcallers(plugin) or ()))
        builtin = name in BUILTIN_PLUGINS
        version = _vampkit_version() if builtin else _dist_versions.get(name)
        registers = {k: tuple(v) for k, v in by_plugin.get(name, {}).items()}
        infos.append(PluginInfo(name, version, builtin, hooks, registers))
    return infos


def _vampkit_version() -> str | None:
    try:
        return importlib.metadata.version("vampkit")
    except importlib.metadata.PackageNotFoundError:
        return None

"""Loading plugins from entry points and calling their hooks through pluggy."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import inspect
import os
import re
import threading
import types
from collections.abc import Iterator, Mapping
from typing import Any

import click
import pluggy

from fontana import hookspecs
from fontana.errors import PluginError
from fontana.plugins.claims import (
    BackendRegistrar,
    Collector,
    CommandGroup,
    SettingsRegistrar,
    first_claims,
    guard,
    guard_wrapper,
)
from fontana.plugins.records import BackendRegistry, Conflict, PluginRecord

ENTRY_POINT_GROUP = "fontana"
#: The distribution whose entry points are the built-in plugins.
BUILTIN_DISTRIBUTION = "fontana"
ENV_ONLY = "FONTANA_PLUGINS"
ENV_DISABLE = "FONTANA_DISABLE_PLUGINS"
ENV_STRICT = "FONTANA_STRICT_PLUGINS"

#: Backend families and the hook that fills each one.
FAMILIES: Mapping[str, str] = {
    "storage": "fontana_register_storage_backends",
    "da": "fontana_register_da_backends",
    "l1": "fontana_register_l1_watchers",
    "proofs": "fontana_register_proof_providers",
    "charging": "fontana_register_charging_adapters",
    "tx": "fontana_register_tx_engines",
    "validators": "fontana_register_bridge_validators",
}


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def strict_mode() -> bool:
    return os.environ.get(ENV_STRICT, "").lower() in {"1", "true", "yes", "on"}


class PluginHost:
    """The plugin manager plus what each plugin loaded, provided and lost."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        #: Registered (or failed) plugins, by plugin name.
        self.records: dict[str, PluginRecord] = {}
        #: Entry points not registered: disabled by the environment, or shadowed.
        self.inactive: list[PluginRecord] = []
        self._loaded = False
        self._registries: dict[str, BackendRegistry[Any]] = {}
        #: Lost claims by source (a family, ``settings``, ``commands``), as (loser, conflict).
        self._conflicts: dict[str, list[tuple[str, Conflict]]] = {}
        self._commands: list[tuple[str, str]] = []
        #: Whose hook code runs now, and what the current hook call collects into;
        #: hook calls hold the lock, so claims are attributed right across threads.
        self._acting: list[str] = []
        self._collecting: list[Collector[Any]] = []
        self._lock = threading.RLock()

    # -- loading -----------------------------------------------------------

    def load_entry_points(self) -> None:
        """Import and register every ``fontana`` entry point once.

        Built-ins are registered last, so pluggy calls them before every
        third-party implementation that is not ``tryfirst``; third-party plugins
        are called in the order of (distribution, entry-point name).
        """
        if self._loaded:
            return
        self._loaded = True
        only, disabled = _env_names(ENV_ONLY), _env_names(ENV_DISABLE)
        enabled: list[tuple[PluginRecord, importlib.metadata.EntryPoint]] = []
        builtin_names = {BUILTIN_DISTRIBUTION}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist, version = _name_and_version(ep.dist)
            record = PluginRecord(
                name=ep.name,
                module=ep.value,
                distribution=dist,
                version=version,
                builtin=_normalize(dist) == BUILTIN_DISTRIBUTION,
            )
            names = {ep.name, dist or ""}
            if record.builtin:
                builtin_names.add(ep.name)
            elif (only is not None and not names & only) or (disabled and names & disabled):
                record.status = "disabled"
                self.inactive.append(record)
                continue
            enabled.append((record, ep))
        if disabled and disabled & builtin_names:
            import logging

            logging.getLogger(__name__).warning(
                "%s cannot disable built-in plugins (%s); override their backends "
                "with a tryfirst plugin instead",
                ENV_DISABLE,
                ", ".join(sorted(disabled & builtin_names)),
            )
        for record, ep in _registration_order(self._unique_names(enabled)):
            self.records[record.name] = record
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(record, f"import failed: {_describe(exc)}", exc)
                continue
            self._register(plugin, record)

    def _unique_names(
        self, enabled: list[tuple[PluginRecord, importlib.metadata.EntryPoint]]
    ) -> list[tuple[PluginRecord, importlib.metadata.EntryPoint]]:
        """One entry point per name: a built-in, else the first distribution by name."""
        by_name: dict[str, list[tuple[PluginRecord, importlib.metadata.EntryPoint]]] = {}
        for pair in enabled:
            by_name.setdefault(pair[0].name, []).append(pair)
        winners = []
        for pairs in by_name.values():
            pairs.sort(key=lambda p: (not p[0].builtin, _normalize(p[0].distribution)))
            winners.append(pairs[0])
            kept_by = pairs[0][0].distribution or "?"
            for loser, _ in pairs[1:]:
                loser.status = "shadowed"
                loser.conflicts.append(Conflict("entry point", loser.name, kept_by))
                self.inactive.append(loser)
        return winners

    def register(self, plugin: object, name: str) -> PluginRecord:
        """Register an in-process plugin object (tests, embedding applications).

        It is registered after the entry points, so pluggy calls it before them
        (after ``tryfirst`` implementations): it overrides the built-ins.
        """
        if name in self.records:
            raise PluginError(f"a plugin named {name!r} is already registered")
        record = PluginRecord(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        self.records[name] = record
        self._register(plugin, record)
        return record

    def unregister(self, name: str) -> None:
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._changed()

    def _register(self, plugin: object, record: PluginRecord) -> None:
        impls = {
            attr: opts
            for attr in dir(plugin)
            if (opts := self.pm.parse_hookimpl_opts(plugin, attr)) is not None
        }
        unknown = [attr for attr, opts in impls.items() if not self._is_hook(opts, attr)]
        if unknown:
            self._fail(record, f"implements unknown hook(s) {', '.join(unknown)} (misspelt?)")
            return
        not_generators = [
            attr
            for attr, opts in impls.items()
            if (opts.get("wrapper") or opts.get("hookwrapper"))
            and not inspect.isgeneratorfunction(getattr(plugin, attr))
        ]
        if not_generators:
            self._fail(record, f"wrapper hook(s) {', '.join(not_generators)} must yield once")
            return
        stand_in = types.SimpleNamespace()
        for attr, opts in impls.items():
            wrapper = opts.get("wrapper") or opts.get("hookwrapper")
            hook = opts.get("specname") or attr
            guarded = (guard_wrapper if wrapper else guard)(
                self, record.name, hook, getattr(plugin, attr)
            )
            setattr(stand_in, attr, hookspecs.hookimpl(guarded, **opts))
        try:
            self.pm.register(stand_in, name=record.name)
        except Exception as exc:
            self._fail(record, f"invalid hook implementation: {_describe(exc)}", exc)
            return
        record.hooks = sorted(c.name for c in self.pm.get_hookcallers(stand_in) or ())
        self._changed()

    def _is_hook(self, opts: Mapping[str, Any], attr: str) -> bool:
        caller = getattr(self.pm.hook, opts.get("specname") or attr, None)
        return caller is not None and caller.has_spec()

    def _changed(self) -> None:
        """Forget what the hooks returned: the set of plugins changed."""
        self._registries.clear()
        self._conflicts.clear()
        self._commands.clear()

    def _fail(self, record: PluginRecord, message: str, exc: BaseException | None = None) -> None:
        record.status = "failed"
        record.error = message
        if strict_mode():
            raise PluginError(f"plugin {record.name!r}: {message}") from exc

    # -- calling hooks -------------------------------------------------------

    @contextlib.contextmanager
    def acting_as(self, plugin: str) -> Iterator[None]:
        """Run a plugin's hook code: what it claims is attributed to it."""
        self._acting.append(plugin)
        try:
            yield
        finally:
            self._acting.pop()

    def current_plugin(self) -> str:
        if not self._acting:
            raise PluginError("a register callback was called after its hook returned")
        return self._acting[-1]

    def hook_failed(self, plugin: str, hook: str, exc: BaseException) -> None:
        """A plugin's hook raised: drop what it claimed in this call and mark it failed."""
        if self._collecting:
            self._collecting[-1].discard(plugin)
        self._fail(self.records[plugin], f"{hook} raised {_describe(exc)}", exc)

    def _call(self, hook: str, collector: Collector[Any], **kwargs: Any) -> None:
        """Call a hook through pluggy, collecting claims into ``collector``."""
        with self._lock:
            self._collecting.append(collector)
            try:
                getattr(self.pm.hook, hook)(**kwargs)
            finally:
                self._collecting.pop()

    def backends(self, family: str) -> BackendRegistry[Any]:
        """The registry of one family (a key of ``FAMILIES``: ``storage``, ``proofs``, ...)."""
        if family not in FAMILIES:
            raise KeyError(f"unknown backend family {family!r}; one of {', '.join(FAMILIES)}")
        if family not in self._registries:
            registrar: BackendRegistrar[Any] = BackendRegistrar(self, family)
            self._call(FAMILIES[family], registrar, register=registrar)
            specs, self._conflicts[family] = registrar.resolve()
            failed = [r.name for r in self.records.values() if r.status == "failed"]
            self._registries[family] = BackendRegistry(family, specs, failed)
        return self._registries[family]

    def settings_sections(self) -> dict[str, type]:
        """Plugin-declared config sections, by section name (core names stay the core's)."""
        from fontana.config import CORE_SECTIONS

        registrar = SettingsRegistrar(self)
        self._call("fontana_register_settings", registrar, register=registrar)
        kept, self._conflicts["settings"] = first_claims(
            registrar.entries, "settings section", CORE_SECTIONS
        )
        return {section: cls for section, (_, cls) in kept.items()}

    def add_commands(self, cli: click.Group) -> None:
        """Add the plugins' commands to ``cli``, refusing names it already has."""
        collector: Collector[tuple[str, click.Command]] = Collector(self)
        self._call("fontana_register_commands", collector, cli=CommandGroup(collector))
        kept, self._conflicts["commands"] = first_claims(
            collector.entries, "command", set(cli.commands)
        )
        self._commands = [(owner, name) for name, (owner, _) in kept.items()]
        for name, (_, command) in kept.items():
            cli.add_command(command, name)

    def describe(self, include_disabled: bool = False) -> list[PluginRecord]:
        """Every plugin's record, with what it provides and the names it lost.

        Commands are as :meth:`add_commands` last found them; if it never ran, the
        commands hook runs against an empty group (no core command names to refuse).
        """
        registries = [self.backends(family) for family in FAMILIES]
        self.settings_sections()
        if "commands" not in self._conflicts:
            self.add_commands(click.Group())
        lost = [pair for pairs in self._conflicts.values() for pair in pairs]
        for record in self.records.values():
            record.provides = {}
            for registry in registries:
                mine = [s.info() for s in registry if s.plugin == record.name]
                if mine:
                    record.provides[registry.family] = mine
            record.commands = [name for owner, name in self._commands if owner == record.name]
            record.conflicts = [c for owner, c in lost if owner == record.name]
        return [
            r
            for r in sorted(
                [*self.records.values(), *self.inactive],
                key=lambda r: (_normalize(r.distribution), r.name),
            )
            if include_disabled or r.status != "disabled"
        ]


@functools.cache
def _name_and_version(
    dist: importlib.metadata.Distribution | None,
) -> tuple[str | None, str | None]:
    """Read once per distribution: each read parses its whole METADATA file."""
    if dist is None:
        return None, None
    metadata = dist.metadata
    return metadata["Name"], metadata["Version"]


def _normalize(distribution: str | None) -> str:
    """A distribution name as packaging compares them (``Fontana_X`` is ``fontana-x``)."""
    return re.sub(r"[-_.]+", "-", distribution or "").lower()


def _registration_order(
    pairs: list[tuple[PluginRecord, importlib.metadata.EntryPoint]],
) -> list[tuple[PluginRecord, importlib.metadata.EntryPoint]]:
    """Third-party plugins last-first, then built-ins: pluggy calls the last registered first."""
    ordered = sorted(pairs, key=lambda p: (_normalize(p[0].distribution), p[0].name))
    third_party = [p for p in ordered if not p[0].builtin]
    return [*reversed(third_party), *(p for p in ordered if p[0].builtin)]


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loading entry points on first use."""
    global _host
    if _host is None:
        _host = PluginHost()
        _host.load_entry_points()
    return _host


def reset_host() -> None:
    """Forget the process-wide host (tests that change env or entry points)."""
    global _host
    _host = None

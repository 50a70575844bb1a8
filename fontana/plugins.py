"""Loading plugins from entry points, calling their hooks, and backend registries.

Every plugin, built-in or third-party, comes from the ``fontana`` entry-point
group. Hooks are called through pluggy's own hook caller, so ``tryfirst``,
``trylast`` and ``wrapper=True`` behave as pluggy documents. A plugin that
cannot be imported, implements an unknown hook, or raises inside a hook is
recorded with its error and skipped (its registrations from that call are
discarded), so one bad install never takes down ``fontana --help``
(``FONTANA_STRICT_PLUGINS=1`` turns those into exceptions, for development and CI).

Names plugins claim (entry-point names, backend names and URL schemes per
family, commands, config sections) never clash silently: the first claim in
pluggy's call order wins and every loser is recorded as a conflict on its
plugin's record (see "Conflicts" in ``docs/plugins.md``).

Environment variables (they filter third-party plugins; built-ins always load):

* ``FONTANA_PLUGINS=a,b``: load only these (entry-point or distribution names).
* ``FONTANA_DISABLE_PLUGINS=a,b``: load all but these.
* ``FONTANA_STRICT_PLUGINS=1``: re-raise plugin errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.metadata
import inspect
import os
import re
import threading
import types
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import click
import pluggy

from fontana import hookspecs
from fontana.errors import PluginError, UnknownBackendError

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
}

#: Who keeps a name the core itself uses (a core command or config section).
CORE = "core"

_SECTION_RE = re.compile(r"[a-z][a-z0-9_]*")

Status = Literal["loaded", "failed", "disabled", "shadowed"]
F = TypeVar("F")
T = TypeVar("T")


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def strict_mode() -> bool:
    return os.environ.get(ENV_STRICT, "").lower() in {"1", "true", "yes", "on"}


# Every command imports this module, so its records are dataclasses: attrs would add
# 15 ms to `fontana --help`.


@dataclasses.dataclass(frozen=True)
class Conflict:
    """A name a plugin claimed but did not get, and who kept it."""

    #: ``entry point``, ``backend``, ``scheme``, ``command`` or ``settings section``.
    kind: str
    name: str
    #: The plugin that kept the name, ``core``, or (for entry points) the distribution.
    kept_by: str
    #: The backend family, for ``backend`` and ``scheme`` conflicts.
    family: str | None = None

    def describe(self) -> str:
        family = f"{self.family} " if self.family else ""
        return f"{family}{self.kind} {self.name!r} kept by {self.kept_by}"


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """What ``fontana plugins`` shows about one backend a plugin provides."""

    name: str
    schemes: tuple[str, ...]
    description: str
    wrapped_by: tuple[str, ...]


@dataclasses.dataclass
class PluginRecord:
    """What ``fontana plugins`` reports about one entry point."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: Status = "loaded"
    error: str | None = None
    hooks: list[str] = dataclasses.field(default_factory=list)
    provides: dict[str, list[BackendInfo]] = dataclasses.field(default_factory=dict)
    commands: list[str] = dataclasses.field(default_factory=list)
    conflicts: list[Conflict] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class BackendSpec(Generic[F]):
    """One backend a plugin registered."""

    family: str
    name: str
    factory: F
    plugin: str
    schemes: tuple[str, ...] = ()
    description: str = ""
    #: Plugins whose wrappers replaced the factory, in order.
    wrapped_by: tuple[str, ...] = ()

    def info(self) -> BackendInfo:
        return BackendInfo(self.name, self.schemes, self.description, self.wrapped_by)


class BackendRegistry(Generic[F]):
    """The backends of one family, found by name or by URL scheme."""

    def __init__(self, family: str, specs: Sequence[BackendSpec[F]], failed: Sequence[str]):
        self.family = family
        self._specs = list(specs)
        self._failed = list(failed)

    def __iter__(self) -> Iterator[BackendSpec[F]]:
        return iter(self._specs)

    def names(self) -> list[str]:
        return [s.name for s in self._specs]

    def resolve(self, name_or_url: str) -> BackendSpec[F]:
        """The backend for a bare name or for a URL's scheme (``a+b://`` matches ``a``)."""
        if "://" in name_or_url:
            scheme = name_or_url.split("://", 1)[0].lower()
            candidates = (scheme, scheme.split("+", 1)[0])
            for key in candidates:
                for spec in self._specs:
                    if key in spec.schemes:
                        return spec
            wanted = f"URL scheme {scheme!r}"
        else:
            for spec in self._specs:
                if spec.name == name_or_url:
                    return spec
            wanted = f"name {name_or_url!r}"
        available = (
            ", ".join(f"{s.name} ({'/'.join(s.schemes) or 'by name'})" for s in self._specs)
            or "none"
        )
        hint = f"; plugins that failed to load: {', '.join(self._failed)}" if self._failed else ""
        raise UnknownBackendError(
            f"no {self.family} backend for {wanted}; available: {available}{hint}"
        )


# -- collecting what plugins claim during one hook call ------------------------


class _Collector(Generic[T]):
    """What plugins claim during one hook call, in pluggy's call order, by plugin."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self.entries: list[tuple[str, T]] = []

    def claim(self, item: T) -> None:
        self.entries.append((self.host.current_plugin(), item))

    def discard(self, owner: str) -> None:
        """Forget a plugin's claims: it failed during this call."""
        self.entries = [(o, item) for o, item in self.entries if o != owner]


def _first_claims(
    entries: Sequence[tuple[str, tuple[str, T]]], kind: str, reserved: Collection[str]
) -> tuple[dict[str, tuple[str, T]], list[tuple[str, Conflict]]]:
    """The first claim of each name wins; names in ``reserved`` belong to the core."""
    kept: dict[str, tuple[str, T]] = {}
    conflicts: list[tuple[str, Conflict]] = []
    for owner, (name, value) in entries:
        if name in reserved:
            conflicts.append((owner, Conflict(kind, name, CORE)))
        elif name in kept:
            conflicts.append((owner, Conflict(kind, name, kept[name][0])))
        else:
            kept[name] = (owner, value)
    return kept, conflicts


@dataclasses.dataclass(frozen=True)
class _Replacement:
    name: str
    factory: Any


class BackendRegistrar(_Collector["BackendSpec[F] | _Replacement"], Generic[F]):
    """The ``register`` callback of the backend hooks.

    Plain implementations only call it. Wrappers (``@hookimpl(wrapper=True)``)
    may also read :attr:`specs` after their ``yield`` and swap a backend's
    factory with :meth:`replace`, to instrument another plugin's backend.
    """

    def __init__(self, host: PluginHost, family: str) -> None:
        super().__init__(host)
        self.family = family

    def __call__(
        self, name: str, factory: F, *, schemes: Sequence[str] = (), description: str = ""
    ) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.family} backend name must be non-empty text, not {name!r}")
        if not callable(factory):
            raise PluginError(
                f"{self.family} backend {name!r}: factory {factory!r} is not callable"
            )
        if isinstance(schemes, str) or not all(isinstance(s, str) and s for s in schemes):
            raise PluginError(
                f"{self.family} backend {name!r}: schemes must be a sequence of non-empty "
                f"strings, not {schemes!r}"
            )
        if not isinstance(description, str):
            raise PluginError(f"{self.family} backend {name!r}: description must be text")
        schemes = tuple(dict.fromkeys(s.lower() for s in schemes))
        owner = self.host.current_plugin()
        self.claim(BackendSpec(self.family, name, factory, owner, schemes, description))

    @property
    def specs(self) -> tuple[BackendSpec[F], ...]:
        """The backends registered so far that would be used, in call order."""
        return tuple(self.resolve()[0])

    def replace(self, name: str, factory: F) -> None:
        """Use ``factory`` for backend ``name`` (registered before this call)."""
        if not any(s.name == name for s in self.specs):
            raise PluginError(f"no {self.family} backend {name!r} registered to replace")
        if not callable(factory):
            raise PluginError(
                f"{self.family} backend {name!r}: factory {factory!r} is not callable"
            )
        self.claim(_Replacement(name, factory))

    def resolve(self) -> tuple[list[BackendSpec[F]], list[tuple[str, Conflict]]]:
        """The backends in use and the claims that lost: first name, then first scheme wins."""
        kept: dict[str, BackendSpec[F]] = {}
        scheme_owner: dict[str, str] = {}
        conflicts: list[tuple[str, Conflict]] = []
        for owner, item in self.entries:
            if isinstance(item, _Replacement):
                old = kept.get(item.name)
                if old is not None:
                    kept[item.name] = dataclasses.replace(
                        old, factory=item.factory, wrapped_by=(*old.wrapped_by, owner)
                    )
                continue
            if item.name in kept:
                kept_by = kept[item.name].plugin
                conflicts.append((owner, Conflict("backend", item.name, kept_by, self.family)))
                continue
            schemes = []
            for scheme in item.schemes:
                if scheme in scheme_owner:
                    winner = scheme_owner[scheme]
                    conflicts.append((owner, Conflict("scheme", scheme, winner, self.family)))
                else:
                    scheme_owner[scheme] = owner
                    schemes.append(scheme)
            kept[item.name] = dataclasses.replace(item, schemes=tuple(schemes))
        return list(kept.values()), conflicts


class _SettingsRegistrar(_Collector[tuple[str, type]]):
    """The ``register`` callback of ``fontana_register_settings``."""

    def __call__(self, section: str, settings_class: type) -> None:
        if not isinstance(section, str) or not _SECTION_RE.fullmatch(section):
            raise PluginError(
                f"config section name {section!r} must be lower-case letters, digits and '_'"
            )
        import attrs

        if not attrs.has(settings_class):
            raise PluginError(f"config section [{section}] must be an attrs class")
        self.claim((section, settings_class))


class _CommandGroup(click.Group):
    """The ``cli`` a commands hook receives: it collects, the host adds what may be added."""

    def __init__(self, collector: _Collector[tuple[str, click.Command]]) -> None:
        super().__init__("fontana")
        self.collector = collector

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if not name:
            raise PluginError(f"command {cmd!r} has no name")
        self.collector.claim((name, cmd))


# -- guarding each hook implementation -------------------------------------------


def _guard(host: PluginHost, owner: str, hook: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` made to record its own failure (and drop its claims) instead of raising."""

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with host.acting_as(owner):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                host.hook_failed(owner, hook, exc)
        return None

    return guarded


def _guard_wrapper(
    host: PluginHost, owner: str, hook: str, fn: Callable[..., Any]
) -> Callable[..., Any]:
    """The same for a wrapper: its code before and after ``yield`` is guarded.

    A wrapper that fails before its ``yield`` lets the call go on without it; one
    that fails after leaves the result as the inner implementations made it.
    """

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        with host.acting_as(owner):
            try:
                next(gen)
                started = True
            except Exception as exc:  # StopIteration too: it never yielded
                host.hook_failed(owner, hook, exc)
                started = False
        if not started:
            return (yield)
        try:
            result = yield
        except BaseException:  # an inner failure in strict mode: let it through
            gen.close()
            raise
        with host.acting_as(owner):
            try:
                gen.send(result)
            except StopIteration as stop:
                return stop.value
            except Exception as exc:
                host.hook_failed(owner, hook, exc)
                return result
            gen.close()
            host.hook_failed(owner, hook, RuntimeError("the wrapper yielded more than once"))
        return result

    return guarded


# -- the host ----------------------------------------------------------------------


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
        self._collecting: list[_Collector[Any]] = []
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
            guard = _guard_wrapper if opts.get("wrapper") or opts.get("hookwrapper") else _guard
            hook = opts.get("specname") or attr
            guarded = guard(self, record.name, hook, getattr(plugin, attr))
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

    def _call(self, hook: str, collector: _Collector[Any], **kwargs: Any) -> None:
        """Call a hook through pluggy, collecting claims into ``collector``."""
        with self._lock:
            self._collecting.append(collector)
            try:
                getattr(self.pm.hook, hook)(**kwargs)
            finally:
                self._collecting.pop()

    def backends(self, family: str) -> BackendRegistry[Any]:
        """The registry of one family (``storage``, ``da``, ``l1``, ``proofs``, ``charging``)."""
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

        registrar = _SettingsRegistrar(self)
        self._call("fontana_register_settings", registrar, register=registrar)
        kept, self._conflicts["settings"] = _first_claims(
            registrar.entries, "settings section", CORE_SECTIONS
        )
        return {section: cls for section, (_, cls) in kept.items()}

    def add_commands(self, cli: click.Group) -> None:
        """Add the plugins' commands to ``cli``, refusing names it already has."""
        collector: _Collector[tuple[str, click.Command]] = _Collector(self)
        self._call("fontana_register_commands", collector, cli=_CommandGroup(collector))
        kept, self._conflicts["commands"] = _first_claims(
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

"""Loading plugins from entry points, surviving broken ones, and backend registries.

Every plugin, built-in or third-party, comes from the ``fontana`` entry-point
group. A plugin that cannot be imported, implements an unknown hook, or
raises inside a registration hook is recorded with its error and skipped, so
one bad install never takes down ``fontana --help`` (``FONTANA_STRICT_PLUGINS=1``
turns those into exceptions, for development and CI).

Environment variables:

* ``FONTANA_PLUGINS=a,b``: load only these (entry-point or distribution names).
* ``FONTANA_DISABLE_PLUGINS=a,b``: load all but these.
* ``FONTANA_STRICT_PLUGINS=1``: re-raise plugin errors.
"""

from __future__ import annotations

import importlib.metadata
import os
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import attrs
import pluggy

from fontana import hookspecs
from fontana.errors import PluginError, UnknownBackendError

ENTRY_POINT_GROUP = "fontana"
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

Status = Literal["loaded", "failed", "disabled"]
F = TypeVar("F")


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def strict_mode() -> bool:
    return os.environ.get(ENV_STRICT, "").lower() in {"1", "true", "yes", "on"}


@attrs.define
class PluginRecord:
    """What ``fontana plugins`` reports about one entry point."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: Status = "loaded"
    error: str | None = None
    hooks: list[str] = attrs.Factory(list)
    provides: dict[str, list[str]] = attrs.Factory(dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class BackendSpec(Generic[F]):
    """One backend a plugin registered."""

    family: str
    name: str
    factory: F
    plugin: str
    schemes: tuple[str, ...] = ()
    description: str = ""


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


class PluginHost:
    """The plugin manager plus what each plugin loaded and provided."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._loaded = False
        self._registries: dict[str, BackendRegistry[Any]] = {}

    # -- loading -----------------------------------------------------------

    def load_entry_points(self) -> None:
        """Import and register every ``fontana`` entry point once."""
        if self._loaded:
            return
        self._loaded = True
        only, disabled = _env_names(ENV_ONLY), _env_names(ENV_DISABLE)
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = ep.dist.metadata["Name"] if ep.dist is not None else None
            record = PluginRecord(
                name=ep.name,
                module=ep.value,
                distribution=dist,
                version=ep.dist.version if ep.dist is not None else None,
            )
            self.records[ep.name] = record
            names = {ep.name, dist or ""}
            if (only is not None and not names & only) or (disabled and names & disabled):
                record.status = "disabled"
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(record, f"import failed: {_describe(exc)}", exc)
                continue
            self._register(plugin, record)

    def register(self, plugin: object, name: str) -> PluginRecord:
        """Register an in-process plugin object (tests, embedding applications)."""
        record = PluginRecord(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        self.records[name] = record
        self._register(plugin, record)
        return record

    def unregister(self, name: str) -> None:
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._registries.clear()

    def _register(self, plugin: object, record: PluginRecord) -> None:
        unknown = [
            attr
            for attr in dir(plugin)
            if self.pm.parse_hookimpl_opts(plugin, attr) is not None
            and not hasattr(hookspecs, attr)
        ]
        if unknown:
            self._fail(record, f"implements unknown hook(s) {', '.join(unknown)} (misspelt?)")
            return
        try:
            self.pm.register(plugin, name=record.name)
        except Exception as exc:
            self._fail(record, f"invalid hook implementation: {_describe(exc)}", exc)
            return
        record.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or ())
        self._registries.clear()

    def _fail(self, record: PluginRecord, message: str, exc: BaseException | None = None) -> None:
        record.status = "failed"
        record.error = message
        if strict_mode():
            raise PluginError(f"plugin {record.name!r}: {message}") from exc

    # -- calling hooks, one implementation at a time -------------------------

    def call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of a hook, isolating failures per plugin."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                impl.function(**args)
            except Exception as exc:
                record = self.records.setdefault(
                    impl.plugin_name, PluginRecord(name=impl.plugin_name, module="?")
                )
                self._fail(record, f"{hook_name} raised {_describe(exc)}", exc)

    def backends(self, family: str) -> BackendRegistry[Any]:
        """The registry of one family (``storage``, ``da``, ``l1``, ``proofs``, ``charging``)."""
        if family not in FAMILIES:
            raise KeyError(f"unknown backend family {family!r}; one of {', '.join(FAMILIES)}")
        if family not in self._registries:
            specs: list[BackendSpec[Any]] = []
            current: list[str] = []

            def register(
                name: str,
                factory: Callable[..., Any],
                *,
                schemes: Sequence[str] = (),
                description: str = "",
            ) -> None:
                if any(s.name == name for s in specs):
                    raise PluginError(f"{family} backend {name!r} is registered twice")
                specs.append(
                    BackendSpec(family, name, factory, current[0], tuple(schemes), description)
                )

            for impl in getattr(self.pm.hook, FAMILIES[family]).get_hookimpls():
                current[:] = [impl.plugin_name]
                before = len(specs)
                try:
                    impl.function(register=register)
                except Exception as exc:
                    del specs[before:]
                    record = self.records.setdefault(
                        impl.plugin_name, PluginRecord(name=impl.plugin_name, module="?")
                    )
                    self._fail(record, f"{FAMILIES[family]} raised {_describe(exc)}", exc)
            failed = [r.name for r in self.records.values() if r.status == "failed"]
            self._registries[family] = BackendRegistry(family, specs, failed)
            for spec in specs:
                record = self.records.get(spec.plugin)
                if record is not None:
                    names = record.provides.setdefault(family, [])
                    if spec.name not in names:
                        names.append(spec.name)
        return self._registries[family]

    def settings_sections(self) -> dict[str, type]:
        """Plugin-declared config sections, by section name."""
        sections: dict[str, type] = {}

        def register(section: str, settings_class: type) -> None:
            if section in sections:
                raise PluginError(f"config section [{section}] is declared twice")
            if not attrs.has(settings_class):
                raise PluginError(f"config section [{section}] must be an attrs class")
            sections[section] = settings_class

        self.call_each("fontana_register_settings", register=register)
        return sections

    def add_commands(self, cli: Any) -> None:
        self.call_each("fontana_register_commands", cli=cli)

    def describe(self, include_disabled: bool = False) -> list[PluginRecord]:
        """Records of every plugin, with the backends each provides filled in."""
        for family in FAMILIES:
            self.backends(family)
        return [
            r
            for r in sorted(self.records.values(), key=lambda r: (r.distribution or "", r.name))
            if include_disabled or r.status != "disabled"
        ]


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


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

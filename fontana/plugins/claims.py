"""Collecting what plugins claim during one hook call, and guarding each implementation.

Every implementation is registered with pluggy wrapped in a guard that records
its plugin's failure (and drops what it claimed in that call) instead of
raising, so pluggy's own caller can run the hook with its ordering and wrappers.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import click

from fontana.errors import PluginError
from fontana.plugins.records import CORE, URL_SCHEME, BackendSpec, Conflict

if TYPE_CHECKING:
    from fontana.plugins.host import PluginHost

_SECTION_RE = re.compile(r"[a-z][a-z0-9_]*")

F = TypeVar("F")
T = TypeVar("T")


class Collector(Generic[T]):
    """What plugins claim during one hook call, in pluggy's call order, by plugin."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self.entries: list[tuple[str, T]] = []

    def claim(self, item: T) -> None:
        self.entries.append((self.host.current_plugin(), item))

    def discard(self, owner: str) -> None:
        """Forget a plugin's claims: it failed during this call."""
        self.entries = [(o, item) for o, item in self.entries if o != owner]


def first_claims(
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


class BackendRegistrar(Collector["BackendSpec[F] | _Replacement"], Generic[F]):
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
        if isinstance(schemes, str) or not all(
            isinstance(s, str) and URL_SCHEME.fullmatch(s) for s in schemes
        ):
            raise PluginError(
                f"{self.family} backend {name!r}: schemes must be a sequence of URL schemes "
                f"(ASCII letter, then letters, digits, +, - or .), not {schemes!r}"
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


class SettingsRegistrar(Collector[tuple[str, type]]):
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


class CommandGroup(click.Group):
    """The ``cli`` a commands hook receives: it collects, the host adds what may be added."""

    def __init__(self, collector: Collector[tuple[str, click.Command]]) -> None:
        super().__init__("fontana")
        self.collector = collector

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if not name:
            raise PluginError(f"command {cmd!r} has no name")
        self.collector.claim((name, cmd))


# -- guarding each hook implementation -------------------------------------------


def guard(host: PluginHost, owner: str, hook: str, fn: Callable[..., Any]) -> Callable[..., Any]:
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


def guard_wrapper(
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

"""What the plugin host records and resolves: plugins, backends, conflicts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from typing import Any, Generic, Literal, TypeVar

from fontana.errors import UnknownBackendError

#: Who keeps a name the core itself uses (a core command or config section).
CORE = "core"

Status = Literal["loaded", "failed", "disabled", "shadowed"]
F = TypeVar("F")

#: A URL scheme as RFC 3986 spells it: ASCII letters first, then letters, digits, ``+-.``.
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)


# Every command imports these, so they are dataclasses: attrs would add
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
            scheme = name_or_url.split("://", 1)[0]
            if URL_SCHEME.fullmatch(scheme):  # ASCII only: no look-alike folds into a scheme
                scheme = scheme.lower()
                for key in (scheme, scheme.split("+", 1)[0]):
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

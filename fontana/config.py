"""Typed settings merged from defaults, ``fontana.toml``, ``.env`` and ``FONTANA_*``.

Precedence, lowest first: field defaults, the TOML file, a ``.env`` file in
the working directory, then the process environment. Each value remembers
where it came from so ``fontana config show`` can say why it is what it is.
A wrong value is a :class:`~fontana.errors.ConfigError` naming the key, the
value, its source and what was expected; an unknown key in the TOML file is
an error too, because a typo in a payment system's config must not be
silently ignored.

The TOML file is ``$FONTANA_CONFIG`` if set, else ``./fontana.toml``, else
``$FONTANA_HOME/fontana.toml``; none is required. Environment variables are
``FONTANA_<KEY>`` for top-level keys and ``FONTANA_<SECTION>_<KEY>`` for the
others (``FONTANA_STORAGE_URL``).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs

from fontana.errors import ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "FONTANA_"
#: Variables that steer loading itself rather than naming a setting.
CONTROL_VARS = frozenset(
    {"FONTANA_CONFIG", "FONTANA_PLUGINS", "FONTANA_DISABLE_PLUGINS", "FONTANA_STRICT_PLUGINS"}
)
#: Variables reserved for test tooling.
TEST_VAR_PREFIXES = ("FONTANA_TEST_", "FONTANA_PG_")
DEFAULT_HOME = "~/.fontana"


def secret(default: Any = None) -> Any:
    """An attrs field whose value ``config show`` masks."""
    return attrs.field(default=default, metadata={"secret": True})


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError("expected an integer >= 1")


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 0:
        raise ValueError("expected an integer >= 0")


@attrs.frozen
class CoreSettings:
    """Top-level keys."""

    home: Path = Path(DEFAULT_HOME)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


@attrs.frozen
class StorageSettings:
    """The ledger database; the URL's scheme picks the backend plugin."""

    #: Empty means ``sqlite:///<home>/fontana.db``.
    url: str = ""
    pool_size: int = attrs.field(default=5, validator=_positive)
    #: SQLite only: ``full`` fsyncs every commit, ``normal`` may lose the last
    #: commits (never consistency) on power loss.
    sqlite_synchronous: Literal["full", "normal"] = "full"
    #: How long a writer waits for a lock before failing, in milliseconds.
    lock_timeout_ms: int = attrs.field(default=30_000, validator=_positive)


def _holds_any_entry(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """A smaller blob could not carry the largest valid entry: the chain would stall on it."""
    from fontana.da.limits import min_blob_size  # the models load only when settings do

    minimum = min_blob_size()
    if value < minimum:
        raise ValueError(
            f"expected at least {minimum} bytes, what a block needs for the largest valid "
            "entry (a transaction at every size limit) and its fee credit"
        )


@attrs.frozen
class DASettings:
    """The data-availability layer; the URL's scheme picks the backend plugin."""

    #: Empty means ``local:///<home>/da``.
    url: str = ""
    #: Upper bound on a block's blob, in bytes; a backend may impose a lower one.
    max_blob_size: int = attrs.field(default=1_900_000, validator=_holds_any_entry)


@attrs.frozen
class L1Settings:
    """The L1 that holds the vault; the URL's scheme picks the watcher plugin."""

    url: str = "local://"


@attrs.frozen
class WalletSettings:
    key_name: str = "default"
    passphrase: str | None = secret()


@attrs.frozen
class ProofSettings:
    """The state-commitment tree."""

    provider: str = "python-smt"
    #: Tree versions (blocks) to keep provable; 0 keeps all.
    keep_versions: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen
class SequencerSettings:
    """The block producer."""

    #: Wallet key that signs blocks; it must be the genesis ``sequencer``.
    key_name: str = "sequencer"
    #: 0 uses the genesis ``block_time_ms``.
    block_time_ms: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen
class PosterSettings:
    """The daemon that puts every block on the DA layer."""

    #: Consecutive failures before a critical alert.
    alert_after: int = attrs.field(default=5, validator=_positive)
    #: First retry delay; it doubles up to the block time.
    initial_backoff_ms: int = attrs.field(default=100, validator=_positive)
    #: How often to look for new blocks when idle.
    poll_ms: int = attrs.field(default=500, validator=_positive)


CORE_SECTIONS: Mapping[str, type] = {
    "storage": StorageSettings,
    "da": DASettings,
    "l1": L1Settings,
    "wallet": WalletSettings,
    "proofs": ProofSettings,
    "sequencer": SequencerSettings,
    "poster": PosterSettings,
}


@attrs.frozen
class Settings:
    """The one settings object handed to the core and to every plugin."""

    home: Path
    log_level: str
    storage: StorageSettings
    da: DASettings
    l1: L1Settings
    wallet: WalletSettings
    proofs: ProofSettings
    sequencer: SequencerSettings
    poster: PosterSettings
    plugin_sections: Mapping[str, Any] = attrs.Factory(dict)
    #: ``"storage.url" -> "env FONTANA_STORAGE_URL"`` and so on.
    sources: Mapping[str, str] = attrs.Factory(dict)
    unknown_env: tuple[str, ...] = ()

    def section(self, name: str) -> Any:
        """A core or plugin section by name."""
        if name in CORE_SECTIONS:
            return getattr(self, name)
        try:
            return self.plugin_sections[name]
        except KeyError:
            known = ", ".join([*CORE_SECTIONS, *self.plugin_sections])
            raise ConfigError(f"no config section [{name}]; known: {known}") from None

    def items(self) -> list[tuple[str, Any, bool]]:
        """``(dotted key, value, is_secret)`` for every setting, in display order."""
        out: list[tuple[str, Any, bool]] = [("home", self.home, False)]
        out.append(("log_level", self.log_level, False))
        sections = {**{n: getattr(self, n) for n in CORE_SECTIONS}, **self.plugin_sections}
        for name, obj in sections.items():
            for f in attrs.fields(type(obj)):
                out.append((f"{name}.{f.name}", getattr(obj, f.name), _is_secret(f)))
        return out


def _is_secret(field: attrs.Attribute[Any]) -> bool:
    return bool(field.metadata.get("secret"))


# --- strict conversion -----------------------------------------------------

_INT_RE = re.compile(r"[+-]?\d+")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise ValueError("not an integer")


def _to_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("not a boolean")


def _to_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("not text")


def _to_path(value: Any, _: type) -> Path:
    if isinstance(value, str) and value:
        return Path(value).expanduser()
    raise ValueError("not a path")


_converter = cattrs.Converter()
_converter.register_structure_hook(int, _to_int)
_converter.register_structure_hook(bool, _to_bool)
_converter.register_structure_hook(str, _to_str)
_converter.register_structure_hook(Path, _to_path)


def _expected(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expected(a) for a in typing.get_args(tp) if a is not type(None))
    return {int: "an integer", bool: "true or false", str: "text", Path: "a path"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _structure(value: Any, field: attrs.Attribute[Any], key: str, source: str) -> Any:
    try:
        result = _converter.structure(value, field.type)
    except Exception:
        raise ConfigError(
            f"{key} = {value!r} (from {source}): expected {_expected(field.type)}"
        ) from None
    if field.validator is not None:
        try:
            field.validator(None, field, result)
        except ValueError as exc:
            raise ConfigError(f"{key} = {value!r} (from {source}): {exc}") from None
    return result


# --- sources ---------------------------------------------------------------


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}" if section else ENV_PREFIX + key.upper()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {
        k: v for k, v in dotenv_values(path).items() if k.startswith(ENV_PREFIX) and v is not None
    }


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    config_file: Path | None = None,
    plugin_sections: Mapping[str, type] | None = None,
) -> Settings:
    """Merge every source into one validated :class:`Settings`.

    ``plugin_sections`` defaults to the sections the installed plugins declare.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    if plugin_sections is None:
        from fontana.plugins import get_host

        plugin_sections = get_host().settings_sections()
    clash = set(plugin_sections) & set(CORE_SECTIONS)
    if clash:
        raise ConfigError(f"plugins redeclare core config sections: {', '.join(sorted(clash))}")
    sections: dict[str, type] = {"": CoreSettings, **CORE_SECTIONS, **plugin_sections}

    env_layer: dict[str, tuple[str, str]] = {}
    dotenv_path = cwd / ".env"
    if dotenv_path.is_file():
        for k, v in _read_dotenv(dotenv_path).items():
            env_layer[k] = (v, f".env {dotenv_path}")
    for k, v in environ.items():
        if k.startswith(ENV_PREFIX):
            env_layer[k] = (v, f"env {k}")

    home_raw = env_layer.get("FONTANA_HOME", (DEFAULT_HOME, "default"))[0]
    if config_file is None:
        explicit = env_layer.get("FONTANA_CONFIG")
        candidates = (
            [Path(explicit[0]).expanduser()]
            if explicit
            else [
                cwd / "fontana.toml",
                Path(home_raw).expanduser() / "fontana.toml",
            ]
        )
        config_file = next((p for p in candidates if p.is_file()), None)
        if explicit and config_file is None:
            raise ConfigError(f"FONTANA_CONFIG = {explicit[0]!r}: no such file")
    file_layer = (
        _flatten_toml(_read_toml(config_file), sections, config_file) if config_file else {}
    )

    known_env: set[str] = set()
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}
    sources: dict[str, str] = {}
    for section, cls in sections.items():
        attrs.resolve_types(cls)
        for field in attrs.fields(cls):
            key = f"{section}.{field.name}" if section else field.name
            env_name = _env_name(section, field.name)
            known_env.add(env_name)
            if env_name in env_layer:
                raw, source = env_layer[env_name]
            elif key in file_layer:
                raw, source = file_layer[key], f"file {config_file}"
            else:
                sources[key] = "default"
                continue
            values[section][field.name] = _structure(raw, field, key, source)
            sources[key] = source

    built = {section: cls(**values[section]) for section, cls in sections.items()}

    core: CoreSettings = built.pop("")
    home = core.home.expanduser()
    storage: StorageSettings = built.pop("storage")
    if not storage.url:
        storage = attrs.evolve(storage, url=f"sqlite:///{home / 'fontana.db'}")
        sources["storage.url"] = "default (in home)"
    da: DASettings = built.pop("da")
    if not da.url:
        da = attrs.evolve(da, url=f"local:///{home / 'da'}")
        sources["da.url"] = "default (in home)"

    unknown = tuple(
        sorted(
            k
            for k in env_layer
            if k not in known_env and k not in CONTROL_VARS and not k.startswith(TEST_VAR_PREFIXES)
        )
    )
    for name in unknown:
        log.warning("ignoring unknown setting %s (%s)", name, env_layer[name][1])
    return Settings(
        home=home,
        log_level=core.log_level,
        storage=storage,
        da=da,
        l1=built.pop("l1"),
        wallet=built.pop("wallet"),
        proofs=built.pop("proofs"),
        sequencer=built.pop("sequencer"),
        poster=built.pop("poster"),
        plugin_sections=built,
        sources=sources,
        unknown_env=unknown,
    )


def _flatten_toml(data: dict[str, Any], sections: Mapping[str, type], path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    top = {f.name for f in attrs.fields(sections[""])}
    for key, value in data.items():
        if key in top:
            flat[key] = value
        elif key in sections and key:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table, got {value!r}")
            fields = {f.name for f in attrs.fields(sections[key])}
            for sub, subvalue in value.items():
                if sub not in fields:
                    raise ConfigError(
                        f"{path}: unknown key {key}.{sub}; [{key}] has: {', '.join(sorted(fields))}"
                    )
                flat[f"{key}.{sub}"] = subvalue
        else:
            known = sorted([*top, *(s for s in sections if s)])
            raise ConfigError(f"{path}: unknown key {key!r}; known: {', '.join(known)}")
    return flat


def mask(value: Any, is_secret: bool) -> Any:
    """What ``config show`` prints: secrets hidden, URL passwords hidden."""
    if value is None:
        return None
    if is_secret:
        return "***"
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password:
            netloc = f"{parts.username}:***@{parts.hostname}"
            if parts.port:
                netloc += f":{parts.port}"
            return urlunsplit(parts._replace(netloc=netloc))
    if isinstance(value, Path):
        return str(value)
    return value

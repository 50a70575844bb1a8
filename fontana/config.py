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

import io
import logging
import os
import re
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote

import attrs
import cattrs

from fontana.errors import ConfigError
from fontana.files import decode_text, read_input_file

log = logging.getLogger(__name__)

ENV_PREFIX = "FONTANA_"
#: Variables that steer loading itself rather than naming a setting.
CONTROL_VARS = frozenset(
    {"FONTANA_CONFIG", "FONTANA_PLUGINS", "FONTANA_DISABLE_PLUGINS", "FONTANA_STRICT_PLUGINS"}
)
#: Variables reserved for test tooling.
TEST_VAR_PREFIXES = ("FONTANA_TEST_", "FONTANA_PG_")
DEFAULT_HOME = "~/.fontana"
#: A config or ``.env`` file is a few kilobytes; anything far larger is not one.
MAX_CONFIG_FILE: Final = 1 << 20
#: Every integer setting fits a signed 64-bit column and every C API.
INT_SETTING_MAX: Final = 2**63 - 1
#: Durations in milliseconds: PostgreSQL's ``lock_timeout`` and most timers
#: take a signed 32-bit count (about 24.8 days).
MILLIS_MAX: Final = 2**31 - 1


def secret(default: Any = None) -> Any:
    """An attrs field whose value ``config show`` masks."""
    return attrs.field(default=default, metadata={"secret": True})


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError("expected an integer >= 1")


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 0:
        raise ValueError("expected an integer >= 0")


def _millis(minimum: int) -> Any:
    """A duration in milliseconds, ``minimum..MILLIS_MAX``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not minimum <= value <= MILLIS_MAX:
            raise ValueError(f"expected milliseconds in {minimum}..{MILLIS_MAX}")

    return check


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
    lock_timeout_ms: int = attrs.field(default=30_000, validator=_millis(1))


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


_VAULT_RE = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


def _vault_address(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value and not _VAULT_RE.fullmatch(value):
        raise ValueError("expected an L1 address: 0x and 40 hex digits")


def _confirmations(instance: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 0 <= value <= 2**32 - 1:  # the genesis field is a u32
        raise ValueError(f"expected an integer in 0..{2**32 - 1}")


#: Blocks one ``eth_getLogs`` may span; public nodes refuse far less.
MAX_L1_RANGE: Final = 1_000_000


def _l1_range(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= MAX_L1_RANGE:
        raise ValueError(f"expected an integer in 1..{MAX_L1_RANGE}")


@attrs.frozen
class L1Settings:
    """The L1 that holds the vault; the URL's scheme picks the watcher plugin."""

    #: ``local://`` (a log in ``<home>/l1``), ``local:///dir``, ``evm+http://host:port``.
    url: str = "local://"
    #: The vault contract's address (``0x`` + 40 hex digits); the EVM watcher needs it.
    vault: str = attrs.field(default="", validator=_vault_address)
    #: Blocks a deposit must be under before it is credited; unset: the genesis
    #: ``l1_confirmations``.
    confirmations: int | None = attrs.field(default=None, validator=_confirmations)
    #: First L1 block to scan when the ledger has no cursor yet (the vault's deployment).
    start_block: int = attrs.field(default=0, validator=_non_negative)
    #: Most L1 blocks read in one request.
    max_range: int = attrs.field(default=1_000, validator=_l1_range)
    #: How often the watcher asks the L1 for new final blocks.
    poll_ms: int = attrs.field(default=1_000, validator=_millis(1))


def _key_paths(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    paths = [p.strip(_ASCII_SPACE) for p in value.split(",")] if value else []
    if any(not p for p in paths):
        raise ValueError("expected key file paths separated by commas, none empty")
    if len(set(paths)) != len(paths):
        raise ValueError("a validator key file is named twice")


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def _env_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value and not _ENV_NAME_RE.fullmatch(value):
        raise ValueError("expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")


@attrs.frozen
class BridgeSettings:
    """The withdrawal processor (``fontana withdrawals``); the vault is ``l1.vault``."""

    #: Bridge validator key files (secp256k1, 64 hex digits, mode 0600), separated by
    #: commas: the processor signs checkpoints with all of them.
    validator_keys: str = attrs.field(default="", validator=_key_paths)
    #: The key file (same format) of the L1 account that sends releases and pays their gas.
    sender_key: str = ""
    #: How often the processor looks for new burns and receipts.
    poll_ms: int = attrs.field(default=1_000, validator=_millis(1))
    #: Who holds the validator keys and signs checkpoints: ``auto`` (``native-validator``
    #: when the fontana-native plugin is loaded, else ``python-validator``) or a name.
    validator: str = "auto"
    #: ``native-validator`` only: the name of an environment variable holding validator
    #: keys (64 hex digits each, separated by commas), read by Rust; adds to ``validator_keys``.
    validator_keys_env: str = attrs.field(default="", validator=_env_name)

    def validator_key_paths(self) -> list[Path]:
        return [Path(p.strip(_ASCII_SPACE)) for p in self.validator_keys.split(",") if p.strip()]


@attrs.frozen
class WalletSettings:
    key_name: str = "default"
    passphrase: str | None = secret()


@attrs.frozen
class ProofSettings:
    """The state-commitment tree."""

    #: ``auto``: ``native-smt`` when the ``native`` plugin is loaded, else ``python-smt``.
    provider: str = "auto"
    #: Tree versions (blocks) to keep provable; 0 keeps all.
    keep_versions: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen
class TxSettings:
    """How users' transactions are decoded and their signatures checked."""

    #: A transaction engine by name (``python-tx``, ``native-tx``); ``auto`` is the
    #: native one when the ``native`` plugin is loaded, else the Python one.
    engine: str = "auto"


@attrs.frozen
class SequencerSettings:
    """The block producer."""

    #: Wallet key that signs blocks; it must be the genesis ``sequencer``.
    key_name: str = "sequencer"
    #: 0 uses the genesis ``block_time_ms``.
    block_time_ms: int = attrs.field(default=0, validator=_millis(0))


@attrs.frozen
class PosterSettings:
    """The daemon that puts every block on the DA layer."""

    #: Consecutive failures before a critical alert.
    alert_after: int = attrs.field(default=5, validator=_positive)
    #: First retry delay; it doubles up to the block time.
    initial_backoff_ms: int = attrs.field(default=100, validator=_millis(1))
    #: How often to look for new blocks when idle.
    poll_ms: int = attrs.field(default=500, validator=_millis(1))


def _timeout_s(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= 86_400:
        raise ValueError("expected seconds in 1..86400")


@attrs.frozen
class ChargeSettings:
    """A provider of paid calls (``@charge``, docs/payments.md)."""

    #: Wallet key whose address is ``payTo`` and which signs receipts.
    key_name: str = "default"
    #: ``maxTimeoutSeconds``: how far ahead a payment may expire, which bounds
    #: how long its inputs can be held.
    max_timeout_s: int = attrs.field(default=60, validator=_timeout_s)
    #: A payment must leave at least this long before its expiry to run the call.
    min_window_ms: int = attrs.field(default=5_000, validator=_millis(0))
    #: Responses up to this size are kept for idempotent retries; 0 keeps none.
    cache_max_bytes: int = attrs.field(default=65_536, validator=_non_negative)
    #: A node's API to hold and settle through; empty reaches ``storage.url`` directly.
    node_url: str = ""
    #: The node URL told to clients (``extra.nodeUrl``); empty means ``node_url``.
    public_node_url: str = ""
    #: How long the settle group commit waits for more payments; 0 commits at once.
    batch_ms: int = attrs.field(default=0, validator=_millis(0))


CORE_SECTIONS: Mapping[str, type] = {
    "storage": StorageSettings,
    "da": DASettings,
    "l1": L1Settings,
    "bridge": BridgeSettings,
    "wallet": WalletSettings,
    "proofs": ProofSettings,
    "sequencer": SequencerSettings,
    "poster": PosterSettings,
    "charge": ChargeSettings,
    "tx": TxSettings,
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
    charge: ChargeSettings = attrs.Factory(ChargeSettings)
    bridge: BridgeSettings = attrs.Factory(BridgeSettings)
    tx: TxSettings = attrs.Factory(TxSettings)
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

# ASCII only: ``\d`` and ``int()`` also take Arabic-Indic or full-width digits,
# and ``str.strip()`` takes Unicode spaces. 19 digits hold every int64.
_INT_RE = re.compile(r"(?P<sign>[+-]?)0*(?P<digits>[0-9]{1,19})", re.ASCII)
_ASCII_SPACE = " \t\n\r\x0b\x0c"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_int(value: Any, _: type) -> int:
    if isinstance(value, str) and (m := _INT_RE.fullmatch(value.strip(_ASCII_SPACE))):
        value = int(m["sign"] + m["digits"])
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= INT_SETTING_MAX:
        return value
    raise ValueError("not an integer")


def _to_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip(_ASCII_SPACE).lower() in _TRUE | _FALSE:
        return value.strip(_ASCII_SPACE).lower() in _TRUE
    raise ValueError("not a boolean")


class _BadText(ValueError):
    """Text that no setting may hold; the message says why."""


def _check_text(value: str) -> str:
    """Settings end up in URLs, file names and C strings: no NUL, only valid UTF-8."""
    if "\x00" in value:
        raise _BadText("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _BadText("not valid UTF-8") from None
    return value


def _to_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return _check_text(value)
    raise ValueError("not text")


def _to_path(value: Any, _: type) -> Path:
    if isinstance(value, str) and value:
        return Path(_check_text(value)).expanduser()
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


def _shown(value: Any) -> str:
    """A value as an error message quotes it: at most about 80 characters, whatever its size."""
    text = repr(value[:81] if isinstance(value, str) else value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _structure(value: Any, field: attrs.Attribute[Any], key: str, source: str) -> Any:
    # An error must not print a secret.
    shown = _shown(mask(value, _is_secret(field) or is_secret_name(field.name)))
    try:
        result = _converter.structure(value, field.type)
    except _BadText as exc:
        raise ConfigError(f"{key} = {shown} (from {source}): {exc}") from None
    except Exception:
        raise ConfigError(
            f"{key} = {shown} (from {source}): expected {_expected(field.type)}"
        ) from None
    if field.validator is not None:
        try:
            field.validator(None, field, result)
        except ValueError as exc:
            raise ConfigError(f"{key} = {shown} (from {source}): {exc}") from None
    return result


# --- sources ---------------------------------------------------------------


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}" if section else ENV_PREFIX + key.upper()


def _is_regular_file(path: Path) -> bool:
    """Whether an optional file is there; a name too long or otherwise unusable is not."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _read_config_text(path: Path, what: str) -> str:
    def fail(reason: str) -> ConfigError:
        return ConfigError(f"{path}: {what}: {reason}")

    try:
        return decode_text(read_input_file(path, MAX_CONFIG_FILE, fail), fail)
    except FileNotFoundError:
        raise fail("no such file") from None


def _read_toml(path: Path) -> dict[str, Any]:
    text = _read_config_text(path, "config file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit limit
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    text = _read_config_text(path, ".env file")
    values = dotenv_values(stream=io.StringIO(text))
    return {k: v for k, v in values.items() if k.startswith(ENV_PREFIX) and v is not None}


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
    if _is_regular_file(dotenv_path):
        for k, v in _read_dotenv(dotenv_path).items():
            env_layer[k] = (v, f".env {dotenv_path}")
    for k, v in environ.items():
        if k.startswith(ENV_PREFIX):
            env_layer[k] = (v, f"env {k}")

    home_raw = env_layer.get("FONTANA_HOME", (DEFAULT_HOME, "default"))[0]
    if config_file is None:
        explicit = env_layer.get("FONTANA_CONFIG")
        if explicit:
            # Named on purpose, so anything but a readable regular file is an error.
            try:
                config_file = Path(_check_text(explicit[0])).expanduser()
            except _BadText as exc:
                raise ConfigError(f"FONTANA_CONFIG = {_shown(explicit[0])}: {exc}") from None
            if not os.path.lexists(config_file):
                raise ConfigError(f"FONTANA_CONFIG = {_shown(explicit[0])}: no such file")
        else:
            candidates = [cwd / "fontana.toml", Path(home_raw).expanduser() / "fontana.toml"]
            config_file = next((p for p in candidates if _is_regular_file(p)), None)
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
    _check_home(home, sources.get("home", "default"))
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
        charge=built.pop("charge"),
        bridge=built.pop("bridge"),
        tx=built.pop("tx"),
        plugin_sections=built,
        sources=sources,
        unknown_env=unknown,
    )


def _check_home(home: Path, source: str) -> None:
    """A home that exists must be a directory; one that does not is created when needed."""
    try:
        mode = home.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"home = {_shown(str(home))} (from {source}): {exc.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise ConfigError(
            f"home = {_shown(str(home))} (from {source}): exists and is not a directory"
        )


def _flatten_toml(data: dict[str, Any], sections: Mapping[str, type], path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    top = {f.name for f in attrs.fields(sections[""])}
    for key, value in data.items():
        if key in top:
            flat[key] = value
        elif key in sections and key:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table, got {_shown(value)}")
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


#: Whole names (lowercased, ``-`` read as ``_``) of URL query parameters and
#: ``key=value`` words whose values ``config show`` hides.
SECRET_NAMES: Final = frozenset(
    {"pass", "pwd", "key", "apikey", "sig", "auth", "authorization", "session", "sessionid"}
)
#: Name parts that make a parameter secret wherever they occur in its name
#: (``sslpassword``, ``auth_token``, ``client_secret``, ``api_key``, ``X-Amz-Signature``).
SECRET_NAME_PARTS: Final = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "signature", "_key",
)  # fmt: skip
MASK: Final = "***"

_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_USERINFO_RE = re.compile(r"(?P<user>[^:/?#@]*):(?P<password>[^@]*)@")
_PORT_LIKE_RE = re.compile(r"[0-9]*(?:[/?#]|$)")
_WORD_RE = re.compile(
    r"(?<!\S)(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'?|\S*)"
)


def is_secret_name(name: str) -> bool:
    """Whether a query parameter, ``key=value`` word or mapping key names a secret."""
    norm = name.strip().lower().replace("-", "_")
    return norm in SECRET_NAMES or any(part in norm for part in SECRET_NAME_PARTS)


def _mask_params(text: str) -> str:
    """``a=1&password=x;token=y`` with the secret values replaced."""
    parts = re.split(r"([&;])", text)
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq and value and is_secret_name(unquote(name)):
            parts[i] = f"{name}={MASK}"
    return "".join(parts)


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:  # RFC 3986: userinfo ends at the authority's last "@"
        userinfo, _, hosts = authority.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon and password:
            authority = f"{user}:{MASK}@{hosts}"
    elif (
        (m := _USERINFO_RE.match(rest)) and m["password"] and not _PORT_LIKE_RE.match(m["password"])
    ):
        # An unencoded "/", "?" or "#" in a password, which SQLAlchemy accepts.
        authority, tail = f"{m['user']}:{MASK}@", rest[m.end() :]
    tail, hash_, fragment = tail.partition("#")
    path, question, query = tail.partition("?")
    return (
        f"{scheme}{sep}{authority}{path}{question}{_mask_params(query)}"
        f"{hash_}{_mask_params(fragment)}"
    )


def _mask_words(text: str) -> str:
    """libpq-style ``host=db password=x`` words with the secret values replaced."""

    def hide(m: re.Match[str]) -> str:
        if m["value"] and is_secret_name(m["name"]):
            return f"{m['name']}{m['eq']}{MASK}"
        return m[0]

    return _WORD_RE.sub(hide, text)


def mask_text(text: str) -> str:
    """``text`` with URL passwords, secret query parameters and secret words hidden."""
    out: list[str] = []
    pos = 0
    for m in _URL_RE.finditer(text):
        out += [_mask_words(text[pos : m.start()]), _mask_url(m[0])]
        pos = m.end()
    out.append(_mask_words(text[pos:]))
    return "".join(out)


def mask(value: Any, is_secret: bool) -> Any:
    """What ``config show`` prints: secrets hidden, also inside URLs, lists and tables."""
    if value is None:
        return None
    if is_secret:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Path):
        return mask_text(str(value))
    if isinstance(value, Mapping):
        return {str(k): mask(v, is_secret_name(str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask(v, False) for v in value]
    if attrs.has(type(value)):
        return {
            f.name: mask(getattr(value, f.name), _is_secret(f) or is_secret_name(f.name))
            for f in attrs.fields(type(value))
        }
    return value

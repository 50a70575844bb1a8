"""Fontana settings for a Flask app: ``FONTANA_SETTINGS``, else ``FONTANA_*`` keys over the env.

A key of ``app.config`` named like an environment variable (``FONTANA_STORAGE_URL``,
``FONTANA_CHARGE_NODE_URL``, ``FONTANA_HOME``) overrides that variable, and every
other source (``fontana.toml``, ``.env``) still applies below it, so one value is
checked by the same rules wherever it is set. A key Fontana does not know is an
error, never silently ignored: a typo in a payment system's config must not pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import attrs

from fontana.config import Settings, load_settings
from fontana.errors import ConfigError

PREFIX = "FONTANA_"
#: A ready ``fontana.config.Settings``, used as it is.
SETTINGS_KEY = "FONTANA_SETTINGS"
#: They steer plugin loading, which happened before the app existed.
_ENV_ONLY = frozenset({"FONTANA_PLUGINS", "FONTANA_DISABLE_PLUGINS", "FONTANA_STRICT_PLUGINS"})


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    """The settings a Flask app's config names (see the module docstring)."""
    given = config.get(SETTINGS_KEY)
    if given is not None:
        if not isinstance(given, Settings):
            raise ConfigError(
                f"{SETTINGS_KEY} must be a fontana.config.Settings (from load_settings()), "
                f"got {type(given).__name__}"
            )
        return given
    overrides: dict[str, str] = {}
    for name, value in config.items():
        if not isinstance(name, str) or not name.startswith(PREFIX) or value is None:
            continue
        if name in _ENV_ONLY:
            raise ConfigError(f"{name} only works as an environment variable, not in Flask config")
        overrides[name] = value if isinstance(value, str) else str(value)
    return _load(overrides, {name: f"Flask config {name}" for name in overrides})


def _load(overrides: Mapping[str, str], labels: Mapping[str, str]) -> Settings:
    try:
        settings = load_settings(environ={**os.environ, **overrides})
    except ConfigError as exc:
        raise ConfigError(_relabel(exc.message, labels)) from None
    unknown = sorted(labels[name] for name in set(settings.unknown_env) & set(overrides))
    if unknown:
        raise ConfigError(f"unknown Fontana setting(s): {', '.join(unknown)}")
    sources = {key: _relabel(source, labels) for key, source in settings.sources.items()}
    return attrs.evolve(settings, sources=sources)


def _relabel(text: str, labels: Mapping[str, str]) -> str:
    """Name the Flask config, not the environment, where a value came from there."""
    return re.sub(r"\benv (FONTANA_[A-Z0-9_]+)", lambda m: labels.get(m[1], m[0]), text)

"""Fontana settings for a Django project: ``FONTANA = {...}`` in its settings, over the env.

Each key is a Fontana environment variable's name without ``FONTANA_``
(``STORAGE_URL``, ``CHARGE_NODE_URL``, ``HOME``, ``WALLET_KEY_NAME``) and
overrides that variable; ``fontana.toml`` and ``.env`` still apply below it,
so a value is checked by the same rules wherever it is set. An unknown key is
an error, never silently ignored: a typo in a payment system's config must not pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import attrs
from django.conf import settings as django_settings

from fontana.config import Settings, load_settings
from fontana.errors import ConfigError

SETTING = "FONTANA"
_KEY = re.compile(r"[A-Z][A-Z0-9_]*", re.ASCII)
#: They steer plugin loading, which happened before Django read its settings.
_ENV_ONLY = frozenset({"PLUGINS", "DISABLE_PLUGINS", "STRICT_PLUGINS"})


def fontana_settings() -> Settings:
    """The Fontana settings that Django's ``FONTANA`` setting names (see the module docstring)."""
    raw = getattr(django_settings, SETTING, {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"settings.{SETTING} must be a dict, got {type(raw).__name__}")
    overrides: dict[str, str] = {}
    labels: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ConfigError(
                f"settings.{SETTING} keys are setting names like STORAGE_URL, got {key!r:.80}"
            )
        if key in _ENV_ONLY:
            raise ConfigError(f"FONTANA_{key} only works as an environment variable")
        if value is not None:
            overrides[f"FONTANA_{key}"] = value if isinstance(value, str) else str(value)
            labels[f"FONTANA_{key}"] = f"Django settings {SETTING}[{key!r}]"
    return _load(overrides, labels)


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
    """Name Django's setting, not the environment, where a value came from there."""
    return re.sub(r"\benv (FONTANA_[A-Z0-9_]+)", lambda m: labels.get(m[1], m[0]), text)

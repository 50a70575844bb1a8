"""``fontana config show``: the effective settings, secrets masked, with sources."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from fontana.cli.output import emit, json_option

if TYPE_CHECKING:
    from fontana.config import Settings


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


def settings_rows(settings: Settings) -> dict[str, dict[str, Any]]:
    """What ``config show`` prints for each key: its masked value and its source.

    A field is hidden when it is marked secret or named like one (``token``,
    ``api_key``, ...), so a plugin that forgets the mark does not leak it.
    """
    from fontana.config import is_secret_name, mask

    return {
        key: {
            "value": mask(value, secret or is_secret_name(key.rpartition(".")[2])),
            "source": settings.sources.get(key, "default"),
        }
        for key, value, secret in settings.items()
    }


@config_group.command("show")
@json_option
def show_command(as_json: bool) -> None:
    """Print every setting, where it came from, secrets masked."""
    from fontana.config import load_settings

    settings = load_settings()

    def human(data: dict[str, dict[str, object]]) -> str:
        width = max(len(k) for k in data)
        lines = [
            f"{k.ljust(width)} = {json.dumps(v['value'])}  # {v['source']}" for k, v in data.items()
        ]
        lines += [f"# warning: unknown setting {name} ignored" for name in settings.unknown_env]
        return "\n".join(lines)

    emit(settings_rows(settings), as_json, human)

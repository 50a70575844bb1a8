"""``fontana config show``: the effective settings, secrets masked, with sources."""

from __future__ import annotations

import json

import click

from fontana.cli.output import emit, json_option


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@json_option
def show_command(as_json: bool) -> None:
    """Print every setting, where it came from, secrets masked."""
    from fontana.config import load_settings, mask

    settings = load_settings()
    rows = {
        key: {"value": mask(value, secret), "source": settings.sources.get(key, "default")}
        for key, value, secret in settings.items()
    }

    def human(data: dict[str, dict[str, object]]) -> str:
        width = max(len(k) for k in data)
        lines = [
            f"{k.ljust(width)} = {json.dumps(v['value'])}  # {v['source']}" for k, v in data.items()
        ]
        lines += [f"# warning: unknown setting {name} ignored" for name in settings.unknown_env]
        return "\n".join(lines)

    emit(rows, as_json, human)

"""``fontana plugins``: the whole stack, built-in defaults included."""

from __future__ import annotations

import click

from fontana.cli.output import emit, json_option
from fontana.plugins import PluginRecord, get_host


def _human(records: list[PluginRecord]) -> str:
    lines = []
    for r in records:
        dist = f"{r.distribution or '(in-process)'} {r.version or ''}".strip()
        lines.append(f"{r.name}  [{dist}]  {r.status}")
        for family, names in sorted(r.provides.items()):
            lines.append(f"    {family}: {', '.join(names)}")
        if r.hooks:
            lines.append(f"    hooks: {', '.join(r.hooks)}")
        if r.error:
            lines.append(f"    error: {r.error}")
    return "\n".join(lines) if lines else "no plugins installed"


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include plugins disabled by env vars.")
@json_option
def plugins_command(show_all: bool, as_json: bool) -> None:
    """List plugins: distribution, version, hooks, backends and load errors."""
    records = get_host().describe(include_disabled=show_all)
    emit([r.to_dict() for r in records] if as_json else records, as_json, _human)

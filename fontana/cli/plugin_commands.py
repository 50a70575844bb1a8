"""``fontana plugins``: the whole stack, built-in defaults included."""

from __future__ import annotations

import click

from fontana.cli.output import emit, json_option
from fontana.plugins import BackendInfo, PluginRecord, get_host


def _backend_line(family: str, backend: BackendInfo) -> str:
    schemes = ", ".join(f"{s}://" for s in backend.schemes) or "by name"
    line = f"    {family}: {backend.name} ({schemes})"
    if backend.description:
        line += f" - {backend.description}"
    if backend.wrapped_by:
        line += f" [factory wrapped by {', '.join(backend.wrapped_by)}]"
    return line


def _human(records: list[PluginRecord]) -> str:
    lines = []
    for r in records:
        dist = f"{r.distribution or '(in-process)'} {r.version or ''}".strip()
        if r.builtin:
            dist += ", built-in"
        lines.append(f"{r.name}  [{dist}]  {r.status}")
        for family, backends in r.provides.items():
            lines.extend(_backend_line(family, b) for b in backends)
        if r.commands:
            lines.append(f"    commands: {', '.join(r.commands)}")
        if r.hooks:
            lines.append(f"    hooks: {', '.join(r.hooks)}")
        lines.extend(f"    conflict: {c.describe()}" for c in r.conflicts)
        if r.error:
            lines.append(f"    error: {r.error}")
    return "\n".join(lines) if lines else "no plugins installed"


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include plugins disabled by env vars.")
@json_option
def plugins_command(show_all: bool, as_json: bool) -> None:
    """List plugins: distribution, version, backends, commands, hooks, conflicts and errors."""
    records = get_host().describe(include_disabled=show_all)
    emit([r.to_dict() for r in records] if as_json else records, as_json, _human)

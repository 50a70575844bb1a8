"""The ``fontana`` command line.

Plugins add commands through ``fontana_register_commands``; a plugin that
fails to load is reported by ``fontana plugins`` and never breaks the rest.
"""

from __future__ import annotations

from typing import Any

import click

from fontana import __version__
from fontana.cli.output import JSON_META_KEY, fail
from fontana.errors import FontanaError


class FontanaGroup(click.Group):
    """Turns any :class:`FontanaError` into a one-line message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FontanaError as exc:
            fail(exc, as_json=bool(ctx.meta.get(JSON_META_KEY)))


@click.group(cls=FontanaGroup)
@click.version_option(__version__, prog_name="fontana")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Fontana: pay-per-call APIs settled on a UTXO payment rollup."""
    import logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register_builtin_commands() -> None:
    from fontana.cli.bridge_commands import BRIDGE_COMMANDS
    from fontana.cli.chain_commands import CHAIN_COMMANDS
    from fontana.cli.config_commands import config_group
    from fontana.cli.ledger_commands import LEDGER_COMMANDS
    from fontana.cli.node_commands import serve_command
    from fontana.cli.payment_commands import PAYMENT_COMMANDS
    from fontana.cli.plugin_commands import plugins_command
    from fontana.cli.wallet_commands import init_command, show_command

    builtin = (plugins_command, config_group, init_command, show_command)
    for command in (
        *builtin,
        *LEDGER_COMMANDS,
        *CHAIN_COMMANDS,
        *BRIDGE_COMMANDS,
        *PAYMENT_COMMANDS,
    ):
        cli.add_command(command)
    cli.add_command(serve_command)


def _register_plugin_commands() -> None:
    from fontana.plugins import get_host

    try:
        get_host().add_commands(cli)
    except FontanaError as exc:  # strict mode
        fail(exc, as_json=False)


_register_builtin_commands()


def main() -> None:
    _register_plugin_commands()
    cli(prog_name="fontana")

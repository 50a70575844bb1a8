"""Entry point: ``fontana x402-call``, a paid call made by x402's own requests client.

Imported by every ``fontana`` command, so the x402 SDK is imported only when
the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def fontana_register_commands(cli: click.Group) -> None:
    import click

    @cli.command("x402-call")
    @click.argument("url")
    @click.option("--node", default=None, help="Pay through this node's API, not the local ledger.")
    @click.option("--max-price", default=None, help="The most to pay for the call (1500, 1.5tia).")
    def x402_call(url: str, node: str | None, max_price: str | None) -> None:
        """GET URL with x402's requests client, paying Fontana offers from your wallet."""
        import sys

        from x402 import x402ClientSync
        from x402.http.clients import x402_requests

        from fontana.amounts import format_amount, parse_amount
        from fontana.cli.payment_commands import wallet_and_source
        from fontana.config import load_settings
        from fontana.sdk.budget import Budget
        from fontana_x402.scheme import FontanaScheme

        wallet, source = wallet_and_source(load_settings(), node)
        budget = Budget(per_call=None if max_price is None else parse_amount(max_price))
        scheme = FontanaScheme(wallet, source, budget=budget)
        client = x402ClientSync().register("fontana:*", scheme)
        client.set_spend_controls({"allowed_assets": [scheme.allowed_asset()]})
        response = x402_requests(client).get(url)
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
        for txid, signed in scheme.receipts.items():
            r = signed.receipt
            click.echo(f"paid {format_amount(r.amount)} for {r.resource}; txid {txid}", err=True)
        if response.status_code >= 400:
            sys.exit(1)

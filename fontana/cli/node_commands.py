"""``fontana serve``: the node API over HTTP."""

from __future__ import annotations

import json
import threading

import click

from fontana.cli.output import StrictInt, json_option, printable
from fontana.node.server import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_THREADS


@click.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=StrictInt(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0: any free one; the line printed names it).",
)
@click.option(
    "--threads",
    type=StrictInt(1, 4096),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Requests served at once.",
)
@click.option(
    "--private",
    is_flag=True,
    help="Only your providers reach this node: keep paid responses for their retries "
    "and let them release holds (docs/node.md).",
)
@json_option
def serve_command(host: str, port: int, threads: int, private: bool, as_json: bool) -> None:
    """Serve the node API (docs/node.md) until Ctrl-C; OpenAPI at /openapi.json.

    Once listening it prints one line (one JSON object with --json) naming the URL.
    """
    from fontana.cli.chain_commands import stop_on_signals
    from fontana.config import mask_text
    from fontana.node import create_app
    from fontana.node.server import make_server

    app = create_app(private=private)
    ledger = app.ledger
    server = make_server(app, host, port, threads)
    stop = stop_on_signals()
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    loop.start()
    try:
        ready = {
            "url": server.url,
            "chain_id": ledger.chain_id,
            "genesis_hash": ledger.genesis_hash.hex(),
            "storage": mask_text(ledger.storage.url),
            "private": private,
        }
        if as_json:
            click.echo(json.dumps(ready, sort_keys=True))
        else:
            click.echo(
                printable(
                    f"serving chain {ready['chain_id']} ({ready['storage']}) on {ready['url']}"
                    f"{' (private)' if private else ''}; OpenAPI at {ready['url']}/openapi.json"
                )
            )
        stop.wait()
    finally:
        server.shutdown()
        loop.join()
        server.server_close()
        ledger.storage.close()

"""Bridge daemons: the L1 watcher and the withdrawal processor."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from fontana.address import encode_address
from fontana.amounts import format_amount
from fontana.cli.chain_commands import stop_on_signals
from fontana.cli.output import json_option, printable
from fontana.errors import FontanaError


def _event_json(event: Any) -> dict[str, Any]:
    from fontana.bridge import DepositHandled, WithdrawalHandled

    if isinstance(event, DepositHandled):
        d = event.deposit
        return {
            "event": "deposit",
            "credited": event.credited,
            "deposit_id": event.entry_id.hex(),
            "to": encode_address(d.recipient),
            "amount": str(d.amount),
            "l1_tx_hash": d.l1_tx_hash.hex(),
            "log_index": d.log_index,
            "l1_block": d.l1_block,
        }
    if isinstance(event, WithdrawalHandled):
        c = event.confirmation
        return {
            "event": "withdrawal",
            "confirmed": event.confirmed,
            "burn_txid": c.burn_txid.hex(),
            "l1_tx_hash": c.l1_tx_hash.hex(),
            "log_index": c.log_index,
            "l1_block": c.l1_block,
        }
    return {
        "event": "skipped",
        "l1_tx_hash": event.l1_tx_hash.hex(),
        "log_index": event.log_index,
        "l1_block": event.l1_block,
        "reason": event.reason,
    }


def _event_text(d: dict[str, Any]) -> str:
    where = f"{d['l1_tx_hash']}:{d['log_index']} (L1 block {d['l1_block']})"
    if d["event"] == "deposit":
        if d["credited"]:
            return f"deposit credited: {format_amount(int(d['amount']))} to {d['to']}, {where}"
        return f"deposit {where} was credited before"
    if d["event"] == "withdrawal":
        done = "confirmed" if d["confirmed"] else "was confirmed before"
        return f"withdrawal {d['burn_txid']} {done}, {where}"
    return f"skipped vault log {where}: {d['reason']}"


@click.command("watcher")
@click.option("--once", is_flag=True, help="Handle every event final now, then exit.")
@json_option
def watcher_command(once: bool, as_json: bool) -> None:
    """Credit L1 vault deposits and confirm releases, once each, as they become final."""
    try:
        _watch(once, as_json)
    except FontanaError as exc:  # one line, like everything else this command prints
        if not as_json:
            raise
        click.echo(json.dumps({"error": exc.to_dict()}))
        sys.exit(exc.exit_code)


def _watch(once: bool, as_json: bool) -> None:
    from fontana.config import load_settings
    from fontana.ledger import open_ledger
    from fontana.watcher import Round, Watcher, open_l1_watcher

    def say(data: dict[str, Any], text: str) -> None:
        click.echo(json.dumps(data, sort_keys=True) if as_json else printable(text))

    def on_round(r: Round) -> None:
        data = {
            "event": "scanned",
            "from_block": r.from_block,
            "to_block": r.to_block,
            "deposits": len(r.deposits),
            "withdrawals": len(r.withdrawals),
            "skipped": len(r.skipped),
        }
        say(data, f"scanned L1 blocks {r.from_block}..{r.to_block}")

    settings = load_settings()
    ledger = open_ledger(settings)
    l1 = open_l1_watcher(settings, ledger.genesis.l1_confirmations)
    try:
        watcher = Watcher(
            ledger,
            l1,
            start_block=settings.l1.start_block,
            max_range=settings.l1.max_range,
            poll_ms=settings.l1.poll_ms,
            on_event=lambda e: say(data := _event_json(e), _event_text(data)),
            on_round=on_round,
            on_start=lambda source, cursor: say(
                {"event": "started", "source": source, "cursor": cursor},
                f"watching {source} from L1 block {cursor + 1}",
            ),
        )
        stop = stop_on_signals()
        if once:
            watcher.catch_up(stop)
        else:
            watcher.run(stop)
    finally:
        l1.close()


@click.command("withdrawals")
@click.option(
    "--once", is_flag=True, help="Move every withdrawal as far as it can go now, then exit."
)
@json_option
def withdrawals_command(once: bool, as_json: bool) -> None:
    """Release every withdrawal burn on DA from the L1 vault, once, and confirm it."""
    try:
        _process(once, as_json)
    except FontanaError as exc:
        if not as_json:
            raise
        click.echo(json.dumps({"error": exc.to_dict()}))
        sys.exit(exc.exit_code)


def _process(once: bool, as_json: bool) -> None:
    from fontana.config import load_settings
    from fontana.ledger import open_ledger
    from fontana.withdrawals import JobEvent, open_processor

    def say(event: JobEvent) -> None:
        data = {
            "event": "withdrawal",
            "burn_txid": event.burn_txid.hex(),
            "state": event.state,
            "detail": event.detail,
            "l1_tx_hash": None if event.l1_tx_hash is None else event.l1_tx_hash.hex(),
        }
        text = f"withdrawal {data['burn_txid']} {event.state}"
        if event.detail:
            text += f": {event.detail}"
        click.echo(json.dumps(data, sort_keys=True) if as_json else printable(text))

    settings = load_settings()
    ledger = open_ledger(settings)
    processor = open_processor(settings, ledger, on_event=say)
    started = {
        "event": "started",
        "vault": settings.l1.vault,
        "sender": processor.sender.address,
        "validator": processor.validator.name,
    }
    click.echo(
        json.dumps(started, sort_keys=True)
        if as_json
        else f"releasing withdrawals from {settings.l1.vault} as {processor.sender.address}"
        f" (checkpoints signed by {processor.validator.name})"
    )
    stop = stop_on_signals()
    if once:
        processor.catch_up(stop)
    else:
        processor.run(stop, settings.bridge.poll_ms)


BRIDGE_COMMANDS = (watcher_command, withdrawals_command)

"""Chain daemons and tools: sequencer, poster, recover, devnet."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fontana.cli.output import StrictInt, emit, json_option
from fontana.errors import AlreadyInitializedError, RecoveryError

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.ledger import Ledger
    from fontana.models import Block
    from fontana.storage.base import BlockRecord


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so daemons finish their step and exit cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def block_line(block: Block) -> str:
    h = block.header.header
    return (
        f"block {h.height} sealed: {h.tx_count} entries, "
        f"state root {h.state_root.hex()[:16]}…, hash {h.hash.hex()[:16]}…"
    )


def chain_da(settings: Settings, ledger: Ledger) -> Any:
    from fontana.da import open_da

    return open_da(settings, ledger.genesis.da_namespace)


@click.command("sequencer")
@click.option("--wait", is_flag=True, help="Wait for a running sequencer's lease to expire.")
@click.option("--blocks", type=StrictInt(1, 2**63 - 1), default=None, help="Stop after N blocks.")
def sequencer_command(wait: bool, blocks: int | None) -> None:
    """Seal a block every block time (empty ones too) until Ctrl-C."""
    from fontana.config import load_settings
    from fontana.ledger import open_ledger
    from fontana.sequencer import Sequencer
    from fontana.wallet import load_key

    settings = load_settings()
    ledger = open_ledger(settings)
    key = load_key(settings.home, settings.sequencer.key_name, settings.wallet.passphrase)
    da = chain_da(settings, ledger)
    block_time = settings.sequencer.block_time_ms or ledger.genesis.block_time_ms
    sequencer = Sequencer(
        ledger,
        key.signing_key,
        block_time_ms=block_time,
        max_blob_size=min(da.max_blob_size, settings.da.max_blob_size),
        on_block=lambda b: click.echo(block_line(b)),
    )
    da.close()
    stop = stop_on_signals()
    sequencer.acquire(wait=wait, stop=stop)
    click.echo(f"sequencing chain {ledger.chain_id} every {block_time} ms")
    try:
        sequencer.run(stop, max_blocks=blocks)
    finally:
        sequencer.release()


@click.command("poster")
@click.option("--once", is_flag=True, help="Post what is pending, then exit.")
def poster_command(once: bool) -> None:
    """Post every sealed block to the DA layer, in order, with retries and alerts."""
    from fontana.config import load_settings
    from fontana.ledger import open_ledger
    from fontana.poster import Poster

    settings = load_settings()
    ledger = open_ledger(settings)
    da = chain_da(settings, ledger)
    poster = Poster(
        ledger.storage,
        da,
        block_time_ms=settings.sequencer.block_time_ms or ledger.genesis.block_time_ms,
        alert_after=settings.poster.alert_after,
        initial_backoff_ms=settings.poster.initial_backoff_ms,
        poll_ms=settings.poster.poll_ms,
        on_posted=lambda r, ref: click.echo(posted_line(r, ref.height, ref.commitment)),
    )
    stop = stop_on_signals()
    try:
        if once:
            poster.post_pending(stop)
        else:
            poster.run(stop)
    finally:
        da.close()


def posted_line(record: BlockRecord, da_height: int, commitment: bytes) -> str:
    return (
        f"block {record.height} posted: DA height {da_height}, commitment {commitment.hex()[:16]}…"
    )


def print_progress(p: Any) -> None:
    """One self-overwriting status line on stderr: progress is not output."""
    rate_b = p.blocks / p.seconds if p.seconds else 0.0
    rate_e = p.entries / p.seconds if p.seconds else 0.0
    end = "\n" if p.da_height >= p.da_head else "\r"
    click.echo(
        f"DA height {p.da_height}/{p.da_head}: {p.blocks} blocks, {p.entries} entries "
        f"({rate_b:,.0f} blocks/s, {rate_e:,.0f} entries/s), {p.skipped} blobs skipped",
        err=True,
        nl=False,
    )
    click.echo(end, err=True, nl=False)


@click.command("recover")
@click.argument("genesis_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wipe", is_flag=True, help="Rebuild the configured database in place.")
@click.option("--verify", is_flag=True, help="Only check the configured database against DA.")
@click.option("--from-da-height", type=StrictInt(1, 2**63 - 1), default=1, show_default=True)
@json_option
def recover_command(
    genesis_file: Path, wipe: bool, verify: bool, from_da_height: int, as_json: bool
) -> None:
    """Rebuild the ledger from GENESIS_FILE and the DA layer alone, checking every root."""
    import tempfile

    from fontana.config import load_settings
    from fontana.da import open_da
    from fontana.genesis import load_genesis_file
    from fontana.ledger import open_proofs
    from fontana.recovery import compare_ledgers, recover
    from fontana.storage import open_storage
    from fontana.txengine import open_tx_engine

    if wipe and verify:
        raise click.UsageError("use either --wipe or --verify")
    settings = load_settings()
    genesis = load_genesis_file(genesis_file)
    live = open_storage(settings)
    scratch = None
    if verify:
        scratch = tempfile.TemporaryDirectory(prefix="fontana-verify-")
        target = open_storage(settings, f"sqlite:///{scratch.name}/rebuilt.db")
    else:
        target = live
        if wipe:
            from fontana.clock import now_ms
            from fontana.sequencer import SequencerBusyError, live_lease

            holder = live_lease(live, now_ms())
            if holder is not None:
                raise SequencerBusyError(
                    f"a sequencer ({holder['owner']}) is running on {live.url}; "
                    "stop it before wiping the database"
                )
            live.drop_schema()
        elif live.schema_version() is not None:
            raise AlreadyInitializedError(
                f"{live.url} already holds a ledger; use --wipe to rebuild it in place "
                "or --verify to check it against DA"
            )
    da = open_da(settings, genesis.da_namespace)
    report = recover(
        genesis,
        da,
        target,
        open_proofs(settings),
        from_da_height=from_da_height,
        progress=None if as_json else print_progress,
        tx_engine=open_tx_engine(settings),
    )
    problems = compare_ledgers(live, target) if verify else []
    da.close()
    if scratch is not None:
        target.close()
        scratch.cleanup()
    data = {
        "blocks": report.blocks,
        "entries": report.entries,
        "last_height": report.last_height,
        "state_root": report.state_root.hex(),
        "blocks_per_s": round(report.blocks_per_s, 1),
        "entries_per_s": round(report.entries_per_s, 1),
        "mode": "verify" if verify else "rebuild",
        "problems": problems,
        "skipped_counts": report.skipped_counts,
        "skipped": [s.to_json() for s in report.skipped],
    }
    emit(data, as_json, _recovery_text)
    if problems:
        raise RecoveryError("; ".join(problems))


def _recovery_text(d: dict[str, Any]) -> str:
    lines = [
        f"{d['mode']}: {d['blocks']} blocks, {d['entries']} entries replayed "
        f"({d['blocks_per_s']} blocks/s, {d['entries_per_s']} entries/s); "
        f"block {d['last_height']} root {d['state_root']}"
    ]
    counts = d["skipped_counts"]
    if counts:
        lines.append(
            f"skipped {sum(counts.values())} blobs that are not blocks of this chain: "
            + ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        )
    return "\n".join(lines)


@click.command("devnet")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the devnet lives (default: a new temporary directory).",
)
@click.option("--blocks", type=StrictInt(1, 2**63 - 1), default=None, help="Stop after N blocks.")
@click.option("--block-time-ms", type=StrictInt(50, 2**31 - 1), default=6000, show_default=True)
@click.option(
    "--calls",
    type=StrictInt(0, 2**31 - 1),
    default=None,
    help="Paid calls the consumer makes (default: until stopped; 0: none).",
)
@click.option(
    "--adapter",
    default="auto",
    show_default=True,
    help="Charging adapter whose example app the provider serves "
    "(auto: flask if installed, else wsgi).",
)
@click.option(
    "--l1",
    type=click.Choice(["local", "evm"]),
    default="local",
    show_default=True,
    help="local: the built-in L1 stand-in; evm: a local hardhat node with the real vault, "
    "the EVM watcher and the withdrawal processor (needs node and fontana-evm).",
)
def devnet_command(
    directory: Path | None,
    blocks: int | None,
    block_time_ms: int,
    calls: int | None,
    adapter: str,
    l1: str,
) -> None:
    """Run a local chain: blocks, deposits, transfers, paid API calls, DA, then a recovery check.

    A provider serves a small paid API on loopback and a consumer pays for calls
    with the SDK; their final receipts are verified as blocks reach DA. Storage
    and DA are storage.url and da.url if your config or environment sets them
    (the database must be empty), else files in the devnet directory.
    """
    from fontana.config import load_settings
    from fontana.devnet import run_devnet

    result = run_devnet(
        directory,
        block_time_ms=block_time_ms,
        max_blocks=blocks,
        stop=stop_on_signals(),
        say=click.echo,
        user=load_settings(),
        calls=calls,
        adapter=adapter,
        l1=l1,
    )
    if result.problems:
        raise RecoveryError("; ".join(result.problems))


CHAIN_COMMANDS = (sequencer_command, poster_command, recover_command, devnet_command)

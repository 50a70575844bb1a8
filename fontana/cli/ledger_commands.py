"""Ledger commands: genesis (new, init), balance, utxos, transfer, trigger-deposit."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fontana.address import HRP, decode_address, encode_address
from fontana.amounts import format_amount, parse_amount
from fontana.cli.output import StrictInt, emit, json_option
from fontana.errors import EncodingError, FontanaError, GenesisError

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.models import UTXO

#: How long a CLI transfer stays valid if it is not sealed.
DEFAULT_EXPIRY_S = 600
#: Any longer and the expiry in milliseconds could leave u64 (about 136 years).
MAX_EXPIRY_S = 2**32 - 1
#: The largest row count either database takes in a LIMIT.
MAX_LIMIT = 2**63 - 1
_HASH_RE = re.compile(r"(?:0[xX])?(?P<hex>[0-9a-fA-F]{64})", re.ASCII)


def _address_or_own(settings: Settings, address: str | None) -> bytes:
    from fontana.wallet import load_key

    if address is not None:
        return decode_address(address)
    return load_key(settings.home, settings.wallet.key_name, settings.wallet.passphrase).public_key


def _utf8(text: str, what: str) -> bytes:
    # An argument from a non-UTF-8 terminal arrives with its bad bytes as lone surrogates.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"{what}: not valid UTF-8 (character {exc.start})") from None


def _l1_tx_hash(text: str) -> bytes:
    match = _HASH_RE.fullmatch(text)
    if match is None:
        raise EncodingError(f"--l1-tx {text!r:.80}: expected 64 hex digits (32 bytes)")
    return bytes.fromhex(match["hex"])


def _utxo_json(u: UTXO) -> dict[str, Any]:
    return {"txid": u.txid.hex(), "index": u.index, "amount": str(u.amount)}


class GenesisGroup(click.Group):
    """``genesis new`` and ``genesis init``; ``genesis FILE`` is short for ``genesis init FILE``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["init", *args]
        return super().parse_args(ctx, args)


@click.group("genesis", cls=GenesisGroup)
def genesis_group() -> None:
    """Write a genesis file (new) or create the ledger from one (init, or just FILE)."""


@genesis_group.command("init")
@click.argument("genesis_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def genesis_init_command(genesis_file: Path, as_json: bool) -> None:
    """Create the ledger from GENESIS_FILE: schema, genesis UTXOs and block 0."""
    from fontana.config import load_settings
    from fontana.genesis import initialize, load_genesis_file
    from fontana.ledger import open_proofs
    from fontana.storage import open_storage

    settings = load_settings()
    genesis = load_genesis_file(genesis_file)
    block = initialize(open_storage(settings), open_proofs(settings), genesis)
    data = {
        "chain_id": genesis.chain_id,
        "genesis_hash": genesis.hash.hex(),
        "allocations": len(genesis.allocations),
        "block": {"height": block.height, "hash": block.hash.hex()},
        "state_root": block.state_root.hex(),
    }
    emit(
        data,
        as_json,
        lambda d: (
            f"chain {d['chain_id']} created: block 0 {d['block']['hash']}\n"
            f"state root {d['state_root']} ({d['allocations']} allocations)"
        ),
    )


def _owner(settings: Settings, text: str) -> bytes:
    """An ``fnt1...`` address, or else the name of a key in the wallet."""
    if text.startswith(f"{HRP}1"):
        return decode_address(text)
    from fontana.wallet import key_info

    return key_info(settings.home, text).public_key


def _allocation(settings: Settings, text: str) -> tuple[bytes, int]:
    owner, sep, amount = text.rpartition("=")
    if not sep or not owner:
        raise EncodingError(f"--alloc {text!r}: expected ADDRESS=AMOUNT (or KEY_NAME=AMOUNT)")
    return _owner(settings, owner.strip()), parse_amount(amount)


def _namespace(text: str | None, chain_id: str) -> bytes:
    """20 hex digits; by default the first 10 bytes of SHA-256 of the chain id."""
    if text is None:
        return hashlib.sha256(chain_id.encode("utf-8")).digest()[:10]
    if not re.fullmatch(r"[0-9a-f]{20}", text):
        raise EncodingError(f"--namespace {text!r}: expected 20 lower-case hex digits (10 bytes)")
    namespace = bytes.fromhex(text)
    if namespace[:9] == bytes(9):
        raise EncodingError(f"--namespace {text}: Celestia reserves namespaces of 9 zero bytes")
    return namespace


@genesis_group.command("new")
@click.option("--chain-id", required=True, help="The chain id (1-32 of a-z 0-9 -).")
@click.option(
    "--sequencer",
    default=None,
    help="Key name or fnt1 address of the block signer (default: sequencer.key_name).",
)
@click.option(
    "--namespace",
    default=None,
    help="DA namespace, 20 hex digits (default: SHA-256 of the chain id, cut to 10 bytes).",
)
@click.option("--block-time-ms", type=int, default=6000, show_default=True)
@click.option("--min-fee", default="1", show_default=True, help="Minimum fee (1, 1utia, 0.1tia).")
@click.option("--l1-confirmations", type=int, default=1, show_default=True)
@click.option("--genesis-time-ms", type=int, default=None, help="Default: now.")
@click.option(
    "--alloc",
    "allocs",
    multiple=True,
    metavar="ADDRESS=AMOUNT",
    help="An initial output; repeat it. ADDRESS may be a key name.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("genesis.json"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@json_option
def genesis_new_command(
    chain_id: str,
    sequencer: str | None,
    namespace: str | None,
    block_time_ms: int,
    min_fee: str,
    l1_confirmations: int,
    genesis_time_ms: int | None,
    allocs: tuple[str, ...],
    out: Path,
    force: bool,
    as_json: bool,
) -> None:
    """Write a genesis file for your own keys (then: fontana genesis init FILE)."""
    from fontana.clock import now_ms
    from fontana.config import load_settings
    from fontana.genesis import load_genesis_file
    from fontana.models import Genesis

    settings = load_settings()
    genesis = Genesis(
        chain_id=chain_id,
        genesis_time_ms=now_ms() if genesis_time_ms is None else genesis_time_ms,
        sequencer=_owner(settings, sequencer or settings.sequencer.key_name),
        da_namespace=_namespace(namespace, chain_id),
        block_time_ms=block_time_ms,
        min_fee=parse_amount(min_fee, allow_zero=True),
        l1_confirmations=l1_confirmations,
        allocations=tuple(_allocation(settings, a) for a in allocs),
    )
    if out.exists() and not force:
        raise FontanaError(f"{out} exists; use --force to replace it", code="file_exists")
    # Written beside the target and read back as `genesis init` will read it, so a file
    # that init would refuse (a total above the ledger's bound) is never left behind.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(genesis.to_json(), indent=2) + "\n", encoding="utf-8")
        load_genesis_file(tmp)
        os.replace(tmp, out)
    except GenesisError as exc:
        raise GenesisError(exc.message.replace(str(tmp), str(out))) from None
    except OSError as exc:
        raise FontanaError(f"cannot write {out}: {exc.strerror}", code="file_error") from None
    finally:
        tmp.unlink(missing_ok=True)
    data = {
        "path": str(out),
        "chain_id": genesis.chain_id,
        "genesis_hash": genesis.hash.hex(),
        "sequencer": encode_address(genesis.sequencer),
        "da_namespace": genesis.da_namespace.hex(),
        "allocations": len(genesis.allocations),
        "total": str(sum(amount for _, amount in genesis.allocations)),
    }
    emit(
        data,
        as_json,
        lambda d: (
            f"wrote {d['path']}: chain {d['chain_id']}, sequencer {d['sequencer']}, "
            f"{d['allocations']} allocations of {format_amount(int(d['total']))}\n"
            f"next: fontana genesis init {d['path']}"
        ),
    )


@click.command("balance")
@click.argument("address", required=False)
@json_option
def balance_command(address: str | None, as_json: bool) -> None:
    """Spendable balance of ADDRESS (default: your wallet)."""
    from fontana.config import load_settings
    from fontana.ledger import open_ledger

    settings = load_settings()
    owner = _address_or_own(settings, address)
    amount = open_ledger(settings).balance(owner)
    data = {"address": encode_address(owner), "balance": str(amount)}
    emit(data, as_json, lambda d: f"{d['address']}: {format_amount(amount)}")


@click.command("utxos")
@click.argument("address", required=False)
@click.option("--limit", type=StrictInt(1, MAX_LIMIT), default=None, help="At most this many.")
@json_option
def utxos_command(address: str | None, limit: int | None, as_json: bool) -> None:
    """Unspent outputs of ADDRESS (default: your wallet), oldest first."""
    from fontana.config import load_settings
    from fontana.ledger import open_ledger

    settings = load_settings()
    owner = _address_or_own(settings, address)
    utxos = open_ledger(settings).utxos(owner, limit)
    data = {"address": encode_address(owner), "utxos": [_utxo_json(u) for u in utxos]}
    emit(
        data,
        as_json,
        lambda d: (
            "\n".join(f"{u['txid']}:{u['index']}  {u['amount']} utia" for u in d["utxos"])
            or "no unspent outputs"
        ),
    )


@click.command("transfer")
@click.argument("amount")
@click.argument("address")
@click.option("--fee", default=None, help="Fee (default: the chain's minimum).")
@click.option("--memo", default="", help="Free text recorded with the transfer (UTF-8).")
@click.option("--expiry-seconds", type=StrictInt(1, MAX_EXPIRY_S), default=DEFAULT_EXPIRY_S)
@json_option
def transfer_command(
    amount: str, address: str, fee: str | None, memo: str, expiry_seconds: int, as_json: bool
) -> None:
    """Send AMOUNT (e.g. 1500, 1500utia, 1.5tia) to ADDRESS from your wallet."""
    from fontana.config import load_settings
    from fontana.ledger import open_ledger
    from fontana.ledger.transfers import build_transfer
    from fontana.wallet import load_key

    settings = load_settings()
    value = parse_amount(amount)
    recipient = decode_address(address)
    memo_bytes = _utf8(memo, "--memo")
    wallet = load_key(settings.home, settings.wallet.key_name, settings.wallet.passphrase)
    ledger = open_ledger(settings)
    fee_value = ledger.min_fee if fee is None else parse_amount(fee, allow_zero=True)
    tx = build_transfer(
        ledger,
        wallet.signing_key,
        recipient,
        value,
        fee_value,
        ledger.clock() + expiry_seconds * 1000,
        memo_bytes,
    )
    result = ledger.apply_transaction(tx)
    data = {
        "txid": result.txid.hex(),
        "seq": result.seq,
        "amount": str(value),
        "fee": str(fee_value),
        "to": address,
        "status": "already_applied" if result.already_applied else "pending",
    }
    emit(data, as_json, lambda d: f"sent {format_amount(value)} to {address}\ntxid {d['txid']}")


@click.command("trigger-deposit")
@click.argument("amount")
@click.argument("address", required=False)
@click.option(
    "--l1-tx",
    default=None,
    help="L1 transaction hash: 64 hex digits, optional 0x; a retry credits nothing.",
)
@click.option("--log-index", type=StrictInt(0, 2**32 - 1), default=0)
@click.option(
    "--no-credit",
    is_flag=True,
    help="Only log the deposit on the local L1; `fontana watcher` credits it.",
)
@json_option
def trigger_deposit_command(
    amount: str,
    address: str | None,
    l1_tx: str | None,
    log_index: int,
    no_credit: bool,
    as_json: bool,
) -> None:
    """Deposit AMOUNT to ADDRESS (default: your wallet) on the local L1 stand-in, and credit it.

    The deposit is logged in a new block of the local L1 (l1.url = local://...),
    then credited through the same handler as `fontana watcher`, which later
    finds it credited already.
    """
    from fontana.bridge import handle_deposit_received
    from fontana.bridge.local_l1 import LocalL1
    from fontana.config import load_settings
    from fontana.errors import ConfigError
    from fontana.ledger import open_ledger
    from fontana.watcher import open_l1_watcher

    settings = load_settings()
    value = parse_amount(amount)
    l1_tx_hash = _l1_tx_hash(l1_tx) if l1_tx is not None else None
    recipient = _address_or_own(settings, address)
    ledger = open_ledger(settings)
    l1 = open_l1_watcher(settings, ledger.genesis.l1_confirmations)
    try:
        if not isinstance(l1, LocalL1):
            raise ConfigError(
                f"l1.url = {settings.l1.url!r}: trigger-deposit logs deposits on the local L1 "
                "stand-in only; on a real L1, deposit through the vault"
            )
        deposit = l1.append_deposit(recipient, value, l1_tx_hash=l1_tx_hash, log_index=log_index)
    finally:
        l1.close()
    data: dict[str, Any] = {
        "deposit_id": deposit.id.hex(),
        "l1_tx_hash": deposit.l1_tx_hash.hex(),
        "log_index": log_index,
        "l1_block": deposit.l1_block,
        "to": encode_address(recipient),
        "amount": str(value),
        "credited": False,
        "logged_only": no_credit,
    }
    if not no_credit:
        data["credited"] = handle_deposit_received(ledger, deposit).credited
    emit(data, as_json, _deposit_text)


def _deposit_text(d: dict[str, Any]) -> str:
    if d["logged_only"]:
        return (
            f"logged a deposit of {format_amount(int(d['amount']))} to {d['to']} in local L1 "
            f"block {d['l1_block']}; fontana watcher credits it"
        )
    if d["credited"]:
        return f"credited {format_amount(int(d['amount']))} to {d['to']}"
    return f"deposit {d['l1_tx_hash']}:{d['log_index']} was credited before; nothing changed"


LEDGER_COMMANDS = (
    genesis_group,
    balance_command,
    utxos_command,
    transfer_command,
    trigger_deposit_command,
)

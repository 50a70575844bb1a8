"""The read endpoints and transaction submission, on one :class:`~fontana.ledger.Ledger`.

Each view takes the node and the parsed call and returns ``(status, JSON body)``;
errors are raised as typed errors and answered by the app. Amounts, heights and
times (u64) are decimal strings, as in every JSON form of ``docs/protocol.md``.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import attrs

from fontana import __version__
from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.errors import NotInitializedError
from fontana.ledger import ApplyResult, Ledger
from fontana.ledger.meta import COUNTER_SUPPLY
from fontana.ledger.records import decode_entry_record
from fontana.models import UTXO, Block, OutPoint, SignedHeader, TxKind, utxo_key
from fontana.models._base import json_fields
from fontana.node.errors import NotFoundError, WrongKindError
from fontana.node.request import MAX_BODY, json_body, transaction_field
from fontana.storage.base import BlockRecord, StorageSession

#: The most UTXOs one answer lists (``limit`` defaults to it); ``more`` says if there are others.
MAX_UTXOS: Final = 1000

Reply = tuple[int, dict[str, Any]]


@attrs.frozen
class Call:
    """One routed request: parsed path values, parsed query values, and the WSGI environ."""

    params: dict[str, Any]
    query: dict[str, Any]
    environ: dict[str, Any]

    def body(self, *keys: str, limit: int = MAX_BODY) -> dict[str, Any]:
        """The JSON body (at most ``limit`` bytes): an object with exactly ``keys``."""
        return dict(json_fields(json_body(self.environ, limit), "request body", keys))


class Node:
    """What the views share: the ledger, whether the node is private (providers only: it
    keeps paid responses and releases holds), the OpenAPI document, and a lock around
    proofs (the tree's node cache is not safe for concurrent walks)."""

    def __init__(self, ledger: Ledger, openapi: dict[str, Any], *, private: bool) -> None:
        self.ledger = ledger
        self.openapi = openapi
        self.private = private
        self.proof_lock = threading.Lock()

    def tip(self, s: StorageSession) -> BlockRecord:
        latest = s.latest_block()
        if latest is None:
            raise NotInitializedError(f"{self.ledger.storage.url} has no genesis block")
        return latest


def da_json(record: BlockRecord | None, namespace: bytes) -> dict[str, str] | None:
    """Where a block sits on DA, or ``None`` while it is not there (and for block 0)."""
    if record is None or record.da_height is None or record.da_commitment is None:
        return None
    return {
        "height": str(record.da_height),
        "commitment": record.da_commitment.hex(),
        "namespace": namespace.hex(),
    }


def status(node: Node, call: Call) -> Reply:
    ledger = node.ledger
    with ledger.storage.read() as s:
        latest = node.tip(s)
        waiting = s.uncommitted_blocks(1)
        supply = s.get_counter(COUNTER_SUPPLY)
    genesis = ledger.genesis
    return 200, {
        "chain_id": genesis.chain_id,
        "genesis_hash": ledger.genesis_hash.hex(),
        "sequencer": encode_address(genesis.sequencer),
        "da_namespace": genesis.da_namespace.hex(),
        "min_fee": str(genesis.min_fee),
        "block_time_ms": genesis.block_time_ms,
        "latest_block": {
            "height": str(latest.height),
            "hash": latest.hash.hex(),
            "state_root": latest.state_root.hex(),
            "timestamp_ms": str(latest.timestamp_ms),
            "tx_count": latest.tx_count,
        },
        "open_height": str(latest.height + 1),
        "posted_height": str(waiting[0].height - 1 if waiting else latest.height),
        "supply": str(supply or 0),
        "time_ms": str(now_ms()),
        "private": node.private,
        "version": __version__,
    }


def genesis(node: Node, call: Call) -> Reply:
    return 200, {
        "genesis_hash": node.ledger.genesis_hash.hex(),
        "genesis": node.ledger.genesis.to_json(),
    }


def balance(node: Node, call: Call) -> Reply:
    owner = call.params["address"]
    return 200, {"address": encode_address(owner), "balance": str(node.ledger.balance(owner))}


def utxos(node: Node, call: Call) -> Reply:
    owner = call.params["address"]
    limit = call.query.get("limit", MAX_UTXOS)
    found = node.ledger.utxos(owner, limit + 1)
    return 200, {
        "address": encode_address(owner),
        "utxos": [u.to_json() for u in found[:limit]],
        "more": len(found) > limit,
    }


def submit(node: Node, call: Call) -> Reply:
    tx = transaction_field(call.body("transaction")["transaction"], "transaction")
    if tx.kind == TxKind.PAYMENT:
        raise WrongKindError(
            "a payment goes to the provider it pays (which holds, then settles it), "
            "not to /v1/transactions"
        )
    return 200, applied_json(node.ledger.apply_transaction(tx))


def applied_json(result: ApplyResult) -> dict[str, Any]:
    """An applied transaction (a submit's or a settle's answer)."""
    return {
        "txid": result.txid.hex(),
        "seq": str(result.seq),
        "fee": str(result.fee),
        "already_applied": result.already_applied,
    }


def transaction(node: Node, call: Call) -> Reply:
    txid: bytes = call.params["txid"]
    with node.ledger.storage.read() as s:
        record = s.get_entry(txid)
        height = None if record is None else record.block_height
        block = None if height is None else s.get_block(height)
    if record is None:
        state = "unknown"
    elif block is None:
        state = "pending"
    else:
        state = "on_da" if block.da_height is not None else "sealed"
    return 200, {
        "txid": txid.hex(),
        "state": state,
        "seq": None if record is None or record.seq is None else str(record.seq),
        "block_height": None if height is None else str(height),
        "da": da_json(block, node.ledger.genesis.da_namespace),
    }


def block(node: Node, call: Call) -> Reply:
    height: int = call.params["height"]
    with node.ledger.storage.read() as s:
        record = s.get_block(height)
        if record is None:
            raise NotFoundError(f"no block at height {height}; the tip is {node.tip(s).height}")
        entries = tuple(decode_entry_record(e) for e in s.entries_in_block(height))
    full = Block(SignedHeader.from_bytes(record.header), entries)
    return 200, {
        "height": str(height),
        "hash": record.hash.hex(),
        "da": da_json(record, node.ledger.genesis.da_namespace),
        "block": full.to_json(),
    }


def utxo_proof(node: Node, call: Call) -> Reply:
    outpoint = OutPoint(call.params["txid"], call.params["index"])
    ledger = node.ledger
    with ledger.storage.read() as s:
        tip = node.tip(s).height
        record = s.get_utxos([(outpoint.txid, outpoint.index)]).get((outpoint.txid, outpoint.index))
    height = call.query.get("height", tip)
    if height > tip:
        raise NotFoundError(f"no block at height {height}; the tip is {tip}")
    with node.proof_lock:
        root, value, proof = ledger.prove_utxo(outpoint, height)
    utxo = None
    if value is not None and record is not None:
        utxo = UTXO(record.owner, record.amount, record.txid, record.output_index).to_json()
    return 200, {
        "txid": outpoint.txid.hex(),
        "index": outpoint.index,
        "height": str(height),
        "state_root": root.hex(),
        "key": utxo_key(outpoint).hex(),
        "value_hash": None if value is None else value.hex(),
        "utxo": utxo,
        "proof": proof.hex(),
    }

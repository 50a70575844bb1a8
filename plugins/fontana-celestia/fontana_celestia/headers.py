"""celestia-node's ExtendedHeader JSON for a dev-node block.

pycelestia builds dataclasses from every field, so all are present, in the
node's encoding: CometBFT int64s as decimal strings, hashes as upper-case hex,
keys, signatures and DAH roots as base64. Signatures and roots are derived
from the block hash: the dev node proves nothing, a light client cannot verify it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from fontana_celestia.devstore import Block

CHAIN_ID = "fontana-devnode"
_APP_VERSION = "3"
_BLOCK_VERSION = "11"


def _derive(tag: bytes, seed: bytes, size: int = 32) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(tag + counter.to_bytes(4, "big") + seed).digest()
        counter += 1
    return out[:size]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def rfc3339(time_ns: int) -> str:
    """CometBFT's time format: UTC, nanoseconds, ``Z``."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


_VALIDATOR_KEY = _derive(b"validator-key", b"")
_VALIDATOR_ADDRESS = hashlib.sha256(_VALIDATOR_KEY).digest()[:20].hex().upper()
_VALIDATOR = {
    "address": _VALIDATOR_ADDRESS,
    "pub_key": {"type": "tendermint/PubKeyEd25519", "value": _b64(_VALIDATOR_KEY)},
    "voting_power": "1000",
    "proposer_priority": "0",
}


def extended_header(block: Block, previous_hash: bytes) -> dict[str, Any]:
    """The ``header.*`` answer for ``block``."""
    block_id = {
        "hash": block.hash.hex().upper(),
        "parts": {"total": 1, "hash": _hex(b"parts", block)},
    }
    time = rfc3339(block.time_ns)
    return {
        "header": {
            "version": {"block": _BLOCK_VERSION, "app": _APP_VERSION},
            "chain_id": CHAIN_ID,
            "height": str(block.height),
            "time": time,
            "last_block_id": {
                "hash": previous_hash.hex().upper(),
                "parts": {"total": 1, "hash": _derive(b"parts", previous_hash).hex().upper()},
            },
            "last_commit_hash": _hex(b"last-commit", block),
            "data_hash": block.data_hash.hex().upper(),
            "validators_hash": _hex(b"validators", block),
            "next_validators_hash": _hex(b"validators", block),
            "consensus_hash": _hex(b"consensus", block),
            "app_hash": _hex(b"app", block),
            "last_results_hash": _hex(b"results", block),
            "evidence_hash": _hex(b"evidence", block),
            "proposer_address": _VALIDATOR_ADDRESS,
        },
        "validator_set": {"validators": [_VALIDATOR], "proposer": _VALIDATOR},
        "commit": {
            "height": str(block.height),
            "round": 0,
            "block_id": block_id,
            "signatures": [
                {
                    "block_id_flag": 2,
                    "validator_address": _VALIDATOR_ADDRESS,
                    "timestamp": time,
                    "signature": _b64(_derive(b"signature", block.hash, 64)),
                }
            ],
        },
        "dah": {
            "row_roots": [_b64(_derive(b"row%d" % i, block.data_hash, 90)) for i in range(2)],
            "column_roots": [_b64(_derive(b"col%d" % i, block.data_hash, 90)) for i in range(2)],
        },
    }


def _hex(tag: bytes, block: Block) -> str:
    return _derive(tag, block.hash).hex().upper()

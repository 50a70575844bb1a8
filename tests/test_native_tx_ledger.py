"""The ledger's payment path and recovery give the same verdicts on both transaction engines.

Group commit judges a batch with honest payments, copies, forged and crafted signatures
(a mixed-order ``R`` that a cofactored batch check would accept) the same way on
``python-tx`` and ``native-tx``, to the same state root; recovery rebuilds the same chain
on either, and stops at the same block, with the same message, when a block carries a
payment whose witness only a cofactored verifier would accept.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
from ledger_helpers import (
    ALICE,
    BOB,
    CAROL,
    SEQUENCER,
    forge_block,
    make_genesis,
    make_transfer,
    pub,
    settings_for,
)
from test_native_tx import native_engine

from fontana.clock import now_ms
from fontana.da.blob import encode_blob
from fontana.da.local import LocalDA
from fontana.errors import RecoveryError, RejectedError
from fontana.genesis import initialize
from fontana.hashing import signing_message
from fontana.ledger import Ledger
from fontana.models import OutPoint, Transaction, Witness
from fontana.poster import Poster
from fontana.recovery import compare_ledgers, recover
from fontana.sequencer import Sequencer
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing import ed25519
from fontana.txengine import PythonTxEngine


def engines() -> dict[str, Any]:
    return {"python-tx": PythonTxEngine(), "native-tx": native_engine()}


def open_ledger(tmp_path: Path, name: str, engine: Any, genesis: Any) -> Ledger:
    storage = open_storage(settings_for(tmp_path / name), f"sqlite:///{tmp_path}/{name}.db")
    initialize(storage, PythonSMTProvider(), genesis)
    return Ledger.load(storage, PythonSMTProvider(), now_ms, tx_engine=engine)


def torsion_signed(tx: Transaction, seed: bytes, genesis_hash: bytes) -> Transaction:
    """``tx`` signed by the owner of ``seed`` with a mixed-order nonce ``R = [r]B + T8``."""
    a = ed25519.secret_scalar(seed)
    a_enc = ed25519.encode(ed25519.mul(a, ed25519.B))  # type: ignore[arg-type]
    message = signing_message(genesis_hash, tx.txid)
    r = 12345
    nonce = ed25519.add(ed25519.mul(r, ed25519.B), ed25519.T8)  # type: ignore[arg-type]
    signature = ed25519.sign_raw(a, a_enc, nonce, r, message)
    assert ed25519.cofactored_ok(a_enc, message, signature)
    return attrs.evolve(tx, witnesses=(Witness(a_enc, signature),))


def batch(genesis: Any) -> list[Transaction]:
    """Payments from the genesis outputs of Alice (0), Bob (1) and Carol (2), honest or not."""
    expiry = now_ms() + 60_000

    def spend(index: int, signers: list[Any], **kw: Any) -> Transaction:
        owner = (ALICE, BOB, CAROL)[index]
        out = [(pub(CAROL), 1_000), (pub(owner), genesis.allocations[index].amount - 1_001)]
        kw.setdefault("genesis_hash", genesis.hash)
        return make_transfer([OutPoint(genesis.hash, index)], out, signers, expiry_ms=expiry, **kw)

    honest = spend(0, [ALICE])
    crafted = torsion_signed(spend(1, []), bytes([2]) * 32, genesis.hash)
    other_deployment = spend(2, [CAROL], genesis_hash=bytes(32))
    unsigned = spend(2, [])
    wrong_chain = spend(2, [CAROL], chain_id="elsewhere")
    carol = spend(2, [CAROL])
    return [honest, honest, crafted, other_deployment, unsigned, wrong_chain, carol]


def summary(results: list[Any]) -> list[str]:
    return [r.code if isinstance(r, RejectedError) else r.txid.hex() for r in results]


def test_group_commit_gives_the_same_verdicts_on_both_engines(tmp_path: Path) -> None:
    genesis = make_genesis(genesis_time_ms=now_ms())
    outcomes = {}
    payments = batch(genesis)
    for name, engine in engines().items():
        ledger = open_ledger(tmp_path, name, engine, genesis)
        txs = [attrs.evolve(tx) for tx in payments]  # no cached verdicts or encodings
        results = summary(ledger.apply_transactions(txs))
        seq = Sequencer(ledger, SEQUENCER, block_time_ms=100, max_blob_size=1_900_000)
        seq.acquire()
        seq.seal()
        seq.release()
        outcomes[name] = (results, ledger.current_state_root())
        ledger.storage.close()
    python, native = outcomes["python-tx"], outcomes["native-tx"]
    assert python == native
    assert python[0][1:] == [
        "duplicate_in_batch",
        "bad_signature",
        "bad_signature",
        "bad_signature",
        "wrong_chain",
        python[0][6],
    ]


@pytest.mark.parametrize("live_engine", ["python-tx", "native-tx"])
def test_recovery_rebuilds_the_same_chain_on_both_engines(tmp_path: Path, live_engine: str) -> None:
    genesis = make_genesis(genesis_time_ms=now_ms())
    all_engines = engines()
    live = open_ledger(tmp_path, "live", all_engines[live_engine], genesis)
    da = LocalDA(tmp_path / "da", genesis.da_namespace, max_blob_size=1_900_000)
    seq = Sequencer(live, SEQUENCER, block_time_ms=100, max_blob_size=1_900_000)
    seq.acquire()
    txs = batch(genesis)
    live.apply_transactions(txs[:1])
    seq.seal()
    live.apply_transactions(txs[-1:])
    seq.seal()
    seq.release()
    Poster(live.storage, da, block_time_ms=100).post_pending(threading.Event())
    # A block the sequencer signed around a payment only a cofactored check accepts.
    bob = txs[2]
    forged = forge_block(live, [bob])
    da.submit(encode_blob(forged))
    failures = {}
    for name, engine in all_engines.items():
        rebuilt = open_storage(settings_for(tmp_path / name), f"sqlite:///{tmp_path}/r-{name}.db")
        with pytest.raises(RecoveryError) as caught:
            recover(genesis, da, rebuilt, PythonSMTProvider(), tx_engine=engine)
        failures[name] = caught.value.message
        again = Ledger.load(rebuilt, PythonSMTProvider(), tx_engine=engine)
        assert again.current_state_root() == live.current_state_root()
        assert compare_ledgers(live.storage, rebuilt) == []
        rebuilt.close()
    assert failures["python-tx"] == failures["native-tx"]
    assert "bad_signature" in failures["python-tx"] and "block 3" in failures["python-tx"]
    da.close()
    live.storage.close()

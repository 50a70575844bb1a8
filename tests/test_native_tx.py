"""The native transaction engine (``native-tx``) against the Python reference.

Same verdicts, error classes, codes and messages, txids and encodings on the published
vectors, on every mutation of valid transactions and blocks (hypothesis), on hostile
sizes, and the same ed25519 verdicts as libsodium on the signatures verifiers disagree on.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fontana.config import load_settings
from fontana.errors import EncodingError, UnknownBackendError
from fontana.models import Block, OutPoint, Transaction, TxKind, TxOutput
from fontana.models._base import verify_signature
from fontana.models.tx import WithdrawalRequest
from fontana.plugins import get_host
from fontana.testing.ed25519 import signature_cases
from fontana.testing.requirements import require_external
from fontana.testing.txengine import (
    GENESIS_HASH,
    KEYS,
    TxEngineConformance,
    sample_blocks,
    sample_transactions,
)
from fontana.txengine import PythonTxEngine, engine_name, open_tx_engine

VECTORS = Path(__file__).resolve().parent / "vectors" / "encoding.json"
PYTHON = PythonTxEngine()


def native_engine() -> Any:
    try:
        from fontana_native.tx import NativeTxEngine
    except ImportError:
        require_external("the fontana-native extension (make .venv/.fontana-native)")
    return NativeTxEngine()


@pytest.fixture(scope="module")
def native() -> Any:
    return native_engine()


def result(decode: Callable[[bytes], Any], data: Any) -> tuple[Any, ...]:
    """The value with its txid and bytes, or the error with its class, code and message."""
    try:
        value = decode(data)
    except EncodingError as exc:
        return ("error", type(exc).__name__, exc.code, exc.message)
    if isinstance(value, Block):
        return ("ok", value, value.to_bytes(), [getattr(e, "txid", e) for e in value.entries])
    return ("ok", value, value.txid, value.to_bytes(), value._encoded, value._txid)


def same_transaction(native: Any, data: Any) -> None:
    assert result(native.decode_transaction, data) == result(PYTHON.decode_transaction, data)


def same_block(native: Any, data: Any) -> None:
    assert result(native.decode_block, data) == result(PYTHON.decode_block, data)


class TestNativeConformance(TxEngineConformance):
    @pytest.fixture
    def engine(self) -> Any:
        return native_engine()


class TestPythonConformance(TxEngineConformance):
    @pytest.fixture
    def engine(self) -> Any:
        return PythonTxEngine()


# --- vectors --------------------------------------------------------------------------


def _vectors(kind: str, section: str) -> list[dict[str, Any]]:
    return [v for v in json.loads(VECTORS.read_text())[section] if v["type"] == kind]


@pytest.mark.parametrize("vector", _vectors("transaction", "valid"), ids=lambda v: v["name"])
def test_valid_transaction_vectors(native: Any, vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    tx = native.decode_transaction(data)
    assert tx.txid.hex() == vector["id"]
    assert tx.to_bytes() == data and tx.to_json() == Transaction.from_json(vector["json"]).to_json()
    same_transaction(native, data)


@pytest.mark.parametrize("vector", _vectors("transaction", "invalid"), ids=lambda v: v["name"])
def test_invalid_transaction_vectors(native: Any, vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    with pytest.raises(EncodingError) as caught:
        native.decode_transaction(data)
    assert caught.value.code == vector["error"]
    same_transaction(native, data)


@pytest.mark.parametrize(
    "vector",
    _vectors("block", "valid") + _vectors("block", "invalid"),
    ids=lambda v: v["name"],
)
def test_block_vectors(native: Any, vector: dict[str, Any]) -> None:
    same_block(native, bytes.fromhex(vector["hex"]))


@pytest.mark.parametrize("vector", _vectors("entry", "invalid"), ids=lambda v: v["name"])
def test_invalid_entry_vectors_inside_a_block(native: Any, vector: dict[str, Any]) -> None:
    """Each invalid entry as the second entry of a block: same error, named as in a block."""
    block = sample_blocks()[1]
    body = block.body_bytes()[4:] + bytes.fromhex(vector["hex"])
    forged = Block(
        attrs.evolve(block.header, header=attrs.evolve(block.header.header, tx_count=2)),
        block.entries + block.entries,
    )
    prefix = forged.to_bytes()[: len(forged.to_bytes()) - len(forged.body_bytes())]
    same_block(native, prefix + (2).to_bytes(4, "big") + body)


# --- differential fuzzing -------------------------------------------------------------


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    kind = draw(st.sampled_from(list(TxKind)))
    blob = st.binary(min_size=32, max_size=32)
    amount = st.integers(1, (1 << 64) - 1)
    tx = Transaction(
        kind=kind,
        chain_id=draw(st.from_regex(r"[a-z0-9-]{1,32}", fullmatch=True)),
        inputs=tuple(
            draw(
                st.lists(
                    st.builds(OutPoint, blob, st.integers(0, 65_535)),
                    min_size=1,
                    max_size=4,
                    unique_by=lambda o: (o.txid, o.index),
                )
            )
        ),
        outputs=tuple(draw(st.lists(st.builds(TxOutput, blob, amount), max_size=4))),
        fee=draw(st.integers(0, (1 << 64) - 1)),
        expiry_ms=draw(st.integers(0, (1 << 64) - 1)),
        payload_hash=draw(st.none() | blob),
        memo=draw(st.binary(max_size=300).map(lambda b: b[:256])),
        withdrawal=(
            draw(
                st.builds(
                    WithdrawalRequest,
                    st.binary(min_size=20, max_size=20),
                    amount,
                    st.binary(min_size=20, max_size=20),
                )
            )
            if kind == TxKind.WITHDRAWAL
            else None
        ),
    )
    for signer in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        tx = tx.sign(signer, GENESIS_HASH)
    return tx


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes changed, inserted, removed, or cut short."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        value = draw(st.sampled_from([0, 1, 2, 3, 0x40, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
        if op == "set":
            out[i] = value
        elif op == "insert":
            out.insert(i, value)
        elif op == "delete":
            del out[i]
        else:
            del out[i:]
    return bytes(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), tx=transactions())
def test_differential_transactions(native: Any, data: st.DataObject, tx: Transaction) -> None:
    encoded = tx.to_bytes()
    same_transaction(native, encoded)
    same_transaction(native, data.draw(mutated(encoded)))
    fresh, ref = attrs.evolve(tx), attrs.evolve(tx)
    assert native.verify_witnesses([fresh], GENESIS_HASH) == [ref.verify_witnesses(GENESIS_HASH)]
    assert fresh.txid_and_bytes() == ref.txid_and_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), txs=st.lists(transactions(), max_size=4))
def test_differential_blocks(native: Any, data: st.DataObject, txs: list[Transaction]) -> None:
    template = sample_blocks()[2]
    entries = tuple(template.entries[:1]) + tuple(txs) + tuple(template.entries[-2:])
    header = attrs.evolve(template.header.header, tx_count=len(entries))
    encoded = Block(attrs.evolve(template.header, header=header), entries).to_bytes()
    same_block(native, encoded)
    same_block(native, data.draw(mutated(encoded)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_panic(native: Any, raw: bytes) -> None:
    same_transaction(native, raw)
    same_transaction(native, bytes([1, 1]) + raw)
    same_block(native, raw)


@pytest.mark.parametrize(
    "chain_id",
    [
        *("\x80", "\xa0", "\xad", "\u200b", "\u2028", "\ue000", "\U000e0001", "é", "Ω"),
        *("a'b", "a'\"b", "x" * 33),
    ],
)
def test_a_bad_chain_id_is_quoted_as_python_quotes_it(native: Any, chain_id: str) -> None:
    """Python's repr escapes every non-printable character (Unicode's tables), so the
    native message carries Python's own repr of the text (hypothesis found b'\\x80')."""
    text = chain_id.encode()
    same_transaction(native, bytes([1, 1, len(text)]) + text)


def test_hostile_sizes_are_refused_cheaply(native: Any) -> None:
    """Counts and lengths at their type's maximum with nothing behind them."""
    head = bytes([1, 1, 3]) + b"abc"
    cases = [head + b"\xff\xff", head + b"\x00\x01" + bytes(34) + b"\x00\x40"]
    cases.append(head + b"\x00\x01" + bytes(34) + bytes(2) + bytes(16) + b"\x00\xff\xff\xff\xff")
    for data in cases:
        same_transaction(native, data)
    block = sample_blocks()[0].to_bytes()
    for tail in (b"\xff\xff\xff\xff", b"\x00\x01\x00\x00", b"\x00\x00\x00\x01\x01\xff\xff\xff\xff"):
        same_block(native, block[:-4] + tail)
    big = sample_blocks()[1]
    raw = big.to_bytes()
    for cut in range(len(raw) - len(big.body_bytes()), len(raw)):
        same_block(native, raw[:cut])


# --- ed25519 --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_ed25519_verdicts_equal_libsodium(seed: int) -> None:
    native_engine()
    from fontana_native._native import ed25519_verify

    message = hashlib.sha256(bytes([seed])).digest()
    for case in signature_cases(message):
        want = verify_signature(case.pubkey, message, case.signature)
        assert want == case.valid, case.label
        assert ed25519_verify(case.pubkey, message, case.signature) == want, case.label


def test_ed25519_random_inputs_equal_libsodium() -> None:
    native_engine()
    from fontana_native._native import ed25519_verify

    rng = random.Random(3)
    message = bytes(32)
    honest = KEYS[0].sign(message).signature
    pubkey = bytes(KEYS[0].verify_key)
    for _ in range(2_000):
        key, sig = bytearray(pubkey), bytearray(honest)
        target = rng.choice([key, sig])
        target[rng.randrange(len(target))] ^= 1 << rng.randrange(8)
        args = (bytes(key), message, bytes(sig))
        assert ed25519_verify(*args) == verify_signature(*args)
    for size in (0, 31, 33, 63, 65):
        assert not ed25519_verify(bytes(size), message, honest)
        assert not ed25519_verify(pubkey, message, bytes(size))


def test_verify_accepts_python_built_transactions_and_caches_their_encoding(native: Any) -> None:
    for tx in sample_transactions(9, 12):
        fresh = attrs.evolve(tx)
        assert fresh._encoded is None
        assert native.verify_witnesses([fresh], GENESIS_HASH) == [True]
        assert (fresh._txid, fresh._encoded) == attrs.evolve(tx).txid_and_bytes()


def test_a_raising_python_object_propagates(native: Any) -> None:
    class Boom(Exception):
        pass

    class Hostile:
        _verified_for = None
        _encoded = None
        _txid = None

        @property
        def version(self) -> int:
            raise Boom

    with pytest.raises(Boom):
        native.verify_witnesses([Hostile()], GENESIS_HASH)


# --- selection ------------------------------------------------------------------------


def test_auto_picks_the_native_engine_when_its_plugin_is_loaded(tmp_path: Path) -> None:
    names = get_host().backends("tx").names()
    assert "python-tx" in names
    expected = "native-tx" if "native-tx" in names else "python-tx"
    assert engine_name("auto") == expected
    settings = load_settings(environ={"FONTANA_HOME": str(tmp_path)}, cwd=tmp_path)
    assert settings.tx.engine == "auto"
    assert open_tx_engine(settings).name == expected
    chosen = load_settings(
        environ={"FONTANA_HOME": str(tmp_path), "FONTANA_TX_ENGINE": "python-tx"}, cwd=tmp_path
    )
    assert open_tx_engine(chosen).name == "python-tx"
    wrong = load_settings(
        environ={"FONTANA_HOME": str(tmp_path), "FONTANA_TX_ENGINE": "nope"}, cwd=tmp_path
    )
    with pytest.raises(UnknownBackendError):
        open_tx_engine(wrong)

"""The Rust bridge validator: the bytes of the Python one, typed refusals, private keys.

The ledger is a real SQLite ledger with burns sealed in blocks; a hostile ledger is that
ledger with one answer replaced (:class:`Hostile`), which is what a broken or lying
ledger would hand the validator through its callbacks.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    SEQUENCER,
    create_ledger,
    genesis_outpoint,
    make_transfer,
    pub,
)

from fontana.bridge.checkpoint import (
    SECP256K1_N,
    Checkpoint,
    domain_separator,
    recover_signer,
)
from fontana.bridge.keys import write_key_file
from fontana.bridge.signer import (
    CheckpointRefusedError,
    ProofMismatchError,
    PythonValidator,
    open_validator,
)
from fontana.config import load_settings
from fontana.errors import (
    ConfigError,
    EncodingError,
    FontanaError,
    KeyFilePermissionError,
    UnknownWithdrawalError,
)
from fontana.ledger import Ledger
from fontana.models import WithdrawalLeaf, WithdrawalRequest, withdrawal_key
from fontana.testing.requirements import require_external

VECTORS = Path(__file__).resolve().parent / "vectors" / "encoding.json"
KEYS = tuple(bytes([0x30 + i]) * 32 for i in range(3))
CHAIN_ID = 31337
VAULT = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
RECIPIENT = bytes([0xAB]) * 20
NATIVE = "the fontana-native extension (make .venv/.fontana-native)"


def native() -> Any:
    """The extension module; skip (fail in CI) when it is not built."""
    try:
        from fontana_native import _native
    except ImportError:
        require_external(NATIVE)
    return _native


@attrs.frozen
class Chain:
    ledger: Ledger
    #: Burned in block 1 and in block 2.
    burns: tuple[bytes, bytes]
    key_files: tuple[str, ...]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    home = tmp_path / "home"
    ledger = create_ledger(f"sqlite:///{home / 'fontana.db'}", home)
    burns = []
    for index, signer in enumerate((ALICE, BOB)):
        tx = make_transfer(
            [genesis_outpoint(index)],
            [(pub(signer), ALLOCATION - 500 - index - 1)],
            [signer],
            burn=WithdrawalRequest(l1_recipient=RECIPIENT, amount=500 + index),
        )
        ledger.apply_transaction(tx)
        ledger.seal_block(SEQUENCER)
        burns.append(tx.txid)
    files = []
    for i, key in enumerate(KEYS):
        write_key_file(tmp_path / f"validator{i}", key)
        files.append(str(tmp_path / f"validator{i}"))
    yield Chain(ledger, (burns[0], burns[1]), tuple(files))
    ledger.storage.close()


def validator(chain: Chain) -> Any:
    return native().Validator(list(chain.key_files))


class Hostile:
    """The real ledger with some answers replaced."""

    def __init__(self, ledger: Ledger, **answers: Any) -> None:
        self._ledger = ledger
        self._answers = answers

    def __getattr__(self, name: str) -> Any:
        if name in self._answers:
            return self._answers[name]
        return getattr(self._ledger, name)


def sign(v: Any, ledger: Any, height: int, burns: list[bytes]) -> Any:
    return v.sign_checkpoint(ledger, height, burns, CHAIN_ID, VAULT)


# ---------------------------------------------------------------------- same bytes as Python


def test_vectors_digest_key_hash_and_proof() -> None:
    n = native()
    bridge = json.loads(VECTORS.read_text())["bridge"]
    for case in bridge["checkpoints"]:
        checkpoint = Checkpoint(
            bytes.fromhex(case["genesis_hash"]),
            int(case["height"]),
            bytes.fromhex(case["state_root"]),
        )
        chain_id, vault = int(case["chain_id"]), bytes.fromhex(case["vault"])
        digest = n.checkpoint_digest(
            checkpoint.genesis_hash, checkpoint.height, checkpoint.state_root, chain_id, vault
        )
        assert digest.hex() == case["digest"]
        assert n.domain_separator(chain_id, vault).hex() == case["domain_separator"]
        for sig in case["signatures"]:
            assert n.recover_signer(digest, bytes.fromhex(sig["signature"])).hex() == sig["address"]
    release = bridge["release"]
    leaf = bytes.fromhex(release["leaf"])
    assert n.withdrawal_key(leaf[:32]).hex() == release["key"]
    assert n.withdrawal_value_hash(leaf).hex() == release["value_hash"]
    root, proof = bytes.fromhex(release["root"]), bytes.fromhex(release["proof"])
    assert n.check_withdrawal(root, 5, leaf[:32], leaf, proof) is None


@settings(max_examples=200, deadline=None)
@given(
    genesis=st.binary(min_size=32, max_size=32),
    height=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    chain_id=st.integers(0, 2**256 - 1),
    vault=st.binary(min_size=20, max_size=20),
)
def test_the_digest_is_pythons(
    genesis: bytes, height: int, root: bytes, chain_id: int, vault: bytes
) -> None:
    n = native()
    expected = Checkpoint(genesis, height, root).digest(chain_id, vault)
    assert n.checkpoint_digest(genesis, height, root, chain_id, vault) == expected
    assert n.domain_separator(chain_id, vault) == domain_separator(chain_id, vault)


def test_native_and_python_validators_sign_the_same_bytes(chain: Chain) -> None:
    """Same root, same proofs, same signatures (RFC 6979, low s) in the vault's order."""
    from fontana_native.bridge import NativeValidator

    ours = NativeValidator(validator(chain))
    reference = PythonValidator(KEYS)
    assert ours.addresses() == reference.addresses()
    for height, burns in [(1, [chain.burns[0]]), (2, list(chain.burns)), (2, [])]:
        got = ours.sign(chain.ledger, height, burns, CHAIN_ID, VAULT)
        want = reference.sign(chain.ledger, height, burns, CHAIN_ID, VAULT)
        assert got == want
        with chain.ledger.storage.read() as s:
            block = s.get_block(height)
        assert block is not None and got.checkpoint.state_root == block.state_root
        digest = got.checkpoint.digest(CHAIN_ID, VAULT)
        signers = [recover_signer(digest, s) for s in got.signatures]
        assert signers == sorted(signers) == reference.addresses()
        for sig in got.signatures:
            assert int.from_bytes(sig[32:64], "big") <= SECP256K1_N // 2 and sig[64] in (27, 28)


# ---------------------------------------------------------------------- hostile proofs and roots


def proof_of(chain: Chain, height: int = 2, burn: int = 0) -> tuple[WithdrawalLeaf, bytes]:
    return chain.ledger.prove_withdrawal(chain.burns[burn], height)


def answer(leaf: WithdrawalLeaf, proof: bytes) -> Callable[..., tuple[WithdrawalLeaf, bytes]]:
    return lambda burn, height: (leaf, proof)


def flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]


@pytest.mark.parametrize(
    ("mutate", "error", "code"),
    [
        (lambda p: p[:-1], EncodingError, "malformed"),
        (lambda p: p + b"\x00", EncodingError, "malformed"),
        (lambda p: b"", EncodingError, "malformed"),
        (lambda p: b"\x07" + p[1:], EncodingError, "malformed"),
        (lambda p: p[:3] + bytes(32) + p[35:], EncodingError, "malformed"),
        (lambda p: flip(p, len(p) - 1), ProofMismatchError, "proof_mismatch"),
        (lambda p: flip(p, 3), EncodingError, "malformed"),
    ],
    ids=["cut", "extended", "empty", "kind", "empty-sibling", "sibling-bit", "bitmap"],
)
def test_a_hostile_proof_is_a_typed_refusal(
    chain: Chain, mutate: Callable[[bytes], bytes], error: type[FontanaError], code: str
) -> None:
    leaf, proof = proof_of(chain)
    hostile = Hostile(chain.ledger, prove_withdrawal=answer(leaf, mutate(proof)))
    with pytest.raises(error) as raised:
        sign(validator(chain), hostile, 2, [chain.burns[0]])
    assert raised.value.code == code


@settings(max_examples=150, deadline=None)
@given(proof=st.binary(max_size=400), cut=st.integers(0, 400))
def test_random_proof_bytes_never_panic(proof: bytes, cut: int) -> None:
    """Random and truncated proofs: a FontanaError each time (a panic is a BaseException)."""
    n = native()
    release = json.loads(VECTORS.read_text())["bridge"]["release"]
    leaf, root = bytes.fromhex(release["leaf"]), bytes.fromhex(release["root"])
    real = bytes.fromhex(release["proof"])
    for candidate in (proof, real[:cut] + proof[:1], real[: min(cut, len(real))]):
        if candidate == real:
            continue
        with pytest.raises(FontanaError):
            n.check_withdrawal(root, 5, leaf[:32], leaf, candidate)


def test_a_proof_against_another_root_is_a_mismatch(chain: Chain) -> None:
    """Block 1's proof of the first burn, presented for block 2 (whose root differs)."""
    leaf, old = proof_of(chain, height=1)
    hostile = Hostile(chain.ledger, prove_withdrawal=answer(leaf, old))
    with pytest.raises(ProofMismatchError, match="does not verify against the state root"):
        sign(validator(chain), hostile, 2, [chain.burns[0]])
    root = chain.ledger.latest_block().state_root
    with pytest.raises(ProofMismatchError):
        native().check_withdrawal(flip(root, 0), 2, chain.burns[0], leaf.to_bytes(), old)


def test_a_leaf_of_another_withdrawal_or_amount_is_a_mismatch(chain: Chain) -> None:
    leaf, proof = proof_of(chain)
    other, other_proof = proof_of(chain, burn=1)
    cases = [
        answer(other, other_proof),  # a valid proof of the other burn
        answer(attrs.evolve(leaf, amount=leaf.amount + 1), proof),
        answer(attrs.evolve(leaf, l1_recipient=bytes(20)), proof),
    ]
    for prove in cases:
        with pytest.raises(ProofMismatchError):
            sign(validator(chain), Hostile(chain.ledger, prove_withdrawal=prove), 2, [leaf.id])


def test_a_withdrawal_not_in_the_block_is_unknown(chain: Chain) -> None:
    v = validator(chain)
    # Burned in block 2: not in block 1 (the ledger refuses), nor a txid never burned.
    with pytest.raises(UnknownWithdrawalError, match="not sealed by block 1"):
        sign(v, chain.ledger, 1, [chain.burns[1]])
    with pytest.raises(UnknownWithdrawalError):
        sign(v, chain.ledger, 2, [bytes(32)])
    # A ledger that skips its own check hands over the proof of absence: Rust sees it.
    leaf, _ = proof_of(chain, burn=1)
    with chain.ledger.storage.read() as s:
        absent = chain.ledger.proofs.prove(s, withdrawal_key(leaf.id), 1)
    hostile = Hostile(chain.ledger, prove_withdrawal=answer(leaf, absent))
    with pytest.raises(UnknownWithdrawalError, match="not in the state of block 1"):
        sign(v, hostile, 1, [leaf.id])


# ---------------------------------------------------------------------- hostile headers


def test_a_header_that_does_not_decode_is_malformed(chain: Chain) -> None:
    header = chain.ledger.signed_header(2)
    for bad in [header[:-1], header + b"\x00", b"", b"\x02" + header[1:], "text"]:
        hostile = Hostile(chain.ledger, signed_header=lambda h, bad=bad: bad)
        with pytest.raises(EncodingError) as raised:
            sign(validator(chain), hostile, 2, [chain.burns[0]])
        assert raised.value.code == "malformed"


def test_a_header_of_another_block_or_signer_is_refused(chain: Chain) -> None:
    v = validator(chain)
    one = chain.ledger.signed_header(1)
    two = chain.ledger.signed_header(2)
    root_at = 1 + 1 + len("fontana-test") + 8 + 32 + 8 + 32 + 32
    forged_root = two[:root_at] + bytes(32) + two[root_at + 32 :]  # the signature no longer fits
    cases = [
        (lambda h: one, "header of block 1 for block 2"),
        (lambda h: forged_root, "sequencer's signature"),
        (lambda h: two[:-64] + bytes(64), "sequencer's signature"),
    ]
    for header, message in cases:
        with pytest.raises(CheckpointRefusedError, match=message):
            sign(v, Hostile(chain.ledger, signed_header=header), 2, [chain.burns[0]])
    stranger = Hostile(chain.ledger, genesis=attrs.evolve(chain.ledger.genesis, sequencer=pub(BOB)))
    with pytest.raises(CheckpointRefusedError, match="not the genesis sequencer"):
        sign(v, stranger, 2, [])
    with pytest.raises(CheckpointRefusedError, match="sequencer's signature"):
        sign(v, Hostile(chain.ledger, genesis_hash=bytes(32)), 2, [])


def test_bad_arguments_are_encoding_errors(chain: Chain) -> None:
    v = validator(chain)
    for height in (-1, 2**64, True, "2", 2.0):
        with pytest.raises(EncodingError, match="checkpoint.height"):
            v.sign_checkpoint(chain.ledger, height, [], CHAIN_ID, VAULT)
    for chain_id in (-1, 2**256, True, "1"):
        with pytest.raises(EncodingError, match="chain_id"):
            v.sign_checkpoint(chain.ledger, 2, [], chain_id, VAULT)
    for vault in (VAULT[:19], VAULT.hex(), None):
        with pytest.raises(EncodingError, match="vault"):
            v.sign_checkpoint(chain.ledger, 2, [], CHAIN_ID, vault)
    with pytest.raises(EncodingError, match=r"burns\[1\]"):
        v.sign_checkpoint(chain.ledger, 2, [chain.burns[0], b"short"], CHAIN_ID, VAULT)
    with pytest.raises(KeyError):  # the ledger's own answer for a block it does not have
        v.sign_checkpoint(chain.ledger, 9, [], CHAIN_ID, VAULT)


# ---------------------------------------------------------------------- raising callbacks


class Boom(Exception):
    pass


def raising(exc: BaseException) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        raise exc

    return call


@pytest.mark.parametrize("where", ["signed_header", "prove_withdrawal", "to_bytes"])
def test_an_exception_a_callback_raises_reaches_the_caller(chain: Chain, where: str) -> None:
    boom = Boom(where)
    if where == "to_bytes":

        class Leaf:
            to_bytes = staticmethod(raising(boom))

        hostile = Hostile(chain.ledger, prove_withdrawal=lambda b, h: (Leaf(), b"\x00\x00\x00"))
    else:
        hostile = Hostile(chain.ledger, **{where: raising(boom)})
    with pytest.raises(Boom) as raised:
        sign(validator(chain), hostile, 2, [chain.burns[0]])
    assert raised.value is boom


def test_a_raising_attribute_and_a_wrong_answer_type_reach_the_caller(chain: Chain) -> None:
    class NoGenesis(Hostile):
        @property
        def genesis(self) -> Any:
            raise Boom("genesis")

    with pytest.raises(Boom):
        sign(validator(chain), NoGenesis(chain.ledger), 2, [])
    hostile = Hostile(chain.ledger, prove_withdrawal=lambda b, h: "not a pair")
    with pytest.raises(EncodingError, match="expected \\(leaf, proof\\)"):
        sign(validator(chain), hostile, 2, [chain.burns[0]])


def test_nothing_is_signed_when_a_later_proof_fails(chain: Chain) -> None:
    """Refusing is all or nothing: the first burn proves, the second does not."""
    leaf, proof = proof_of(chain, burn=1)
    calls: list[bytes] = []

    def prove(burn: bytes, height: int) -> tuple[WithdrawalLeaf, bytes]:
        calls.append(burn)
        if burn == chain.burns[1]:
            return leaf, proof[:-1]
        return chain.ledger.prove_withdrawal(burn, height)

    with pytest.raises(EncodingError):
        sign(validator(chain), Hostile(chain.ledger, prove_withdrawal=prove), 2, list(chain.burns))
    assert calls == list(chain.burns)


# ---------------------------------------------------------------------- keys


def key_file(tmp_path: Path, name: str, body: bytes, mode: int = 0o600) -> str:
    path = tmp_path / name
    path.write_bytes(body)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o700 | 0o010])
def test_a_key_file_others_may_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, "k", KEYS[0].hex().encode(), mode)
    with pytest.raises(KeyFilePermissionError) as raised:
        native().Validator([path])
    assert raised.value.code == "key_permissions"
    assert f"{mode:04o}" in raised.value.message and "chmod 600" in raised.value.message
    assert native().Validator([key_file(tmp_path, "ok", KEYS[0].hex().encode(), 0o400)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "64 hex digits"),
        (KEYS[0].hex().encode()[:-2] + b"zz", "64 hex digits"),
        (b"00" * 32, "group order"),
        (b"ff" * 32, "group order"),
        (b" " * 4097, "larger than 4096"),
    ],
    ids=["empty", "not-hex", "zero", "over-order", "huge"],
)
def test_a_bad_key_file_is_config_invalid_without_its_contents(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = key_file(tmp_path, "k", body)
    with pytest.raises(ConfigError, match=message) as raised:
        native().Validator([path])
    assert raised.value.code == "config_invalid" and path in raised.value.message
    assert KEYS[0].hex()[:40] not in raised.value.message


def test_key_files_that_are_not_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(tmp_path / "fifo", 0o600)  # opened without blocking, refused by its type
    for path, message in [
        (tmp_path / "missing", "no such file"),
        (tmp_path, "a directory"),
        (tmp_path / "fifo", "a FIFO"),
    ]:
        with pytest.raises(ConfigError, match=message):
            native().Validator([str(path)])
    with pytest.raises(ConfigError, match="at least one validator key"):
        native().Validator([])
    twice = key_file(tmp_path, "twice", KEYS[0].hex().encode())
    monkeypatch.setenv("FONTANA_TEST_NATIVE_KEYS", KEYS[0].hex())
    with pytest.raises(ConfigError, match="given twice"):
        native().Validator([twice], "FONTANA_TEST_NATIVE_KEYS")


def test_keys_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from fontana.bridge.checkpoint import validator_address

    name = "FONTANA_TEST_NATIVE_BRIDGE_KEYS"
    monkeypatch.setenv(name, f" {KEYS[0].hex()} ,0x{KEYS[1].hex()}\n")
    v = native().Validator([], name)
    assert v.addresses() == sorted(validator_address(k) for k in KEYS[:2])
    monkeypatch.setenv(name, f"{KEYS[0].hex()},{KEYS[0].hex()[:-1]}")
    with pytest.raises(ConfigError, match=f"key 2 of 2 in {name}") as raised:
        native().Validator([], name)
    assert KEYS[0].hex()[:40] not in raised.value.message
    monkeypatch.delenv(name)
    with pytest.raises(ConfigError, match="is not set"):
        native().Validator([], name)
    for bad in ("", "1X", "A=B", "A\x00B"):
        with pytest.raises((ConfigError, ValueError)):
            native().Validator([], bad)


def test_keys_are_not_reachable_from_python(chain: Chain) -> None:
    v = validator(chain)
    secrets = [k.hex() for k in KEYS] + [k.hex().upper() for k in KEYS]
    shown = repr(v) + str(v) + " ".join(dir(v))
    assert not any(s in shown for s in secrets)
    assert all(("0x" + a.hex()) in repr(v) for a in v.addresses())
    assert not hasattr(v, "__dict__")
    for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="private keys"):
            attempt(v)
    for referent in gc.get_referents(v):
        assert not (isinstance(referent, bytes) and referent in KEYS)
    from fontana_native.bridge import NativeValidator

    wrapped = NativeValidator(v)
    assert not any(s in repr(wrapped) for s in secrets)
    with pytest.raises(TypeError, match="private keys"):
        pickle.dumps(wrapped)
    with pytest.raises(TypeError, match="private keys"):
        pickle.dumps(PythonValidator(KEYS))


# ---------------------------------------------------------------------- selection


def bridge_settings(tmp_path: Path, **bridge: str) -> Any:
    env = {"FONTANA_HOME": str(tmp_path / "home")}
    env |= {f"FONTANA_BRIDGE_{k.upper()}": v for k, v in bridge.items()}
    return load_settings(environ=env, cwd=tmp_path)


def test_auto_takes_the_native_validator_when_the_plugin_is_loaded(
    chain: Chain, tmp_path: Path
) -> None:
    native()
    from fontana.plugins import get_host

    files = ",".join(chain.key_files)
    loaded = "native-validator" in get_host().backends("validators").names()
    chosen = open_validator(bridge_settings(tmp_path, validator_keys=files))
    assert chosen.name == ("native-validator" if loaded else "python-validator")
    python = open_validator(
        bridge_settings(tmp_path, validator_keys=files, validator="python-validator")
    )
    assert python.name == "python-validator" and python.addresses() == chosen.addresses()
    with pytest.raises(ConfigError, match="native-validator only"):
        open_validator(
            bridge_settings(tmp_path, validator="python-validator", validator_keys_env="KEYS")
        )
    with pytest.raises(ConfigError, match="expected an environment variable name"):
        bridge_settings(tmp_path, validator_keys_env="1-bad")

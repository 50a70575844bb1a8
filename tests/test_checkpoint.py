"""EIP-712 checkpoints in Python: the digest's inputs, and signatures by the vault's rules.

The vectors (tests/vectors/encoding.json, ``bridge``) pin the digest and signatures down;
these tests check what the vault refuses is refused here too, and that the core does not
need web3 to import the bridge package.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fontana.bridge.checkpoint import (
    SECP256K1_N,
    Checkpoint,
    domain_separator,
    recover_signer,
    sign_digest,
    validator_address,
)
from fontana.errors import EncodingError

KEY = bytes([1]) * 32
DIGEST = Checkpoint(b"\x01" * 32, 3, b"\x02" * 32).digest(31337, b"\x03" * 20)


def test_a_signature_is_low_s_and_recovers_its_signer() -> None:
    for i in range(1, 30):  # about half of raw signatures would have a high s
        key = bytes([i]) * 32
        signature = sign_digest(key, DIGEST)
        assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2
        assert signature[64] in (27, 28)
        assert recover_signer(DIGEST, signature) == validator_address(key)


def _high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (_high_s, "high s"),
        (lambda sig: sig[:64], "expected 65 bytes"),
        (lambda sig: sig + b"\x00", "expected 65 bytes"),
        (lambda sig: sig[:64] + b"\x00", "not a valid"),
        (lambda sig: sig[:64] + b"\x1d", "not a valid"),
        (lambda sig: bytes(32) + sig[32:], "not a valid"),
        (lambda sig: sig[:32] + bytes(32) + sig[64:], "not a valid"),
        (lambda sig: SECP256K1_N.to_bytes(32, "big") + sig[32:], "not a valid"),
    ],
    ids=["high s", "short", "long", "v 0", "v 29", "r 0", "s 0", "r = n"],
)
def test_signatures_the_vault_refuses_are_refused(
    mangle: Callable[[bytes], bytes], why: str
) -> None:
    with pytest.raises(EncodingError, match=why):
        recover_signer(DIGEST, mangle(sign_digest(KEY, DIGEST)))


def test_another_digest_recovers_another_signer() -> None:
    other = Checkpoint(b"\x01" * 32, 4, b"\x02" * 32).digest(31337, b"\x03" * 20)
    assert recover_signer(other, sign_digest(KEY, DIGEST)) != validator_address(KEY)


@pytest.mark.parametrize(
    "fields",
    [
        {"genesis_hash": b"\x01" * 31},
        {"state_root": "00" * 32},
        {"height": -1},
        {"height": 2**64},
        {"height": True},
    ],
)
def test_checkpoint_fields_are_checked(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"genesis_hash": b"\x01" * 32, "height": 1, "state_root": bytes(32)}
    with pytest.raises(EncodingError):
        Checkpoint(**(values | fields))  # type: ignore[arg-type]


def test_every_input_moves_the_digest() -> None:
    base = Checkpoint(b"\x01" * 32, 3, b"\x02" * 32)
    digests = {
        DIGEST,
        Checkpoint(b"\x09" * 32, 3, b"\x02" * 32).digest(31337, b"\x03" * 20),
        Checkpoint(b"\x01" * 32, 3, b"\x09" * 32).digest(31337, b"\x03" * 20),
        base.digest(1, b"\x03" * 20),
        base.digest(31337, b"\x09" * 20),
    }
    assert len(digests) == 5
    with pytest.raises(EncodingError):
        domain_separator(31337, b"\x03" * 19)


def test_the_bridge_package_and_checkpoints_import_without_web3() -> None:
    code = (
        "import sys, fontana.bridge, fontana.bridge.checkpoint, fontana.ledger, fontana.cli;"
        "assert 'web3' not in sys.modules and 'eth_account' not in sys.modules, sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_deep_json_is_refused_not_fatal_once_web3_is_loaded(tmp_path: Path) -> None:
    """py_ecc (under web3 and eth-account) raises the recursion limit to 100,000 at import;
    a 100,000-deep genesis file then crashed the interpreter instead of being refused."""
    path = tmp_path / "genesis.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code = (
        "import sys, fontana.bridge.vault, web3, eth_account\n"
        "from fontana.errors import FontanaError\n"
        "from fontana.genesis import load_genesis_file\n"
        "try:\n"
        f"    load_genesis_file(__import__('pathlib').Path({str(path)!r}))\n"
        "except FontanaError as exc:\n"
        "    print(exc.code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout.strip()) == (0, "genesis_invalid"), result.stderr


def test_the_test_session_runs_at_the_safe_recursion_limit() -> None:
    import web3  # noqa: F401  (already imported by the vault tests' modules)

    from fontana.bridge import SAFE_RECURSION_LIMIT

    assert sys.getrecursionlimit() <= SAFE_RECURSION_LIMIT

"""``[bridge]`` settings and key files: refused with a typed error before anything is signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_helpers import ledger  # noqa: F401  (fixture)

from fontana.bridge.keys import read_key_file, write_key_file
from fontana.config import load_settings
from fontana.errors import ConfigError, KeyFilePermissionError
from fontana.ledger import Ledger
from fontana.withdrawals import open_processor


def settings(tmp_path: Path, **bridge: str) -> object:
    env = {"FONTANA_HOME": str(tmp_path / "home")}
    env |= {f"FONTANA_BRIDGE_{k.upper()}": v for k, v in bridge.items()}
    return load_settings(environ=env, cwd=tmp_path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("validator_keys", "a,,b", "none empty"),
        ("validator_keys", "a, a", "named twice"),
        ("poll_ms", "0", "expected milliseconds"),
    ],
)
def test_bad_bridge_settings_are_config_invalid(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, **{key: value})


def test_the_bridge_section_is_shown_with_its_defaults(tmp_path: Path) -> None:
    keys = {k for k, _, _ in settings(tmp_path).items()}  # type: ignore[attr-defined]
    assert {"bridge.validator_keys", "bridge.sender_key", "bridge.poll_ms"} <= keys


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "64 hex digits"),
        (b"12" * 31, "64 hex digits"),
        (b"zz" * 32, "64 hex digits"),
        (b"00" * 32, "not a valid secp256k1 key"),
        (b"ff" * 32, "not a valid secp256k1 key"),
    ],
)
def test_a_key_file_that_is_no_secp256k1_key_is_config_invalid(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=message):
        read_key_file(path, "bridge.sender_key")


def test_key_files_are_read_back_and_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "key"
    key = write_key_file(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert read_key_file(path, "bridge.sender_key") == key
    (tmp_path / "spaced").write_text(f"  0x{key.hex()}\n")
    (tmp_path / "spaced").chmod(0o600)
    assert read_key_file(tmp_path / "spaced", "k") == key
    path.chmod(0o640)
    with pytest.raises(KeyFilePermissionError):
        read_key_file(path, "bridge.sender_key")
    with pytest.raises(ConfigError, match="no such file"):
        read_key_file(tmp_path / "missing", "bridge.sender_key")


def test_the_processor_needs_an_evm_l1_a_vault_and_keys(
    tmp_path: Path,
    ledger: Ledger,  # noqa: F811
) -> None:
    base = {"FONTANA_HOME": str(tmp_path / "home")}
    cases = [
        ({}, "needs an EVM L1"),
        ({"FONTANA_L1_URL": "evm+http://127.0.0.1:1"}, "needs the vault's address"),
        (
            {"FONTANA_L1_URL": "evm+http://127.0.0.1:1", "FONTANA_L1_VAULT": "0x" + "11" * 20},
            "bridge.validator_keys",
        ),
    ]
    for env, message in cases:
        with pytest.raises(ConfigError, match=message):
            open_processor(load_settings(environ=base | env, cwd=tmp_path), ledger)

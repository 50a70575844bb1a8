"""Hostile files: genesis files, key files and config sources answer their typed errors.

Each reader refuses special files (FIFO, directory, symlink loop, device,
huge file) before reading, and mutated contents give ``genesis_invalid``,
a wallet error or ``config_invalid``, never another exception.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hostile_helpers import (
    ENV_KEYS,
    FAST,
    HOSTILE_TEXT,
    mutated_bytes,
    mutated_json,
    mutated_text,
    special_files,
    typed_or_ok,
)
from hypothesis import given
from hypothesis import strategies as st
from ledger_helpers import make_genesis

from fontana.config import load_settings
from fontana.errors import FontanaError
from fontana.genesis import load_genesis_file
from fontana.wallet import create_key, key_info, key_path, load_key

GENESIS_JSON: dict[str, Any] = make_genesis().to_json()


@pytest.fixture(scope="module")
def specials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return special_files(tmp_path_factory.mktemp("specials"))


def test_a_path_with_nul_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FontanaError, match="not a valid file name"):
        load_genesis_file(tmp_path / "gen\x00esis.json")


def test_special_files_are_refused_at_every_reader(
    specials: dict[str, Path], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    create_key(home, "default")
    for kind, path in specials.items():
        with pytest.raises(FontanaError):
            load_genesis_file(path)
        with pytest.raises(FontanaError):
            load_settings(environ={"FONTANA_CONFIG": str(path)}, cwd=tmp_path, plugin_sections={})
        if kind not in ("dir", "missing"):  # a home may be a directory or not yet exist
            with pytest.raises(FontanaError):
                load_settings(environ={"FONTANA_HOME": str(path)}, cwd=tmp_path, plugin_sections={})
        keys = home / "keys"
        for target in (keys / "default", keys / "default.pub"):
            saved = target.read_bytes()
            target.unlink()
            os.symlink(path, target)
            try:
                if kind != "missing" or target.suffix != ".pub":  # a missing .pub is allowed
                    with pytest.raises(FontanaError):
                        key_info(home, "default")
            finally:
                target.unlink()
                target.write_bytes(saved)
                target.chmod(0o600)


@FAST
@given(data=st.data())
def test_genesis_files_answer_genesis_invalid(data: st.DataObject, tmp_path: Path) -> None:
    text = json.dumps(GENESIS_JSON, indent=data.draw(st.sampled_from([None, 2])))
    kind = data.draw(st.sampled_from(["bytes", "json", "deep", "dup"]))
    if kind == "bytes":
        raw = data.draw(mutated_bytes(text.encode()))
    elif kind == "json":
        raw = json.dumps(data.draw(mutated_json(GENESIS_JSON))).encode()
    elif kind == "deep":
        depth = data.draw(st.integers(1, 200_000))
        raw = b"[" * depth + b"]" * depth
    else:
        raw = text[:-1].encode() + b', "min_fee": "2"}'
    path = tmp_path / "genesis.json"
    path.write_bytes(raw)
    try:
        load_genesis_file(path)
    except FontanaError as exc:
        assert exc.code == "genesis_invalid" and str(path) in exc.message


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    home = tmp_path_factory.mktemp("keys")
    create_key(home, "plain")
    create_key(home, "locked", passphrase="correct horse")
    return {name: key_path(home, name).read_bytes() for name in ("plain", "locked")} | {
        name + ".pub": (home / "keys" / f"{name}.pub").read_bytes() for name in ("plain", "locked")
    }


@FAST
@given(data=st.data())
def test_key_files_answer_wallet_errors(
    data: st.DataObject, key_files: dict[str, bytes], tmp_path: Path
) -> None:
    name = data.draw(st.sampled_from(["plain", "locked"]))
    keys = tmp_path / "home" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    keys.chmod(0o700)
    which = data.draw(st.sampled_from(["private", "public"]))
    private = key_files[name] if which == "public" else data.draw(mutated_bytes(key_files[name]))
    public = (
        key_files[name + ".pub"]
        if which == "private"
        else data.draw(mutated_bytes(key_files[name + ".pub"]))
    )
    (keys / name).write_bytes(private)
    (keys / name).chmod(0o600)
    (keys / f"{name}.pub").write_bytes(public)
    typed_or_ok(lambda: key_info(tmp_path / "home", name))
    if which == "private":  # an intact key would only spend half a second in argon2id
        typed_or_ok(lambda: load_key(tmp_path / "home", name, "correct horse"))


TOML = (
    'log_level = "info"\n[storage]\npool_size = 5\nlock_timeout_ms = 30000\n'
    'url = "postgresql://u:pw@db/ledger?sslmode=require"\n[wallet]\nkey_name = "default"\n'
    "[proofs]\nkeep_versions = 0\n[poster]\npoll_ms = 500\n"
)
DOTENV = "FONTANA_STORAGE_POOL_SIZE=3\nFONTANA_WALLET_KEY_NAME=ops\nFONTANA_LOG_LEVEL=debug\n"


@FAST
@given(data=st.data())
def test_config_sources_answer_config_errors(data: st.DataObject, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    (cwd / "fontana.toml").write_bytes(data.draw(mutated_bytes(TOML.encode())))
    (cwd / ".env").write_bytes(data.draw(mutated_bytes(DOTENV.encode())))
    env = {"FONTANA_HOME": str(tmp_path / "home")}
    key = data.draw(st.sampled_from(ENV_KEYS))
    env[key] = data.draw(st.sampled_from(HOSTILE_TEXT) | mutated_text("12"))
    if "\x00" in env[key]:
        env[key] = env[key].replace("\x00", "")  # an environment cannot hold NUL
    try:
        loaded = load_settings(environ=env, cwd=cwd, plugin_sections={})
    except FontanaError as exc:
        assert exc.code == "config_invalid"
        assert "pw" not in exc.message  # an error never prints a secret
        return
    for _key, value, _secret in loaded.items():
        if isinstance(value, str):
            value.encode("utf-8")  # every accepted text is valid UTF-8 ...
            assert "\x00" not in value  # ... without NUL
        if isinstance(value, int):
            assert abs(value) < 2**63


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"min_fee": NaN}', "NaN is not a JSON number"),
        ('{"min_fee": -Infinity}', "-Infinity is not a JSON number"),
        ('{"min_fee": ' + "9" * 5000 + "}", "a number of 5000 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("\ufeff{}", "not valid JSON"),
    ],
)
def test_genesis_json_the_parser_would_take_is_refused(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "genesis.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FontanaError, match=reason) as caught:
        load_genesis_file(path)
    assert caught.value.code == "genesis_invalid" and len(caught.value.message) < 300

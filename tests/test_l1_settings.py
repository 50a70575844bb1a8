"""The [l1] settings: defaults, sources and strict validation, and how the watcher resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fontana.config import Settings, load_settings
from fontana.errors import ConfigError


def load(tmp_path: Path, env: dict[str, str] | None = None) -> Settings:
    return load_settings(
        environ={"FONTANA_HOME": str(tmp_path), **(env or {})}, cwd=tmp_path, plugin_sections={}
    )


def test_defaults_follow_the_local_stand_in_and_the_genesis(tmp_path: Path) -> None:
    l1 = load(tmp_path).l1
    assert (l1.url, l1.vault, l1.confirmations) == ("local://", "", None)
    assert (l1.start_block, l1.max_range, l1.poll_ms) == (0, 1_000, 1_000)


def test_every_key_comes_from_the_file_or_the_environment(tmp_path: Path) -> None:
    vault = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    (tmp_path / "fontana.toml").write_text(
        f'[l1]\nurl = "evm+http://127.0.0.1:8545"\nvault = "{vault}"\nconfirmations = 0\n'
        "start_block = 12\n"
    )
    s = load(tmp_path, {"FONTANA_L1_MAX_RANGE": "50", "FONTANA_L1_POLL_MS": "250"})
    assert (s.l1.url, s.l1.vault, s.l1.confirmations) == ("evm+http://127.0.0.1:8545", vault, 0)
    assert (s.l1.start_block, s.l1.max_range, s.l1.poll_ms) == (12, 50, 250)
    assert s.sources["l1.confirmations"].startswith("file ")
    assert s.sources["l1.max_range"] == "env FONTANA_L1_MAX_RANGE"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FONTANA_L1_VAULT": "5FbDB2315678afecb367f032d93F642f64180aa3"}, "vault = .*0x and 40"),
        ({"FONTANA_L1_VAULT": "0x" + "ab" * 19}, "vault = .*0x and 40 hex digits"),
        ({"FONTANA_L1_VAULT": "0x" + "\uff41" * 40}, "vault = .*0x and 40 hex digits"),
        ({"FONTANA_L1_CONFIRMATIONS": "-1"}, "confirmations = .*0\\.\\.4294967295"),
        ({"FONTANA_L1_CONFIRMATIONS": str(2**32)}, "confirmations = .*0\\.\\.4294967295"),
        ({"FONTANA_L1_CONFIRMATIONS": "1.5"}, "confirmations = .*expected an integer"),
        ({"FONTANA_L1_START_BLOCK": "-1"}, "start_block = .*>= 0"),
        ({"FONTANA_L1_MAX_RANGE": "0"}, "max_range = .*1\\.\\.1000000"),
        ({"FONTANA_L1_MAX_RANGE": "1000001"}, "max_range = .*1\\.\\.1000000"),
        ({"FONTANA_L1_POLL_MS": "0"}, "poll_ms = .*milliseconds in 1\\.\\.2147483647"),
        ({"FONTANA_L1_URL": "local://\x00"}, "url = .*NUL"),
    ],
)
def test_bad_values_are_config_invalid(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, env)


def test_a_toml_confirmations_that_is_not_an_integer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fontana.toml").write_text('[l1]\nconfirmations = "twelve"\n')
    with pytest.raises(ConfigError, match="l1.confirmations = 'twelve'.*expected an integer"):
        load(tmp_path)

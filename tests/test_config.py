"""Settings: precedence, provenance, strict validation, masking, `fontana config show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fontana.cli import cli
from fontana.config import Settings, load_settings, mask
from fontana.errors import ConfigError, UnknownBackendError
from fontana.storage import open_storage


def load(tmp_path: Path, env: dict[str, str] | None = None) -> Settings:
    return load_settings(
        environ={"FONTANA_HOME": str(tmp_path), **(env or {})}, cwd=tmp_path, plugin_sections={}
    )


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.home == tmp_path
    assert s.storage.url == f"sqlite:///{tmp_path}/fontana.db"
    assert s.da.url == f"local:///{tmp_path}/da"
    assert s.sources["storage.pool_size"] == "default"
    assert s.sources["home"] == "env FONTANA_HOME"


def test_precedence_default_file_dotenv_env(tmp_path: Path) -> None:
    (tmp_path / "fontana.toml").write_text(
        'log_level = "debug"\n[storage]\npool_size = 2\nlock_timeout_ms = 10\n'
        '[wallet]\nkey_name = "file"\n'
    )
    (tmp_path / ".env").write_text("FONTANA_STORAGE_POOL_SIZE=3\nFONTANA_WALLET_KEY_NAME=dotenv\n")
    s = load(tmp_path, {"FONTANA_WALLET_KEY_NAME": "env"})
    assert s.log_level == "debug" and s.sources["log_level"].startswith("file ")
    assert s.storage.lock_timeout_ms == 10
    assert s.storage.pool_size == 3 and s.sources["storage.pool_size"].startswith(".env ")
    assert (
        s.wallet.key_name == "env" and s.sources["wallet.key_name"] == "env FONTANA_WALLET_KEY_NAME"
    )


def test_config_file_from_home_and_from_variable(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere.toml"
    home.mkdir()
    (home / "fontana.toml").write_text("[storage]\npool_size = 4\n")
    elsewhere.write_text("[storage]\npool_size = 9\n")
    env = {"FONTANA_HOME": str(home)}
    assert load_settings(environ=env, cwd=tmp_path, plugin_sections={}).storage.pool_size == 4
    env["FONTANA_CONFIG"] = str(elsewhere)
    assert load_settings(environ=env, cwd=tmp_path, plugin_sections={}).storage.pool_size == 9
    env["FONTANA_CONFIG"] = str(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="missing.toml"):
        load_settings(environ=env, cwd=tmp_path, plugin_sections={})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[storage]\npool_size = 1.5\n", "storage.pool_size = 1.5 .*expected an integer"),
        ("[storage]\npool_size = true\n", "storage.pool_size = True .*expected an integer"),
        ("[storage]\npool_size = 0\n", "storage.pool_size = 0 .*>= 1"),
        ('[storage]\nsqlite_synchronous = "off"\n', "expected one of 'full', 'normal'"),
        ("[storage]\nurl = 5\n", "storage.url = 5 .*expected text"),
        ("[storage]\nulr = 'x'\n", "unknown key storage.ulr; \\[storage\\] has: .*url"),
        ("colour = 'red'\n", "unknown key 'colour'"),
        ("storage = 'x'\n", "\\[storage\\] must be a table"),
        ("[storage\n", "not valid TOML"),
    ],
)
def test_bad_file_values_name_key_value_and_expectation(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "fontana.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load(tmp_path)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FONTANA_STORAGE_POOL_SIZE": "ten"}, "'ten' \\(from env FONTANA_STORAGE_POOL_SIZE\\)"),
        ({"FONTANA_LOG_LEVEL": "loud"}, "log_level = 'loud'"),
        ({"FONTANA_PROOFS_KEEP_VERSIONS": "-1"}, ">= 0"),
    ],
)
def test_bad_env_values(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, env)


def test_integers_from_strings_are_trimmed(tmp_path: Path) -> None:
    s = load(tmp_path, {"FONTANA_STORAGE_POOL_SIZE": " 12 "})
    assert s.storage.pool_size == 12


def test_unknown_environment_variables_are_reported_not_fatal(tmp_path: Path) -> None:
    s = load(tmp_path, {"FONTANA_STORAGE_ULR": "x", "FONTANA_TEST_POSTGRES_URL": "y"})
    assert s.unknown_env == ("FONTANA_STORAGE_ULR",)


def test_masking() -> None:
    assert mask("s3cret", True) == "***"
    assert mask(None, True) is None
    assert mask("postgresql://u:pw@db:5432/x", False) == "postgresql://u:***@db:5432/x"
    assert mask("postgresql://u@db/x", False) == "postgresql://u@db/x"


def test_unknown_backend_lists_the_available_ones(tmp_path: Path) -> None:
    s = load(tmp_path, {"FONTANA_STORAGE_URL": "mongodb://x"})
    with pytest.raises(UnknownBackendError, match="available: .*sqlite .*postgresql"):
        open_storage(s)


def test_config_show_masks_and_names_sources(tmp_path: Path) -> None:
    env = {
        "FONTANA_HOME": str(tmp_path),
        "FONTANA_WALLET_PASSPHRASE": "hunter2",
        "FONTANA_STORAGE_URL": "postgresql://fontana:pw@db/ledger",
    }
    runner = CliRunner()
    result = runner.invoke(cli, ["config", "show", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows["wallet.passphrase"] == {"value": "***", "source": "env FONTANA_WALLET_PASSPHRASE"}
    assert rows["storage.url"]["value"] == "postgresql://fontana:***@db/ledger"
    assert "hunter2" not in result.output and ":pw@" not in result.output
    text = runner.invoke(cli, ["config", "show"], env=env).output
    assert 'wallet.passphrase          = "***"  # env FONTANA_WALLET_PASSPHRASE' in text


def test_config_show_bad_value_exits_78_with_the_reason(tmp_path: Path) -> None:
    env = {"FONTANA_HOME": str(tmp_path), "FONTANA_STORAGE_POOL_SIZE": "x"}
    result = CliRunner().invoke(cli, ["config", "show", "--json"], env=env)
    assert result.exit_code == 78
    assert json.loads(result.output)["error"]["code"] == "config_invalid"

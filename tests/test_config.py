"""Settings: precedence, provenance, strict validation, masking, `fontana config show`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from fontana.cli import cli
from fontana.cli.config_commands import settings_rows
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


# --- hostile values and files ------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FONTANA_STORAGE_POOL_SIZE": "\u0661\u0662"}, "pool_size = .*expected an integer"),
        ({"FONTANA_STORAGE_POOL_SIZE": "\uff11\uff12"}, "pool_size = .*expected an integer"),
        ({"FONTANA_STORAGE_POOL_SIZE": "\u300012"}, "pool_size = .*expected an integer"),
        ({"FONTANA_STORAGE_POOL_SIZE": "9" * 5000}, "pool_size = '9999.*\\.\\.\\. \\(from env"),
        ({"FONTANA_STORAGE_POOL_SIZE": str(2**63)}, "pool_size = .*expected an integer"),
        ({"FONTANA_PROOFS_KEEP_VERSIONS": str(-(2**63))}, "expected an integer"),
        ({"FONTANA_POSTER_POLL_MS": str(2**31)}, "poll_ms = .*milliseconds in 1\\.\\.2147483647"),
        ({"FONTANA_SEQUENCER_BLOCK_TIME_MS": str(2**40)}, "block_time_ms = .*milliseconds"),
        ({"FONTANA_STORAGE_LOCK_TIMEOUT_MS": str(2**31)}, "lock_timeout_ms = .*milliseconds"),
        ({"FONTANA_LOG_LEVEL": "\u0131nfo"}, "log_level = .*expected one of"),
        ({"FONTANA_WALLET_KEY_NAME": "a\udcffb"}, "key_name = .*not valid UTF-8"),
        ({"FONTANA_HOME": "/tmp/\udcff"}, "home = .*not valid UTF-8"),
    ],
)
def test_integers_and_text_are_strict(tmp_path: Path, env: dict[str, str], message: str) -> None:
    """ASCII digits within int64 (milliseconds within int32); text is valid UTF-8."""
    with pytest.raises(ConfigError, match=message) as caught:
        load(tmp_path, env)
    assert len(caught.value.message) < 300


def test_integer_edges_are_accepted(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        {
            "FONTANA_STORAGE_POOL_SIZE": "0" * 5000 + "7",
            "FONTANA_PROOFS_KEEP_VERSIONS": str(2**63 - 1),
            "FONTANA_POSTER_POLL_MS": str(2**31 - 1),
        },
    )
    assert s.storage.pool_size == 7
    assert s.proofs.keep_versions == 2**63 - 1 and s.poster.poll_ms == 2**31 - 1


def test_a_secret_is_never_printed_in_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"FONTANA_WALLET_PASSPHRASE": "hunter2\udcff"})
    assert "wallet.passphrase = '***'" in caught.value.message
    assert "hunter2" not in caught.value.message
    (tmp_path / "fontana.toml").write_text('[storage]\nurl = "postgresql://u:pw@h/x\\u0000"\n')
    with pytest.raises(ConfigError, match="NUL") as caught:
        load(tmp_path)
    assert ":pw@" not in caught.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'log_level = "\xff"\n', "not valid UTF-8 \\(byte 13\\)"),
        (b"x = " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b"x = " + b"{a=" * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
        (b"[storage]\npool_size = " + b"9" * 5000, "not valid TOML"),
        (b"[storage]\npool_size = " + str(2**63).encode(), "expected an integer"),
        (b'[wallet]\nkey_name = "a\\u0000b"\n', "contains a NUL character"),
        (b"x" * (2 << 20), "larger than 1048576 bytes"),
    ],
)
def test_bad_config_files_are_config_errors(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "fontana.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load(tmp_path)


def special_paths(root: Path) -> dict[str, Path]:
    """A FIFO, a directory, a symlink loop and an endless device, under ``root``."""
    paths = {k: root / k for k in ("fifo", "dir", "loop", "zero")}
    os.mkfifo(paths["fifo"])
    paths["dir"].mkdir()
    os.symlink(paths["loop"], paths["loop"])
    os.symlink("/dev/zero", paths["zero"])
    return paths


def test_special_config_files_are_refused_without_reading(tmp_path: Path) -> None:
    """A FIFO would block the read forever, /dev/zero would never end."""
    for kind, path in special_paths(tmp_path).items():
        with pytest.raises(ConfigError, match=str(path)) as caught:
            load(tmp_path, {"FONTANA_CONFIG": str(path)})
        reason = {"loop": "Too many levels", "zero": "character device"}.get(kind, kind.upper())
        assert reason.lower() in caught.value.message.lower()


def test_dotenv_files_are_checked_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"FONTANA_WALLET_KEY_NAME=\xff\n")
    with pytest.raises(ConfigError, match=".env file: not valid UTF-8"):
        load(tmp_path)
    (tmp_path / ".env").unlink()
    os.mkfifo(tmp_path / ".env")  # not a regular file: not a .env file, never opened
    assert load(tmp_path).wallet.key_name == "default"


@pytest.mark.parametrize("kind", ["file", "under_a_file", "loop", "fifo"])
def test_home_must_be_a_directory(tmp_path: Path, kind: str) -> None:
    target = {
        "file": tmp_path / "a_file",
        "under_a_file": tmp_path / "a_file" / "home",
        "loop": tmp_path / "loop",
        "fifo": tmp_path / "fifo",
    }[kind]
    (tmp_path / "a_file").write_text("")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ConfigError, match="home = "):
        load_settings(environ={"FONTANA_HOME": str(target)}, cwd=tmp_path, plugin_sections={})


def test_cli_with_home_at_a_file_is_config_invalid(tmp_path: Path) -> None:
    home = tmp_path / "a_file"
    home.write_text("keep me")
    for args in (["init"], ["show"], ["balance"], ["config", "show"]):
        result = CliRunner().invoke(cli, args, env={"FONTANA_HOME": str(home)})
        assert result.exit_code == 78, (args, result.output)
        assert result.stderr.startswith("error[config_invalid]: home = ")
    assert home.read_text() == "keep me"


# --- masking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://h/db?password=x", "postgresql://h/db?password=***"),
        ("postgresql://h/db?user=a&password=b", "postgresql://h/db?user=a&password=***"),
        (
            "postgresql://h/db?sslmode=require&sslpassword=s;passfile=/p",
            "postgresql://h/db?sslmode=require&sslpassword=***;passfile=/p",
        ),
        (
            "https://rpc/x?token=t&auth_token=u&api_key=k&apikey=q&X-Amz-Signature=z&page=2",
            "https://rpc/x?token=***&auth_token=***&api_key=***&apikey=***&X-Amz-Signature=***"
            "&page=2",
        ),
        ("https://h/cb#access_token=t&state=1", "https://h/cb#access_token=***&state=1"),
        ("postgresql://h/db?pass%77ord=x", "postgresql://h/db?pass%77ord=***"),
        ("postgresql://h/db?PASSWORD=x", "postgresql://h/db?PASSWORD=***"),
        ("postgresql://h/db?password=", "postgresql://h/db?password="),
        ("postgresql://u:pw@db:5432/x?password=y", "postgresql://u:***@db:5432/x?password=***"),
        ("postgresql://:pw@db/x", "postgresql://:***@db/x"),
        ("postgresql://u:p@ss@db/x", "postgresql://u:***@db/x"),
        ("postgresql://u:pa/ss@db/x", "postgresql://u:***@db/x"),
        ("postgresql://u:pw@h1:5432,h2:5433/x", "postgresql://u:***@h1:5432,h2:5433/x"),
        ("https://u:p@h:99999/x", "https://u:***@h:99999/x"),  # a bad port: no ValueError
        ("http://u:p@[::1/x?token=t", "http://u:***@[::1/x?token=***"),  # a bad IPv6 literal
        ("postgresql://h:5432/db?email=a@b", "postgresql://h:5432/db?email=a@b"),
        ("local:///home/da", "local:///home/da"),
        ("celestia://node:26658?auth_token=abc", "celestia://node:26658?auth_token=***"),
        (
            "host=db user=u password='a b' sslmode=require",
            "host=db user=u password=*** sslmode=require",
        ),
        (
            "primary https://u:p@a/x, backup https://b/?key=k",
            "primary https://u:***@a/x, backup https://b/?key=***",
        ),
    ],
)
def test_mask_hides_passwords_in_userinfo_query_and_words(url: str, shown: str) -> None:
    assert mask(url, False) == shown


@attrs.frozen
class _Mirror:
    url: str = ""
    token: str = ""


@attrs.frozen
class _PluginSettings:
    """A plugin section with URLs nested in a list, a table and a sub-section."""

    url: str = ""
    mirrors: tuple[str, ...] = ()
    headers: dict[str, str] = attrs.Factory(dict)
    backup: _Mirror = _Mirror()


def test_config_show_masks_urls_nested_in_plugin_settings(tmp_path: Path) -> None:
    (tmp_path / "fontana.toml").write_text(
        "[relay]\n"
        'url = "https://relay/x?api_key=S1"\n'
        'mirrors = ["https://u:S2@m1/", "https://m2/?token=S3"]\n'
        "[relay.headers]\n"
        'Authorization = "Bearer S4"\n'
        'accept = "https://h/?sig=S5"\n'
        "[relay.backup]\n"
        'url = "postgresql://h/db?password=S6"\n'
        'token = "S7"\n'
    )
    settings = load_settings(
        environ={"FONTANA_HOME": str(tmp_path)},
        cwd=tmp_path,
        plugin_sections={"relay": _PluginSettings},
    )
    assert settings.section("relay").backup.token == "S7"
    rows = settings_rows(settings)
    shown = json.dumps(rows)
    for n in range(1, 8):
        assert f"S{n}" not in shown, shown
    assert rows["relay.mirrors"]["value"] == ["https://u:***@m1/", "https://m2/?token=***"]
    assert rows["relay.headers"]["value"] == {
        "Authorization": "***",
        "accept": "https://h/?sig=***",
    }
    assert rows["relay.backup"]["value"] == {
        "url": "postgresql://h/db?password=***",
        "token": "***",
    }


def test_config_show_escapes_undecodable_names_and_paths(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 (in a variable's name, a directory) print escaped, never crash."""
    env = {"FONTANA_HOME": str(tmp_path), "FONTANA_X\udcff": "1"}
    result = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert result.exit_code == 0, result.output
    assert "# warning: unknown setting FONTANA_X\\udcff ignored" in result.stdout
    env = {"FONTANA_HOME": str(tmp_path), "FONTANA_CONFIG": str(tmp_path / "c\udcff.toml")}
    refused = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert refused.exit_code == 78
    assert refused.stderr.startswith("error[config_invalid]: FONTANA_CONFIG = ")
    assert "c\\udcff.toml': not valid UTF-8" in refused.stderr


def test_an_unusable_home_name_is_config_invalid(tmp_path: Path) -> None:
    """A name too long to stat must not escape as OSError from the search for fontana.toml."""
    with pytest.raises(ConfigError, match="File name too long") as caught:
        load(tmp_path, {"FONTANA_HOME": "9" * 5000})
    assert len(caught.value.message) < 200

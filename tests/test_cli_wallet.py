"""``fontana init`` / ``fontana show``: human and JSON output, errors and exit codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from fontana.cli.wallet_commands import init_command, show_command
from fontana.wallet import key_info, load_key

GROUP = click.Group(commands=[init_command, show_command])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # No fontana.toml or .env from the developer's checkout, no FONTANA_* from their shell.
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    return tmp_path / "home"


def run(home: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    env = {"FONTANA_HOME": str(home), **env}
    return CliRunner().invoke(GROUP, list(args), input=stdin, env=env)


def snapshot(home: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(home)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def test_init_then_show_human(home: Path) -> None:
    result = run(home, "init")
    assert result.exit_code == 0, result.output
    info = key_info(home, "default")
    assert result.stdout.startswith("created key 'default'\n")
    assert f"address:    {info.address}\n" in result.stdout
    assert f"public key: {info.public_key.hex()}\n" in result.stdout
    assert f"path:       {home / 'keys' / 'default'}\n" in result.stdout
    assert "encrypted:  no" in result.stdout
    shown = run(home, "show")
    assert shown.exit_code == 0
    assert shown.stdout == result.stdout.split("\n", 1)[1]


def test_init_then_show_json(home: Path) -> None:
    created = json.loads(run(home, "init", "--name", "ops", "--json").stdout)
    shown = run(home, "show", "--name", "ops", "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == created
    info = key_info(home, "ops")
    assert created == {
        "name": "ops",
        "address": info.address,
        "public_key": info.public_key.hex(),
        "path": str(home / "keys" / "ops"),
        "encrypted": False,
    }


def test_key_name_from_settings(home: Path) -> None:
    assert run(home, "init", FONTANA_WALLET_KEY_NAME="fromenv").exit_code == 0
    assert (home / "keys" / "fromenv").is_file()
    assert "name:       fromenv" in run(home, "show", FONTANA_WALLET_KEY_NAME="fromenv").stdout


def test_init_twice_fails_and_changes_nothing(home: Path) -> None:
    run(home, "init")
    before = snapshot(home)
    result = run(home, "init")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error[key_exists]: key 'default' exists")
    assert "--force" in result.stderr
    as_json = run(home, "init", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"]["code"] == "key_exists"
    assert snapshot(home) == before


def test_init_force_replaces(home: Path) -> None:
    first = json.loads(run(home, "init", "--json").stdout)
    second = run(home, "init", "--force", "--json")
    assert second.exit_code == 0
    assert json.loads(second.stdout)["address"] != first["address"]


def test_init_with_passphrase_file(home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text("s3cret phrase\n")
    result = run(home, "init", "--passphrase-file", str(secret), "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["encrypted"] is True
    assert load_key(home, passphrase="s3cret phrase").address == created["address"]
    assert "encrypted:  yes" in run(home, "show").stdout


def test_init_with_empty_passphrase_file_fails(home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text("\n")
    result = run(home, "init", "--passphrase-file", str(secret))
    assert result.exit_code == 1
    assert result.stderr.startswith("error[wallet_error]:")
    assert not home.exists()


def test_init_encrypt_prompts_twice(home: Path) -> None:
    result = run(home, "init", "--encrypt", stdin="hunter2\nhunter2\n")
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "encrypted:  yes" in result.stdout
    assert load_key(home, passphrase="hunter2").name == "default"


def test_init_encrypt_mismatch_creates_nothing(home: Path) -> None:
    result = run(home, "init", "--encrypt", stdin="one\ntwo\n")
    assert result.exit_code != 0
    assert not home.exists()


def test_init_passphrase_from_environment(home: Path) -> None:
    result = run(home, "init", FONTANA_WALLET_PASSPHRASE="from env")
    assert result.exit_code == 0
    assert "encrypted:  yes" in result.stdout
    assert load_key(home, passphrase="from env").name == "default"


def test_init_rejects_both_encryption_flags(home: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text("x")
    result = run(home, "init", "--encrypt", "--passphrase-file", str(secret))
    assert result.exit_code == 2
    assert "not both" in result.stderr
    assert not home.exists()


def test_init_bad_name(home: Path) -> None:
    result = run(home, "init", "--name", "../x", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "bad_key_name"
    assert not home.exists()


def test_show_missing_key(home: Path) -> None:
    result = run(home, "show")
    assert result.exit_code == 1
    assert result.stderr.startswith("error[key_not_found]:")
    as_json = run(home, "show", "--json")
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "key_not_found"
    assert "fontana init" in error["message"]


def test_show_encrypted_key_needs_no_passphrase(home: Path) -> None:
    run(home, "init", "--encrypt", stdin="pw\npw\n")
    result = run(home, "show", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["encrypted"] is True


def test_show_rejects_open_permissions(home: Path) -> None:
    run(home, "init")
    path = home / "keys" / "default"
    path.chmod(0o644)
    before = snapshot(home)
    result = run(home, "show")
    assert result.exit_code == 1
    assert result.stderr.startswith("error[key_permissions]: UNPROTECTED PRIVATE KEY FILE")
    assert f"chmod 600 {path}" in result.stderr
    assert snapshot(home) == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_show_corrupt_key(home: Path) -> None:
    run(home, "init")
    path = home / "keys" / "default"
    path.write_text(path.read_text()[:-40])
    before = snapshot(home)
    result = run(home, "show", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "key_corrupt"
    assert snapshot(home) == before


@pytest.mark.parametrize("kind", ["fifo", "dir", "loop", "zero", "latin1", "huge"])
def test_init_refuses_a_passphrase_file_that_is_not_a_text_file(
    home: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block until a writer came
    elif kind == "dir":
        path.mkdir()
    elif kind == "loop":
        os.symlink(path, path)
    elif kind == "zero":
        os.symlink("/dev/zero", path)
    elif kind == "latin1":
        path.write_bytes("caf\u00e9".encode("latin-1"))
    else:
        path.write_bytes(b"x" * (1 << 20))
    for args in ([], ["--json"]):
        result = run(home, "init", "--passphrase-file", str(path), *args)
        if kind in ("dir", "loop"):  # click's own check of the option: a usage error
            assert result.exit_code == 2 and "Error: Invalid value for '--passphrase-file'" in (
                result.stderr
            )
            continue
        assert result.exit_code == 1, result.output
        message = json.loads(result.stdout)["error"] if args else None
        assert (message or {"code": "wallet_error"})["code"] == "wallet_error"
        assert args or result.stderr.startswith(f"error[wallet_error]: passphrase file {path}: ")
    assert not home.exists()


def test_show_with_a_fifo_at_the_key_path_is_key_unreadable(home: Path) -> None:
    (home / "keys").mkdir(parents=True)
    os.mkfifo(home / "keys" / "default")
    result = run(home, "show")
    assert result.exit_code == 1
    assert result.stderr.startswith("error[key_unreadable]: key file ")
    assert "not a regular file (a FIFO)" in result.stderr


def test_an_undecodable_passphrase_changes_nothing(home: Path) -> None:
    from_env = run(home, "init", FONTANA_WALLET_PASSPHRASE="\udcff")
    assert from_env.exit_code == 78
    assert "wallet.passphrase = '***'" in from_env.stderr
    typed = CliRunner().invoke(
        GROUP, ["init", "--encrypt"], input=b"\xff\xfe\n\xff\xfe\n", env={"FONTANA_HOME": str(home)}
    )
    assert typed.exit_code == 1, typed.output
    assert "error[wallet_error]: the passphrase is not valid UTF-8 text" in typed.stderr
    assert not home.exists()

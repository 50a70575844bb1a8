"""The command line under hostile arguments, environment, config files and special files.

Every run is in-process (``fontana.cli.cli`` through click's ``CliRunner``)
against a real SQLite ledger in a temporary home. A run ends in success, an
``error[code]`` line (or a JSON error with ``--json``), or a click usage
error with exit status 2; a refused run leaves every ledger table and every
file in the home as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile_helpers import ENV_KEYS, HOSTILE_TEXT, mutated_bytes, mutated_text, special_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import BOB, make_genesis, pub

from fontana.address import encode_address
from fontana.cli import cli
from fontana.wallet import key_info


def ledger_dump(db: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every row of every table, read without writing a byte."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [
            (t, sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr))
            for t in sorted(tables)
        ]
    finally:
        conn.close()


def home_files(home: Path) -> dict[str, tuple[Any, ...]]:
    """Kind, mode and content digest of every file under ``home`` except the database's."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if name.startswith("fontana.db"):
                continue
            st_ = path.lstat()
            digest = ""
            if stat.S_ISREG(st_.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st_.st_mode):
                digest = os.readlink(path)
            out[str(path.relative_to(home))] = (stat.S_IFMT(st_.st_mode), st_.st_mode, digest)
    return out


class Chain:
    """A funded wallet on a real SQLite ledger in a temporary home, shared by the CLI tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.runner = CliRunner()
        self.env = {"FONTANA_HOME": str(self.home)}
        assert self.invoke(["init"]).exit_code == 0
        me = key_info(self.home, "default").public_key
        self.address = encode_address(me)
        self.genesis = root / "genesis.json"
        genesis = make_genesis([(me, 10**12), (pub(BOB), 10**6)])
        self.genesis.write_text(json.dumps(genesis.to_json()), encoding="utf-8")
        assert self.invoke(["genesis", str(self.genesis)]).exit_code == 0
        self.passphrase_file = root / "pass.txt"
        self.passphrase_file.write_text("correct horse\n", encoding="utf-8")
        self.specials = special_files(root / "specials")

    def invoke(self, args: list[str], env: dict[str, str] | None = None) -> Any:
        return self.runner.invoke(cli, args, env={**self.env, **(env or {})}, catch_exceptions=True)

    def state(self) -> tuple[Any, ...]:
        return ledger_dump(self.home / "fontana.db"), home_files(self.home)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("chain")
    cwd = os.getcwd()
    os.chdir(root)  # no fontana.toml or .env of the developer's
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("FONTANA_")}
    try:
        yield Chain(root)
    finally:
        os.chdir(cwd)
        os.environ.update(saved)


BOB_ADDRESS = encode_address(pub(BOB))


@st.composite
def argument(draw: st.DrawFn, valid: str) -> str:
    """A valid value, a mutation of it, or something hostile."""
    return draw(
        st.sampled_from([valid, valid]) | mutated_text(valid) | st.sampled_from(HOSTILE_TEXT)
    )


@st.composite
def command_line(draw: st.DrawFn, chain: Chain) -> list[str]:
    paths = [str(p) for p in chain.specials.values()]
    command = draw(
        st.sampled_from(
            ["balance", "utxos", "transfer", "trigger-deposit", "show", "init", "genesis", "config"]
        )
    )
    if command in ("balance", "utxos"):
        args = [command, draw(argument(BOB_ADDRESS))]
        if command == "utxos" and draw(st.booleans()):
            args += ["--limit", draw(argument("2"))]
    elif command == "transfer":
        args = [command, draw(argument("1500")), draw(argument(BOB_ADDRESS))]
        for option, valid in (("--fee", "2"), ("--memo", "coffee"), ("--expiry-seconds", "60")):
            if draw(st.booleans()):
                args += [option, draw(argument(valid))]
    elif command == "trigger-deposit":
        args = [command, draw(argument("1tia")), draw(argument(chain.address))]
        for option, valid in (("--l1-tx", "ab" * 32), ("--log-index", "7")):
            if draw(st.booleans()):
                args += [option, draw(argument(valid))]
    elif command == "show":
        args = [command, "--name", draw(argument("default"))]
    elif command == "init":
        args = [command, "--name", draw(argument("second"))]
        if draw(st.booleans()):
            args += [
                "--passphrase-file",
                draw(st.sampled_from([str(chain.passphrase_file), *paths])),
            ]
    elif command == "genesis":
        args = [command, draw(st.sampled_from([str(chain.genesis), *paths]))]
    else:
        args = [command, "show"]
    if draw(st.booleans()):
        args.append("--json")
    return args


@st.composite
def environment(draw: st.DrawFn, chain: Chain) -> dict[str, str]:
    """No change, or one hostile setting, special path or undecodable name in the environment."""
    if draw(st.booleans()):
        return {}
    key = draw(st.sampled_from([*ENV_KEYS, "FONTANA_CONFIG", "FONTANA_X\udcff"]))
    if key in ("FONTANA_HOME", "FONTANA_CONFIG") and draw(st.booleans()):
        return {key: str(draw(st.sampled_from(list(chain.specials.values()))))}
    value = draw(st.sampled_from(HOSTILE_TEXT) | mutated_text("12"))
    return {key: value.replace("\x00", "")}


#: A config file that changes nothing, as a seed for mutations.
CHAIN_TOML = b'log_level = "warning"\n[storage]\npool_size = 5\n[wallet]\nkey_name = "default"\n'
#: Where a special file replaces a key file for one command.
KEY_SWAPS = [None, None, "default", "default.pub", "keys"]


def _swap(chain: Chain, which: str | None, target: Path | None) -> Callable[[], None]:
    """Put a symlink to ``target`` where ``which`` is; return the undo."""
    if which is None or target is None:
        return lambda: None
    path = chain.home / "keys" / which if which != "keys" else chain.home / "keys"
    saved = path.with_name(path.name + ".saved")
    path.rename(saved)
    os.symlink(target, path)

    def undo() -> None:
        path.unlink()
        saved.rename(path)

    return undo


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_cli_answers_error_codes_and_changes_nothing(data: st.DataObject, chain: Chain) -> None:
    args = data.draw(command_line(chain))
    env = data.draw(environment(chain))
    which = data.draw(st.sampled_from(KEY_SWAPS))
    target = data.draw(st.sampled_from(list(chain.specials.values()))) if which else None
    toml = data.draw(st.none() | mutated_bytes(CHAIN_TOML))  # ./fontana.toml, read by every command
    undo = _swap(chain, which, target)
    try:
        if toml is not None:
            (chain.root / "fontana.toml").write_bytes(toml)
        before = chain.state()
        result = chain.invoke(args, env)
        after = chain.state()
    finally:
        undo()
        (chain.root / "fontana.toml").unlink(missing_ok=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args!r:.300} {env!r:.300} raised {result.exception!r:.300}") from (
            result.exception
        )
    if result.exit_code == 0:
        return
    assert after == before, f"{args!r:.300} {env!r:.300} failed but changed state"
    if result.exit_code == 2 and "Error:" in result.stderr:
        return  # click's usage error: the message names the option
    if "--json" in args and result.stdout.startswith("{"):
        assert set(json.loads(result.stdout)["error"]) == {"code", "message"}
    else:
        assert result.stderr.startswith("error["), (
            f"{args!r:.300} {env!r:.300} {result.output:.300}"
        )

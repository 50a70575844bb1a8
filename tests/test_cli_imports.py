"""Commands that touch no ledger import no ledger, database or driver code.

Each command runs in a fresh interpreter (a real ``fontana`` process), which
writes the modules it imported to a file as it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: The ledger and its storage, the chain daemons, and every driver: never without a ledger.
LEDGER_MODULES = (
    "fontana.ledger",
    "fontana.storage",
    "fontana.smt",
    "fontana.state",
    "fontana.genesis",
    "fontana.sequencer",
    "fontana.poster",
    "fontana.recovery",
    "fontana.devnet",
    "fontana.da.local",
    "fontana_postgres.storage",
    "fontana_celestia.da",
    "sqlalchemy",
    "psycopg",
    "pycelestia",
    "websockets",
)
#: The protocol models and keys: only commands that load settings (whose DA blob
#: limit is checked against the largest valid entry) or read a key may need them.
MODEL_AND_KEY_MODULES = ("fontana.models", "fontana.da", "fontana.wallet", "nacl")

RUN = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["fontana", *sys.argv[2:]]
from fontana.cli import main
main()
"""


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env["FONTANA_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("plugins",),
        ("plugins", "--json", "--all"),
        ("balance", "--help"),
        ("transfer", "--help"),
        ("recover", "--help"),
    ],
)
def test_commands_without_settings_import_no_ledger_models_or_keys(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    modules = imported_by(tmp_path, *args)
    assert loaded(modules, LEDGER_MODULES + MODEL_AND_KEY_MODULES) == []


@pytest.mark.parametrize(
    "args", [("config", "show"), ("config", "show", "--json"), ("init",), ("show", "--json")]
)
def test_commands_with_settings_or_keys_import_no_ledger(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    if args[0] == "show":
        imported_by(tmp_path, "init")  # a key to show
    modules = imported_by(tmp_path, *args)
    assert "fontana.config" in modules  # the check sees what a command imports
    assert loaded(modules, LEDGER_MODULES) == []

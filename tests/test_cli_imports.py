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

#: The ledger, its storage and models, the chain daemons, and every driver.
LEDGER_MODULES = (
    "fontana.ledger",
    "fontana.storage",
    "fontana.models",
    "fontana.smt",
    "fontana.state",
    "fontana.da",
    "fontana.genesis",
    "fontana.sequencer",
    "fontana.poster",
    "fontana.recovery",
    "fontana.devnet",
    "fontana_postgres.storage",
    "fontana_celestia.da",
    "sqlalchemy",
    "psycopg",
    "pycelestia",
    "websockets",
)
#: Key handling: only the commands that read or write a key need it.
KEY_MODULES = ("fontana.wallet", "nacl")

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
        ("config", "show"),
        ("config", "show", "--json"),
        ("balance", "--help"),
        ("transfer", "--help"),
        ("recover", "--help"),
    ],
)
def test_commands_without_a_ledger_or_key_import_neither(tmp_path: Path, args: tuple[str]) -> None:
    modules = imported_by(tmp_path, *args)
    assert loaded(modules, LEDGER_MODULES + KEY_MODULES) == []


def test_key_commands_import_no_ledger(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "init")
    assert "fontana.wallet" in modules  # the check sees what a command imports
    assert loaded(modules, LEDGER_MODULES) == []
    assert loaded(imported_by(tmp_path, "show", "--json"), LEDGER_MODULES) == []

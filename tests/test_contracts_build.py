"""The committed contract artifacts are exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fontana.testing.evm import find_contracts_dir
from fontana.testing.requirements import require_external

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def test_a_rebuild_gives_the_committed_bytes(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (CONTRACTS / "node_modules" / "solc").is_dir():
        require_external("node and contracts/node_modules (npm ci --prefix contracts)")
    subprocess.run(
        ["node", str(CONTRACTS / "build.js"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    committed = sorted(p.name for p in (CONTRACTS / "artifacts").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (CONTRACTS / "artifacts" / name).read_bytes(), name


def test_the_pins_are_exact() -> None:
    import json

    manifest = json.loads((CONTRACTS / "package.json").read_text())
    assert manifest["devDependencies"] == {"hardhat": "2.29.1", "solc": "0.8.37"}
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/solc"]["version"] == "0.8.37"
    assert lock["packages"]["node_modules/hardhat"]["version"] == "2.29.1"
    assert find_contracts_dir() == CONTRACTS

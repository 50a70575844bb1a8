"""The tree benches run end to end in a tiny size, so they do not rot (no figures checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fontana.testing.requirements import require_external

BENCH = Path(__file__).resolve().parent.parent / "bench"

try:
    import fontana_native._native  # noqa: F401
except ImportError:  # the extension is not built: these skip (fail in CI)
    HAVE_NATIVE = False
else:
    HAVE_NATIVE = True


@pytest.fixture(autouse=True)
def _needs_native() -> None:
    if not HAVE_NATIVE:
        require_external("the fontana-native extension (make .venv/.fontana-native)")


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bench_smt_runs_every_tree() -> None:
    out = _run(
        str(BENCH / "bench_smt.py"),
        "--sizes",
        "3000",
        "--blocks",
        "2",
        "--block",
        "200",
        "--no-pokt",
    )
    for tree in ("python", "rust", "python+sqlite", "rust+sqlite"):
        assert f" {tree} " in out


def test_bench_memory_runs_every_provider() -> None:
    from fontana.plugins import get_host

    out = _run(str(BENCH / "bench_memory.py"), "--utxos", "3000")
    assert "python-smt" in out
    if "native-smt" in get_host().backends("proofs").names():
        assert "native-smt" in out

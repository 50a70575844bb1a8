"""``fontana devnet`` on the Celestia dev node: blocks go to the node, recovery reads them back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fontana_celestia.testing import DevNode

#: A short chain that ends with the recovery check.
ARGS = ("--blocks", "3", "--block-time-ms", "200")


def devnet(directory: Path, da_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {"FONTANA_HOME": str(home), "FONTANA_DA_URL": da_url}
    return subprocess.run(
        [sys.executable, "-m", "fontana", "devnet", "--dir", str(directory), *ARGS],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_two_devnets_in_a_row_on_one_node(devnode: DevNode, tmp_path: Path) -> None:
    """The second chain's closing check skips the first chain's blobs in the namespace."""
    for run in ("first", "second"):
        done = devnet(tmp_path / run, devnode.url, tmp_path / "home")
        assert done.returncode == 0, done.stderr
        assert f"DA: {devnode.url} (from env FONTANA_DA_URL)" in done.stdout
        assert "posted block 3 to DA height" in done.stdout
        assert "every block and state root matches" in done.stdout

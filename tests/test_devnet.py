"""``fontana devnet`` runs on the user's storage and DA when they are set, and says which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fontana.config import Settings
from fontana.storage import open_storage

BLOCKS = "3"

#: A short chain that ends with the recovery check.
ARGS = ("--blocks", BLOCKS, "--block-time-ms", "100")


def devnet(directory: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``fontana devnet`` as a real process, with only the given FONTANA_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    return subprocess.run(
        [sys.executable, "-m", "fontana", "devnet", "--dir", str(directory), *ARGS],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_devnet_keeps_its_files_in_its_directory_by_default(tmp_path: Path) -> None:
    net = tmp_path / "net"
    done = devnet(net, {"FONTANA_HOME": str(tmp_path / "home")}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"storage: sqlite:///{net / 'fontana.db'} (from the devnet directory" in done.stdout
    assert f"DA: local:///{net / 'da'} (from the devnet directory" in done.stdout
    assert "every block and state root matches" in done.stdout
    assert (net / "fontana.db").is_file() and (net / "da").is_dir()


def test_devnet_takes_the_urls_of_the_config_file(tmp_path: Path) -> None:
    """Regression: the devnet silently used its own defaults whatever the config said."""
    (tmp_path / "fontana.toml").write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path}/mine.db"\n'
        f'[da]\nurl = "local:///{tmp_path}/my-da"\n'
    )
    net = tmp_path / "net"
    done = devnet(net, {"FONTANA_HOME": str(tmp_path / "home")}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"storage: sqlite:///{tmp_path}/mine.db (from file " in done.stdout
    assert f"DA: local:///{tmp_path}/my-da (from file " in done.stdout
    assert "every block and state root matches" in done.stdout
    assert (tmp_path / "mine.db").is_file() and (tmp_path / "my-da").is_dir()
    assert not (net / "fontana.db").exists() and not (net / "da").exists()


def test_devnet_runs_on_postgres_and_refuses_a_used_database(
    tmp_path: Path, pg_url: str, fontana_settings: Settings
) -> None:
    env = {"FONTANA_HOME": str(tmp_path / "home"), "FONTANA_STORAGE_URL": pg_url}
    done = devnet(tmp_path / "net", env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "(from env FONTANA_STORAGE_URL)" in done.stdout
    assert "every block and state root matches" in done.stdout
    store = open_storage(fontana_settings, pg_url)
    with store.read() as s:
        latest = s.latest_block()
    store.close()
    assert latest is not None and latest.height >= int(BLOCKS)

    again = devnet(tmp_path / "net2", env, tmp_path)
    assert again.returncode == 65
    assert again.stderr.startswith("error[already_initialized]: storage.url = ")
    assert "needs an empty database" in again.stderr
    assert "Traceback" not in again.stderr
    assert not (tmp_path / "net2" / "genesis.json").exists()  # refused before writing anything

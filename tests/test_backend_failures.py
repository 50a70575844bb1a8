"""A database or DA directory that cannot be opened is a typed error, never a traceback."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from ledger_helpers import ALICE, pub

from fontana.address import encode_address
from fontana.cli import cli
from fontana.da.local import LocalDA
from fontana.errors import ConfigError, DAFatalError

ADDRESS = encode_address(pub(ALICE))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def balance(home: Path, storage_url: str | None = None) -> tuple[int, str]:
    env = {"FONTANA_HOME": str(home)}
    if storage_url is not None:
        env["FONTANA_STORAGE_URL"] = storage_url
    result = CliRunner().invoke(cli, ["balance", ADDRESS], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_an_unreachable_postgresql_server_is_storage_unavailable(tmp_path: Path) -> None:
    url = f"postgresql://fontana:s3cret@127.0.0.1:{free_port()}/ledger"
    code, output = balance(tmp_path, url)
    assert code == 69
    assert "error[storage_unavailable]" in output
    assert "s3cret" not in output  # the URL is named, its password is not


def test_a_sqlite_path_below_a_file_is_config_invalid(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    code, output = balance(tmp_path, f"sqlite:///{tmp_path}/file/ledger.db")
    assert code == 78 and "error[config_invalid]" in output


def test_a_special_file_as_the_sqlite_database_is_storage_unavailable(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fontana.db")
    code, output = balance(tmp_path)
    assert code == 69 and "error[storage_unavailable]" in output


def test_a_local_da_directory_below_a_file_is_config_invalid(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match="local DA directory"):
        LocalDA(tmp_path / "file" / "da", b"fontanatst", 100_000)


def test_a_special_file_as_the_local_da_log_is_da_fatal(tmp_path: Path) -> None:
    (tmp_path / "da").mkdir()
    os.mkfifo(tmp_path / "da" / "blobs.sqlite")
    with pytest.raises(DAFatalError, match="local DA"):
        LocalDA(tmp_path / "da", b"fontanatst", 100_000)

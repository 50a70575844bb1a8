"""The built-in SQLite backend passes the storage conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fontana.config import Settings, load_settings
from fontana.errors import ConfigError
from fontana.storage import open_storage
from fontana.testing.storage import StorageConformance


class TestSQLiteConformance(StorageConformance):
    @pytest.fixture
    def storage_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/ledger.db"


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path, fontana_settings: Settings) -> None:
    store = open_storage(fontana_settings, f"sqlite:///{tmp_path}/l.db")
    store.create_schema()
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


@pytest.mark.parametrize("configured", ["full", "normal"])
def test_only_writes_that_need_not_be_durable_skip_the_fsync(
    tmp_path: Path, configured: str
) -> None:
    """``write(durable=False)`` runs at ``synchronous=NORMAL``; every other write at the
    configured level, on every pooled connection, whatever ran on it before."""
    settings = load_settings(
        environ={
            "FONTANA_STORAGE_SQLITE_SYNCHRONOUS": configured,
            "FONTANA_STORAGE_POOL_SIZE": "1",
        },
        cwd=tmp_path,
        plugin_sections={},
    )
    store = open_storage(settings, f"sqlite:///{tmp_path}/l.db")
    store.create_schema()
    full, normal = 2, 1  # PRAGMA synchronous's numbers
    level = full if configured == "full" else normal

    def synchronous(session: Any) -> int:
        return int(session.conn.exec_driver_sql("PRAGMA synchronous").scalar())

    for _ in range(2):
        with store.write(durable=False) as s:
            assert synchronous(s) == normal
        with store.write() as s:
            assert synchronous(s) == level
        with store.write(durable=True) as s:
            assert synchronous(s) == level
    store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///"])
def test_sqlite_refuses_urls_without_a_file(url: str, fontana_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="sqlite:///"):
        open_storage(fontana_settings, url)

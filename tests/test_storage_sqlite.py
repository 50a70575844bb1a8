"""The built-in SQLite backend passes the storage conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from fontana.config import Settings
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


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///"])
def test_sqlite_refuses_urls_without_a_file(url: str, fontana_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="sqlite:///"):
        open_storage(fontana_settings, url)

"""fontana-postgres passes the storage conformance suite on a real PostgreSQL server."""

from __future__ import annotations

from typing import Any

import pytest

from fontana.config import Settings
from fontana.storage import open_storage
from fontana.testing.storage import StorageConformance
from fontana_postgres.storage import psycopg_url


class TestPostgresConformance(StorageConformance):
    @pytest.fixture
    def storage_url(self, pg_url: str) -> str:
        return pg_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_psycopg_url(url: str, expected: str) -> None:
    assert psycopg_url(url) == expected


def test_only_writes_that_need_not_be_durable_skip_the_flush_wait(
    pg_url: str, fontana_settings: Settings
) -> None:
    """``write(durable=False)`` commits with ``synchronous_commit`` off, for its own
    transaction only: the connection's next write waits for the flush again."""
    store = open_storage(fontana_settings, pg_url)
    store.create_schema()

    def setting(session: Any) -> str:
        return str(session.conn.exec_driver_sql("SHOW synchronous_commit").scalar())

    for _ in range(2):
        with store.write(durable=False) as s:
            assert setting(s) == "off"
        with store.write() as s:
            assert setting(s) == "on"
        with store.read() as s:
            assert setting(s) == "on"
    store.close()

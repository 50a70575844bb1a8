"""fontana-postgres passes the storage conformance suite on a real PostgreSQL server."""

from __future__ import annotations

import pytest

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

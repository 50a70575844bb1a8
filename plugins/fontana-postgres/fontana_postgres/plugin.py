"""Entry point: registers the ``postgresql`` storage backend (psycopg is imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import RegisterBackend, StorageFactory
    from fontana.storage.base import Storage


def open_postgres(url: str, settings: Settings) -> Storage:
    from fontana_postgres.storage import PostgresStorage

    return PostgresStorage(url, settings)


@hookimpl
def fontana_register_storage_backends(register: RegisterBackend[StorageFactory]) -> None:
    register(
        "postgresql",
        open_postgres,
        schemes=("postgresql", "postgres"),
        description="PostgreSQL via psycopg 3; many processes share one database",
    )

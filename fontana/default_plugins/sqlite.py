"""Built-in plugin: the embedded SQLite ledger backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import RegisterBackend, StorageFactory
    from fontana.storage.base import Storage


def open_sqlite(url: str, settings: Settings) -> Storage:
    from fontana.storage.sqlite import SQLiteStorage

    return SQLiteStorage(url, settings)


@hookimpl
def fontana_register_storage_backends(register: RegisterBackend[StorageFactory]) -> None:
    register(
        "sqlite",
        open_sqlite,
        schemes=("sqlite",),
        description="embedded SQLite file (WAL); the default",
    )

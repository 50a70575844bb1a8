"""The embedded SQLite backend: the default, so a devnet needs no server.

WAL lets readers run beside the one writer; writers start with
``BEGIN IMMEDIATE`` so two processes never both read, then both try to
upgrade to a write lock and fail; ``busy_timeout`` makes a writer queue for
the lock instead of erroring at once. A write that need not be durable (a
hold) runs at ``synchronous=NORMAL``: in WAL mode its commit skips the fsync
and stays atomic, and the next ``FULL`` commit syncs it along.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from fontana.config import Settings
from fontana.errors import ConfigError
from fontana.storage.sql import SQLStorage

_WRITE = "fontana_write"
_DURABLE = "fontana_durable"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///path`` URL (``sqlite:////abs`` or ``sqlite:///rel``)."""
    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0] != "sqlite" or not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise ConfigError(
            f"storage.url = {url!r}: expected sqlite:///relative/path or sqlite:////absolute/path "
            "(an in-memory database cannot be shared between processes)"
        )
    return Path(rest[1:]).expanduser()


class SQLiteStorage(SQLStorage):
    def __init__(self, url: str, settings: Settings) -> None:
        path = sqlite_path(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"storage.url = {url!r}: {path.parent}: {exc.strerror}") from None
        engine = sa.create_engine(
            f"sqlite+pysqlite:///{path}",
            pool_size=settings.storage.pool_size,
            connect_args={"timeout": settings.storage.lock_timeout_ms / 1000},
        )
        synchronous = settings.storage.sqlite_synchronous.upper()
        busy_ms = settings.storage.lock_timeout_ms

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Straight to the driver: these statements are on every payment's path.
            options = conn.get_execution_options()
            driver = conn.connection.driver_connection
            if not options.get(_WRITE, False):
                driver.execute("BEGIN")
                return
            if synchronous == "FULL":
                # Set on every write, so no connection goes back to the pool relaxed.
                durable = options.get(_DURABLE, True)
                driver.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            driver.execute("BEGIN IMMEDIATE")

        super().__init__(url, engine)
        self.path = path

    def insert_ignore(self, table: sa.Table) -> Any:
        return sqlite_insert(table).on_conflict_do_nothing()

    def _begin_write(self, conn: Connection, durable: bool = True) -> None:
        conn.execution_options(**{_WRITE: True, _DURABLE: durable})

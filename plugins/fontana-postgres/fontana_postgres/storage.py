"""The ledger on PostgreSQL, through SQLAlchemy Core and psycopg 3.

Sessions run at READ COMMITTED: the conditional spend ``UPDATE`` in
:mod:`fontana.storage.sql` re-checks ``spent_seq IS NULL`` after waiting on a
row lock, which is exactly the guarantee needed without serializing
unrelated payments. A write that need not be durable (a hold) runs with
``synchronous_commit`` off: visible at once and atomic, and flushed with the
next durable commit (or within the WAL writer's delay) instead of waited for.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from fontana.config import Settings
from fontana.storage.sql import SQLStorage

_DURABLE = "fontana_durable"
#: Arbitrary constant naming the advisory lock that guards schema changes.
_SCHEMA_LOCK_ID = 0x466F6E74616E61  # "Fontana"


def psycopg_url(url: str) -> str:
    """Accept ``postgresql://``, ``postgres://`` or an explicit ``+psycopg`` driver."""
    scheme, sep, rest = url.partition("://")
    base, _, driver = scheme.partition("+")
    if base == "postgres":
        base = "postgresql"
    return f"{base}+{driver or 'psycopg'}{sep}{rest}"


class PostgresStorage(SQLStorage):
    def __init__(self, url: str, settings: Settings) -> None:
        lock_ms = settings.storage.lock_timeout_ms
        engine = sa.create_engine(
            psycopg_url(url),
            pool_size=settings.storage.pool_size,
            # Every session ends in an explicit commit or rollback, so the pool's
            # extra ROLLBACK on return is a wasted round trip on the payment path.
            pool_reset_on_return=None,
            # A connection the server dropped fails one call, is discarded, and the
            # next checkout reconnects: cheaper than a ping before every payment.
            pool_pre_ping=False,
            isolation_level="READ COMMITTED",
            connect_args={"options": f"-c lock_timeout={int(lock_ms)}"},
        )
        super().__init__(url, engine)

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if not conn.get_execution_options().get(_DURABLE, True):
                # Inside the transaction this opens: its commit does not wait for the WAL flush.
                conn.connection.driver_connection.execute("SET LOCAL synchronous_commit TO OFF")

    def _begin_write(self, conn: Connection, durable: bool = True) -> None:
        conn.execution_options(**{_DURABLE: durable})

    def insert_ignore(self, table: sa.Table) -> Any:
        return pg_insert(table).on_conflict_do_nothing()

    def _lock_schema(self, conn: Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK_ID})

    def lock_clause(self, exclusive: bool) -> str:
        return " FOR UPDATE" if exclusive else " FOR SHARE"

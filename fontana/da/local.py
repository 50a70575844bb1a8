"""The built-in DA layer: a durable, append-only blob log in a local directory.

It lets ``pip install fontana`` run a devnet offline. Every submit is
included at a new height; blobs are never changed or deleted. Commitments
are tagged hashes of namespace and data, so they are computable before
submitting, as on Celestia. Several processes may share one directory.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from fontana.errors import BlobTooLargeError, ConfigError, DAFatalError, DARetryableError
from fontana.hashing import TAG_DA_LOCAL, tagged_hash
from fontana.interfaces import DAReference
from fontana.sqlite_errors import sqlite_errors_as

TAG_LOCAL_COMMITMENT = TAG_DA_LOCAL

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    height INTEGER NOT NULL,
    namespace BLOB NOT NULL,
    idx INTEGER NOT NULL,
    commitment BLOB NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (height, namespace, idx)
);
CREATE INDEX IF NOT EXISTS ix_blobs_commitment ON blobs (namespace, commitment);
"""


def local_da_dir(url: str) -> Path:
    scheme, _, rest = url.partition("://")
    if scheme != "local" or not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"da.url = {url!r}: expected local:///relative/dir or local:////absolute/dir"
        )
    return Path(rest[1:]).expanduser()


#: SQLite failures as DA errors (retried when the file is busy).
_da_errors = sqlite_errors_as("local DA", DARetryableError, DAFatalError)


class LocalDA:
    """:class:`fontana.interfaces.DALayer` on a SQLite file; safe across threads and processes."""

    def __init__(self, directory: Path, namespace: bytes, max_blob_size: int) -> None:
        if len(namespace) != 10:
            raise DAFatalError(f"a namespace is 10 bytes, got {len(namespace)}")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"local DA directory {directory}: {exc.strerror}") from None
        self.path = directory / "blobs.sqlite"
        self.namespace = namespace
        self.max_blob_size = max_blob_size
        self._local = threading.local()
        self._create()

    @_da_errors
    def _create(self) -> None:
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def commitment(self, blob: bytes) -> bytes:
        return tagged_hash(TAG_LOCAL_COMMITMENT, self.namespace + blob)

    @_da_errors
    def submit(self, blob: bytes) -> DAReference:
        if len(blob) > self.max_blob_size:
            raise BlobTooLargeError(
                f"blob of {len(blob)} bytes exceeds the limit of {self.max_blob_size}"
            )
        commitment = self.commitment(blob)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            (head,) = conn.execute("SELECT COALESCE(MAX(height), 0) FROM blobs").fetchone()
            conn.execute(
                "INSERT INTO blobs VALUES (?, ?, 0, ?, ?)",
                (head + 1, self.namespace, commitment, blob),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return DAReference(head + 1, commitment, self.namespace)

    @_da_errors
    def get(self, ref: DAReference) -> bytes | None:
        if ref.namespace != self.namespace:
            return None  # a layer serves its own namespace only
        row = (
            self._conn()
            .execute(
                "SELECT data FROM blobs WHERE height = ? AND namespace = ? AND commitment = ?",
                (ref.height, self.namespace, ref.commitment),
            )
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    @_da_errors
    def list_at(self, height: int) -> list[tuple[DAReference, bytes]]:
        rows = self._conn().execute(
            "SELECT commitment, data FROM blobs WHERE height = ? AND namespace = ? ORDER BY idx",
            (height, self.namespace),
        )
        return [(DAReference(height, bytes(c), self.namespace), bytes(d)) for c, d in rows]

    @_da_errors
    def head_height(self) -> int:
        (head,) = self._conn().execute("SELECT COALESCE(MAX(height), 0) FROM blobs").fetchone()
        return int(head)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

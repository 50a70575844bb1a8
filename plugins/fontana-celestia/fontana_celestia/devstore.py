"""The dev node's chain on disk: one SQLite file, one transaction per block.

A block and its blobs commit together with ``synchronous=FULL``, so a blob a
submit reported as included survives a crash or restart of the dev node.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import attrs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    hash BLOB NOT NULL,
    data_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    height INTEGER NOT NULL REFERENCES blocks (height),
    share_index INTEGER NOT NULL,
    namespace BLOB NOT NULL,
    data BLOB NOT NULL,
    commitment BLOB NOT NULL,
    share_version INTEGER NOT NULL,
    signer BLOB,
    PRIMARY KEY (height, share_index)
);
"""
#: Data bytes in the first share of a blob and in each share after it (512-byte shares).
_FIRST_SHARE, _NEXT_SHARE = 478, 482


@attrs.frozen
class StoredBlob:
    namespace: bytes
    data: bytes
    commitment: bytes
    share_version: int
    signer: bytes | None
    share_index: int = 0


@attrs.frozen
class Block:
    height: int
    time_ns: int
    hash: bytes
    data_hash: bytes


def share_count(size: int) -> int:
    """Shares a blob of ``size`` bytes occupies in the data square."""
    return 1 + max(0, -(-(size - _FIRST_SHARE) // _NEXT_SHARE))


class DevStore:
    """Blocks and blobs in ``data_dir/chain.sqlite3``; used from one thread."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "chain.sqlite3", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def head(self) -> Block | None:
        row = self._db.execute("SELECT * FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        return Block(*row) if row else None

    def block(self, height: int) -> Block | None:
        row = self._db.execute("SELECT * FROM blocks WHERE height = ?", (height,)).fetchone()
        return Block(*row) if row else None

    def append(self, time_ns: int, blobs: list[StoredBlob]) -> Block:
        """Seal the next block with ``blobs``, laid out in namespace order as Celestia does."""
        head = self.head()
        height = head.height + 1 if head else 1
        previous = head.hash if head else bytes(32)
        laid_out, index = [], 1  # share 0 holds the blob transactions
        for blob in sorted(blobs, key=lambda b: b.namespace):
            laid_out.append(attrs.evolve(blob, share_index=index))
            index += share_count(len(blob.data))
        data_hash = hashlib.sha256(b"".join(b.namespace + b.commitment for b in laid_out)).digest()
        block_hash = hashlib.sha256(
            height.to_bytes(8, "big") + time_ns.to_bytes(8, "big") + previous + data_hash
        ).digest()
        block = Block(height, time_ns, block_hash, data_hash)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?)", attrs.astuple(block))
            self._db.executemany(
                "INSERT INTO blobs (namespace, data, commitment, share_version, signer,"
                " share_index, height) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*attrs.astuple(b), height) for b in laid_out],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return block

    def blobs_at(self, height: int, namespace: bytes) -> list[StoredBlob]:
        rows = self._db.execute(
            "SELECT namespace, data, commitment, share_version, signer, share_index FROM blobs"
            " WHERE height = ? AND namespace = ? ORDER BY share_index",
            (height, namespace),
        )
        return [StoredBlob(*row) for row in rows]

    def close(self) -> None:
        self._db.close()

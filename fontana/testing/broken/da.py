"""DA layers that break one rule of :class:`~fontana.interfaces.DALayer` each.

Every class is ``LocalDA`` with one method changed, constructed the same way:
``Broken(directory, namespace, max_blob_size)``. :data:`BROKEN_DA` lists them.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from fontana.da.local import TAG_LOCAL_COMMITMENT, LocalDA
from fontana.errors import BlobTooLargeError
from fontana.hashing import tagged_hash
from fontana.interfaces import DAReference

__all__ = ["BROKEN_DA"]

#: Long enough that concurrent writers reliably overlap in the racy windows below.
_RACE_S = 0.02


class _Appender(LocalDA):
    """``LocalDA`` whose append step is spelled out, so each fault changes one line of it."""

    def _next_height(self, head: int) -> int:
        return head + 1

    def _append(self, blob: bytes, commitment: bytes, *, locked: bool = True) -> DAReference:
        conn = self._conn()
        if not locked:  # two statements, no transaction: the race the lock exists for
            (head,) = conn.execute("SELECT COALESCE(MAX(height), 0) FROM blobs").fetchone()
            time.sleep(_RACE_S)  # another writer reads the same head meanwhile
            conn.execute(
                "INSERT OR REPLACE INTO blobs VALUES (?, ?, 0, ?, ?)",
                (head + 1, self.namespace, commitment, blob),
            )
            return DAReference(head + 1, commitment, self.namespace)
        conn.execute("BEGIN IMMEDIATE")
        try:
            (head,) = conn.execute("SELECT COALESCE(MAX(height), 0) FROM blobs").fetchone()
            height = self._next_height(head)
            conn.execute(
                "INSERT INTO blobs VALUES (?, ?, 0, ?, ?)",
                (height, self.namespace, commitment, blob),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return DAReference(height, commitment, self.namespace)

    def _check_size(self, blob: bytes) -> None:
        if len(blob) > self.max_blob_size:
            raise BlobTooLargeError(f"blob of {len(blob)} bytes")

    def submit(self, blob: bytes) -> DAReference:
        self._check_size(blob)
        return self._append(blob, self.commitment(blob))


class HeightsFromZero(_Appender):
    """The first blob lands at height 0, where ``fontana recover`` never looks."""

    def _next_height(self, head: int) -> int:
        (count,) = self._conn().execute("SELECT COUNT(*) FROM blobs").fetchone()
        return head + 1 if count else 0


class HeightsRestartPerInstance(_Appender):
    """Counts heights in memory: a new instance starts again at 1, below older blobs."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._height = 0
        self._count_lock = threading.Lock()

    def submit(self, blob: bytes) -> DAReference:
        self._check_size(blob)
        with self._count_lock:
            self._height += 1
            height = self._height
        conn = self._conn()
        (idx,) = conn.execute(
            "SELECT COUNT(*) FROM blobs WHERE height = ? AND namespace = ?",
            (height, self.namespace),
        ).fetchone()
        commitment = self.commitment(blob)
        conn.execute(
            "INSERT INTO blobs VALUES (?, ?, ?, ?, ?)",
            (height, self.namespace, idx, commitment, blob),
        )
        return DAReference(height, commitment, self.namespace)


class HeadGoesBack(LocalDA):
    """Reports the last height *this instance* submitted: a new instance's head is 0."""

    _mine = 0

    def submit(self, blob: bytes) -> DAReference:
        ref = super().submit(blob)
        self._mine = max(self._mine, ref.height)
        return ref

    def head_height(self) -> int:
        return self._mine


class ListIgnoresNamespace(LocalDA):
    """``list_at`` shows every namespace's blobs at the height."""

    def list_at(self, height: int) -> list[tuple[DAReference, bytes]]:
        rows = self._conn().execute(
            "SELECT commitment, data FROM blobs WHERE height = ? ORDER BY idx", (height,)
        )
        return [(DAReference(height, bytes(c), self.namespace), bytes(d)) for c, d in rows]


class GetIgnoresNamespace(LocalDA):
    """``get`` serves a reference of another namespace (LocalDA before the fix)."""

    def get(self, ref: DAReference) -> bytes | None:
        row = (
            self._conn()
            .execute(
                "SELECT data FROM blobs WHERE height = ? AND namespace = ? AND commitment = ?",
                (ref.height, ref.namespace, ref.commitment),
            )
            .fetchone()
        )
        return None if row is None else bytes(row[0])


class GetIgnoresCommitment(LocalDA):
    """``get`` returns the first blob at the height, whatever the commitment."""

    def get(self, ref: DAReference) -> bytes | None:
        blobs = self.list_at(ref.height)
        return blobs[0][1] if blobs else None


class GetIgnoresHeight(LocalDA):
    """``get`` finds a commitment at any height."""

    def get(self, ref: DAReference) -> bytes | None:
        row = (
            self._conn()
            .execute(
                "SELECT data FROM blobs WHERE namespace = ? AND commitment = ?",
                (self.namespace, ref.commitment),
            )
            .fetchone()
        )
        return None if row is None else bytes(row[0])


class CommitmentIgnoresNamespace(LocalDA):
    """Commitments hash the data only: two chains' identical blobs look the same."""

    def commitment(self, blob: bytes) -> bytes:
        return tagged_hash(TAG_LOCAL_COMMITMENT, blob)


class CommitmentIgnoresTail(LocalDA):
    """Commitments bind only the first 64 bytes of the data."""

    def commitment(self, blob: bytes) -> bytes:
        return tagged_hash(TAG_LOCAL_COMMITMENT, self.namespace + blob[:64])


class CommitmentNotComputableBeforeSubmit(_Appender):
    """``submit`` mixes the height into the commitment, so ``commitment()`` cannot predict it."""

    def submit(self, blob: bytes) -> DAReference:
        self._check_size(blob)
        head = self.head_height()
        return self._append(blob, tagged_hash(TAG_LOCAL_COMMITMENT, bytes([head % 256]) + blob))


class RefusesExactlyTheLimit(_Appender):
    """Off by one: a blob of exactly ``max_blob_size`` is refused."""

    def _check_size(self, blob: bytes) -> None:
        if len(blob) >= self.max_blob_size:
            raise BlobTooLargeError(f"blob of {len(blob)} bytes")


class AcceptsOneByteOver(_Appender):
    """Off by one the other way: ``max_blob_size + 1`` bytes are accepted."""

    def _check_size(self, blob: bytes) -> None:
        if len(blob) > self.max_blob_size + 1:
            raise BlobTooLargeError(f"blob of {len(blob)} bytes")


class PostsOversizeBlobs(_Appender):
    """Raises ``BlobTooLargeError`` only after posting the blob."""

    def submit(self, blob: bytes) -> DAReference:
        ref = self._append(blob, self.commitment(blob))
        self._check_size(blob)
        return ref


class UnlockedSubmit(_Appender):
    """Reads the head and writes without a lock: concurrent submits overwrite each other."""

    def submit(self, blob: bytes) -> DAReference:
        self._check_size(blob)
        return self._append(blob, self.commitment(blob), locked=False)


class ThreadLockOnly(_Appender):
    """A lock shared by threads but not by processes: safe in one process only."""

    _lock: ClassVar[threading.Lock] = threading.Lock()

    def submit(self, blob: bytes) -> DAReference:
        self._check_size(blob)
        with self._lock:
            return self._append(blob, self.commitment(blob), locked=False)


class TornWrites(_Appender):
    """Writes the first half, commits, then the rest: readers see half-written blobs."""

    def submit(self, blob: bytes) -> DAReference:
        self._check_size(blob)
        commitment = self.commitment(blob)
        ref = self._append(blob[: len(blob) // 2], commitment)
        time.sleep(_RACE_S)
        self._conn().execute(
            "UPDATE blobs SET data = ? WHERE height = ? AND namespace = ? AND commitment = ?",
            (blob, ref.height, self.namespace, commitment),
        )
        return ref


class NotDurable(LocalDA):
    """Keeps blobs in the instance's memory: a new instance has lost them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._blobs: dict[int, tuple[bytes, bytes]] = {}
        self._memory_lock = threading.Lock()

    def submit(self, blob: bytes) -> DAReference:
        if len(blob) > self.max_blob_size:
            raise BlobTooLargeError(f"blob of {len(blob)} bytes")
        with self._memory_lock:
            height = len(self._blobs) + 1
            self._blobs[height] = (self.commitment(blob), blob)
        return DAReference(height, self.commitment(blob), self.namespace)

    def get(self, ref: DAReference) -> bytes | None:
        found = self._blobs.get(ref.height)
        ok = found and ref.namespace == self.namespace and found[0] == ref.commitment
        return found[1] if ok else None

    def list_at(self, height: int) -> list[tuple[DAReference, bytes]]:
        found = self._blobs.get(height)
        return [] if found is None else [(DAReference(height, found[0], self.namespace), found[1])]

    def head_height(self) -> int:
        return len(self._blobs)


#: Every broken layer, by the name its tests are reported under.
BROKEN_DA: dict[str, type[LocalDA]] = {
    cls.__name__: cls
    for cls in (
        HeightsFromZero,
        HeightsRestartPerInstance,
        HeadGoesBack,
        ListIgnoresNamespace,
        GetIgnoresNamespace,
        GetIgnoresCommitment,
        GetIgnoresHeight,
        CommitmentIgnoresNamespace,
        CommitmentIgnoresTail,
        CommitmentNotComputableBeforeSubmit,
        RefusesExactlyTheLimit,
        AcceptsOneByteOver,
        PostsOversizeBlobs,
        UnlockedSubmit,
        ThreadLockOnly,
        TornWrites,
        NotDurable,
    )
}

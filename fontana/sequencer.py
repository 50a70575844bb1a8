"""The sequencer: seals a block every block time, with or without payments.

Empty blocks keep the chain visibly alive and give withdrawals fresh roots
to prove against. Only one sequencer may seal per database: it holds a lease
row that it renews inside every sealing transaction, so a second sequencer
refuses to start (or waits with ``wait=True``), and one that lost its lease
stops before sealing anything.

The lease row is read with ``lock_meta(exclusive=True)`` and written in the
same transaction, so two sequencers never both see it free: PostgreSQL
holds the row lock until commit, SQLite serializes writers. The one case
without a row to lock, the very first lease, is settled by the row's key:
the second ``insert_meta`` fails and that sequencer sees another one running.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from nacl.signing import SigningKey

from fontana.da.limits import blob_overhead, min_blob_size
from fontana.errors import ConfigError, DuplicateError, FontanaError
from fontana.ledger import Ledger
from fontana.models import Block
from fontana.storage.base import Storage, StorageSession

log = logging.getLogger(__name__)

LEASE_KEY = "sequencer_lease"


class SequencerBusyError(FontanaError):
    """Another live sequencer holds this database."""

    code = "sequencer_running"
    exit_code = 75  # EX_TEMPFAIL


def live_lease(storage: Storage, now_ms: int) -> dict[str, object] | None:
    """The lease of a sequencer that is running on ``storage`` now, if any."""
    if storage.schema_version() is None:
        return None
    with storage.read() as s:
        raw = s.get_meta(LEASE_KEY)
    lease = json.loads(raw) if raw else None
    if lease and lease["owner"] and int(lease["expires_ms"]) > now_ms:
        return lease  # type: ignore[no-any-return]
    return None


class Sequencer:
    def __init__(
        self,
        ledger: Ledger,
        signer: SigningKey,
        *,
        block_time_ms: int,
        max_blob_size: int,
        on_block: Callable[[Block], None] | None = None,
    ) -> None:
        if bytes(signer.verify_key) != ledger.genesis.sequencer:
            raise ConfigError(
                "the sequencer key is not the genesis sequencer; blocks it signed would be "
                "rejected by every verifier (check sequencer.key_name)"
            )
        minimum = min_blob_size()
        if max_blob_size < minimum:
            raise ConfigError(
                f"blobs of at most {max_blob_size} bytes (the smaller of da.max_blob_size and "
                f"the DA layer's own limit) cannot carry the largest valid entry; the sequencer "
                f"needs at least {minimum}"
            )
        self.ledger = ledger
        self.signer = signer
        self.block_time_ms = block_time_ms
        self.max_entry_bytes = max_blob_size - blob_overhead()
        self.on_block = on_block
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ms = max(3 * block_time_ms, 10_000)

    # -- the lease ---------------------------------------------------------------

    def _holder(self, s: StorageSession, now: int) -> dict[str, object] | None:
        raw = s.lock_meta(LEASE_KEY, exclusive=True)
        lease = json.loads(raw) if raw else None
        if lease and lease["owner"] != self.owner and int(lease["expires_ms"]) > now:
            return lease  # type: ignore[no-any-return]
        return None

    def _write_lease(self, s: StorageSession, now: int) -> None:
        value = json.dumps({"owner": self.owner, "expires_ms": now + self.lease_ms})
        if s.get_meta(LEASE_KEY) is None:
            s.insert_meta(LEASE_KEY, value)
        else:
            s.set_meta(LEASE_KEY, value)

    def try_acquire(self) -> dict[str, object] | None:
        """Take the lease; return the other holder's lease instead if it is live."""
        now = self.ledger.clock()
        try:
            with self.ledger.storage.write() as s:
                holder = self._holder(s, now)
                if holder is None:
                    self._write_lease(s, now)
                return holder
        except DuplicateError:  # another sequencer inserted the row at the same moment
            return {"owner": "another sequencer", "expires_ms": now + self.lease_ms}

    def acquire(self, *, wait: bool = False, stop: threading.Event | None = None) -> None:
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            left = (int(holder["expires_ms"]) - self.ledger.clock()) / 1000  # type: ignore[call-overload]
            message = (
                f"another sequencer ({holder['owner']}) is running on this database; "
                f"its lease expires in {left:.1f}s unless renewed"
            )
            if not wait:
                raise SequencerBusyError(message)
            log.warning("%s; waiting", message)
            if stop is not None and stop.wait(min(max(left, 0.1), 5.0)):
                raise SequencerBusyError("stopped while waiting for the sequencer lease")
            if stop is None:
                time.sleep(min(max(left, 0.1), 5.0))

    def _guard(self, s: StorageSession) -> None:
        now = self.ledger.clock()
        holder = self._holder(s, now)
        if holder is not None:
            raise SequencerBusyError(f"lost the sequencer lease to {holder['owner']}")
        self._write_lease(s, now)

    def release(self) -> None:
        with self.ledger.storage.write() as s:
            raw = s.lock_meta(LEASE_KEY, exclusive=True)
            if raw and json.loads(raw)["owner"] == self.owner:
                s.set_meta(LEASE_KEY, json.dumps({"owner": "", "expires_ms": 0}))

    # -- sealing -----------------------------------------------------------------

    def seal(self) -> Block:
        block = self.ledger.seal_block(
            self.signer, max_entry_bytes=self.max_entry_bytes, guard=self._guard
        )
        h = block.header.header
        log.info(
            "sealed block %d: %d entries, state root %s", h.height, h.tx_count, h.state_root.hex()
        )
        if self.on_block is not None:
            self.on_block(block)
        return block

    def run(self, stop: threading.Event, max_blocks: int | None = None) -> int:
        """Seal on a fixed cadence until ``stop`` is set; return the number of blocks.

        Deadlines follow an ideal timeline (start + n * block time), so a slow
        seal shortens the next wait instead of drifting the whole chain; after
        a stall longer than a block the timeline restarts from now.
        """
        interval = self.block_time_ms / 1000
        deadline = time.monotonic() + interval
        sealed = 0
        while max_blocks is None or sealed < max_blocks:
            if stop.wait(max(deadline - time.monotonic(), 0)):
                break
            self.seal()
            sealed += 1
            deadline += interval
            if deadline < time.monotonic():
                deadline = time.monotonic() + interval
        return sealed

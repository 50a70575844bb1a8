"""The blob poster: puts every sealed block on the DA layer, in height order.

It retries with exponential backoff capped at the block time, raises a
critical alert after ``alert_after`` consecutive failures and keeps trying;
it never rolls back local state. Before each submit it records an in-flight
attempt with the DA head height and the blob's commitment, and before any
retry or after a restart it looks for that commitment on DA from that height
on: a blob the layer accepted just before a crash (or a timeout) is found
and recorded instead of being posted twice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import attrs

from fontana.clock import now_ms
from fontana.da.blob import assemble_blob
from fontana.errors import DAError
from fontana.interfaces import DALayer, DAReference
from fontana.ledger.records import decode_entry_record
from fontana.models import Block, SignedHeader
from fontana.storage.base import BlockRecord, DASubmissionRecord, Storage

log = logging.getLogger(__name__)

STATUS_KEY = "poster_status"
IN_FLIGHT = "in flight"


@attrs.define
class PosterStatus:
    """What the poster reports (and stores under ``poster_status`` for metrics)."""

    consecutive_failures: int = 0
    alerting: bool = False
    last_error: str | None = None
    last_posted_height: int | None = None

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), sort_keys=True)


def load_block(storage: Storage, height: int) -> Block:
    """The full block at ``height`` from storage, decoded."""
    with storage.read() as s:
        record = s.get_block(height)
        if record is None:
            raise KeyError(f"no block at height {height}")
        entries = tuple(decode_entry_record(e) for e in s.entries_in_block(height))
    return Block(SignedHeader.from_bytes(record.header), entries)


def load_blob(storage: Storage, height: int) -> bytes:
    """The DA blob of the block at ``height``, assembled from its stored bytes."""
    with storage.read() as s:
        record = s.get_block(height)
        if record is None:
            raise KeyError(f"no block at height {height}")
        entries = [(e.entry_type, e.body) for e in s.entries_in_block(height)]
    chain_id = SignedHeader.from_bytes(record.header).header.chain_id
    return assemble_blob(chain_id, record.header, entries)


class Poster:
    def __init__(
        self,
        storage: Storage,
        da: DALayer,
        *,
        block_time_ms: int,
        alert_after: int = 5,
        initial_backoff_ms: int = 100,
        poll_ms: int = 500,
        on_posted: Callable[[BlockRecord, DAReference], None] | None = None,
    ) -> None:
        self.storage = storage
        self.da = da
        self.max_backoff_ms = block_time_ms
        self.alert_after = alert_after
        self.initial_backoff_ms = initial_backoff_ms
        self.poll_ms = poll_ms
        self.on_posted = on_posted
        self.status = PosterStatus()

    # -- bookkeeping --------------------------------------------------------------

    def _save_status(self) -> None:
        with self.storage.write() as s:
            s.set_meta(STATUS_KEY, self.status.to_json())

    def _record(self, submission: DASubmissionRecord) -> None:
        with self.storage.write() as s:
            s.record_da_submission(submission)

    def _commit(self, height: int, ref: DAReference, how: str) -> None:
        with self.storage.write() as s:
            s.mark_committed(height, ref.height, ref.commitment)
            s.record_da_submission(
                DASubmissionRecord(height, now_ms(), True, ref.height, ref.commitment, how)
            )
        if self.status.alerting:
            log.warning("DA posting recovered at block %d", height)
        self.status = PosterStatus(last_posted_height=height)
        self._save_status()
        log.info("block %d on DA at height %d (%s)", height, ref.height, how)

    def _failed(self, height: int, exc: DAError) -> None:
        self.status.consecutive_failures += 1
        self.status.last_error = f"{exc.code}: {exc.message}"
        self._record(DASubmissionRecord(height, now_ms(), False, error=self.status.last_error))
        failures = self.status.consecutive_failures
        if failures >= self.alert_after or not exc.retryable:
            self.status.alerting = True
            log.critical(
                "ALERT: DA posting of block %d failed %d times in a row (%s); still retrying",
                height,
                failures,
                self.status.last_error,
            )
        else:
            log.warning("DA posting of block %d failed (%s); retrying", height, exc.message)
        self._save_status()

    # -- posting ----------------------------------------------------------------

    def _find_on_da(self, height: int, blob: bytes, commitment: bytes) -> DAReference | None:
        """The blob of an earlier in-flight attempt for this block, if the layer has it."""
        with self.storage.read() as s:
            attempts = [
                a
                for a in s.da_submissions(height)
                if a.error == IN_FLIGHT and a.commitment == commitment and a.da_height is not None
            ]
        if not attempts:
            return None
        start = min(a.da_height for a in attempts if a.da_height is not None)
        for da_height in range(max(start, 1), self.da.head_height() + 1):
            for ref, data in self.da.list_at(da_height):
                # The bytes, not only the commitment the layer reports: only our
                # own blob, wherever it came from, makes this block available.
                if ref.commitment == commitment and data == blob:
                    return ref
        return None

    def post_block(self, record: BlockRecord, stop: threading.Event) -> bool:
        """Post one block, retrying until it is on DA; ``False`` if stopped first."""
        blob = load_blob(self.storage, record.height)
        commitment = self.da.commitment(blob)
        backoff = self.initial_backoff_ms
        while not stop.is_set():
            try:
                found = self._find_on_da(record.height, blob, commitment)
                if found is not None:
                    self._commit(record.height, found, "found on DA after an interrupted attempt")
                    return True
                head = self.da.head_height()
                self._record(
                    DASubmissionRecord(record.height, now_ms(), False, head, commitment, IN_FLIGHT)
                )
                ref = self.da.submit(blob)
            except DAError as exc:
                self._failed(record.height, exc)
                stop.wait(backoff / 1000)
                backoff = min(backoff * 2, self.max_backoff_ms)
                continue
            self._commit(record.height, ref, "posted")
            if self.on_posted is not None:
                self.on_posted(record, ref)
            return True
        return False

    def post_pending(self, stop: threading.Event, limit: int = 100) -> int:
        """Post every uncommitted block, lowest height first; return how many."""
        posted = 0
        while not stop.is_set():
            with self.storage.read() as s:
                pending = s.uncommitted_blocks(limit)
            if not pending:
                break
            for record in pending:
                if not self.post_block(record, stop):
                    return posted
                posted += 1
        return posted

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.post_pending(stop) == 0:
                stop.wait(self.poll_ms / 1000)

"""Spending limits of a paying wallet: per call, per session and per day, in integer utia.

What counts is everything a payment takes from the wallet: the price plus the
fee. A payment is counted when it is made (:meth:`Spending.reserve`) and
given back (:meth:`Spending.refund`) only when the provider says nothing was
charged; a payment whose outcome is unknown stays counted.

The per-day total is shared by every process of one wallet: it lives in
``<home>/spend/<address>.json`` (days are UTC dates), read and rewritten under
an exclusive ``flock`` of ``<address>.lock`` beside it, the new file written
to a temporary name, fsynced and renamed into place. A file that cannot be
read or is not in the format below stops payments (``budget_state``): a
spending limit fails closed. Format: ``{"version": 1, "day": "YYYY-MM-DD",
"spent": "<utia>"}``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs

from fontana import strict_json
from fontana.address import encode_address
from fontana.amounts import MAX_AMOUNT
from fontana.clock import now_ms
from fontana.errors import EncodingError
from fontana.files import read_input_file
from fontana.sdk.errors import BudgetExceededError, BudgetStateError

SPEND_DIR: Final = "spend"
FILE_VERSION: Final = 1
_MAX_FILE: Final = 4096
_DAY_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_UTIA_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


def _limit(instance: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise ValueError(f"{attribute.name} must be None or an integer of utia in 1..{MAX_AMOUNT}")


@attrs.frozen
class Budget:
    """The most a client may pay: per call, per client session, per UTC day (None: no limit)."""

    per_call: int | None = attrs.field(default=None, validator=_limit)
    per_session: int | None = attrs.field(default=None, validator=_limit)
    per_day: int | None = attrs.field(default=None, validator=_limit)


@attrs.frozen
class Reservation:
    """One payment's share of the budget, until it is refunded."""

    amount: int
    day: str


def utc_day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


class Spending:
    """The running totals of one :class:`Budget` for one wallet; thread-safe."""

    def __init__(
        self,
        budget: Budget,
        owner: bytes,
        home: Path | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        if budget.per_day is not None and home is None:
            raise BudgetStateError(
                "a per-day limit needs the wallet's home to keep the day's spend"
            )
        self.budget = budget
        self.clock = clock
        self.session_spent = 0
        self._lock = threading.Lock()
        self._file = (
            None if home is None else Path(home) / SPEND_DIR / f"{encode_address(owner)}.json"
        )

    def reserve(self, amount: int) -> Reservation:
        """Count ``amount`` against every limit, or raise ``budget_exceeded`` and count nothing."""
        b = self.budget
        if b.per_call is not None and amount > b.per_call:
            raise BudgetExceededError(
                f"the call costs {amount} utia, over the {b.per_call} per call"
            )
        day = utc_day(self.clock())
        with self._lock:
            if b.per_session is not None and self.session_spent + amount > b.per_session:
                raise BudgetExceededError(
                    f"paying {amount} utia would pass the session limit of {b.per_session} "
                    f"({self.session_spent} spent)"
                )
            if b.per_day is not None:
                with self._day_file() as (state, write):
                    spent = state[1] if state[0] == day else 0
                    if spent + amount > b.per_day:
                        raise BudgetExceededError(
                            f"paying {amount} utia would pass the daily limit of {b.per_day} "
                            f"({spent} spent on {day} UTC)"
                        )
                    write(day, spent + amount)
            self.session_spent += amount
        return Reservation(amount, day)

    def refund(self, reservation: Reservation) -> None:
        """Give a reservation back: the provider charged nothing for it."""
        with self._lock:
            self.session_spent -= reservation.amount
            if self.budget.per_day is not None:
                with self._day_file() as (state, write):
                    if state[0] == reservation.day:
                        write(state[0], max(0, state[1] - reservation.amount))

    def spent_today(self) -> int:
        """What this wallet spent today, in every process (0 without a per-day limit)."""
        if self.budget.per_day is None:
            return 0
        with self._lock, self._day_file() as (state, _):
            return state[1] if state[0] == utc_day(self.clock()) else 0

    @contextmanager
    def _day_file(
        self,
    ) -> Iterator[tuple[tuple[str, int], Callable[[str, int], None]]]:
        """The file's ``(day, spent)`` and a writer, under the wallet's exclusive lock."""
        path = self._file
        assert path is not None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock_fd = os.open(
                path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise BudgetStateError(f"cannot open {path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield _read_state(path), lambda day, spent: _write_state(path, day, spent)
        finally:
            os.close(lock_fd)  # releases the flock


def _read_state(path: Path) -> tuple[str, int]:
    def fail(reason: str) -> BudgetStateError:
        return BudgetStateError(f"{path}: {reason}")

    try:
        raw = read_input_file(path, _MAX_FILE, fail)
    except FileNotFoundError:
        return "", 0
    try:
        data = strict_json.loads(raw, "not JSON")
    except EncodingError as exc:
        raise fail(exc.message) from None
    if (
        not isinstance(data, dict)
        or set(data) != {"version", "day", "spent"}
        or type(data["version"]) is not int  # true == 1 and 1.0 == 1 in Python
        or data["version"] != FILE_VERSION
        or not isinstance(data["day"], str)
        or not _DAY_RE.fullmatch(data["day"])
        or not isinstance(data["spent"], str)
        or not _UTIA_RE.fullmatch(data["spent"])
    ):
        raise fail('expected {"version": 1, "day": "YYYY-MM-DD", "spent": "<utia>"}')
    return data["day"], int(data["spent"])


def _write_state(path: Path, day: str, spent: int) -> None:
    data = json.dumps({"version": FILE_VERSION, "day": day, "spent": str(spent)}).encode()
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise BudgetStateError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)

"""The consumer's budget: limits per call, per session and per UTC day, shared across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from fontana.sdk.budget import Budget, Spending, utc_day
from fontana.sdk.errors import BudgetExceededError, BudgetStateError

OWNER = b"\x01" * 32
DAY_MS = 86_400_000
T0 = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def test_limits_must_be_positive_integers() -> None:
    for bad in (0, -1, True, 1.5, "10", 2**64):
        with pytest.raises(ValueError):
            Budget(per_call=bad)  # type: ignore[arg-type]
    assert Budget().per_call is None


def test_per_call_and_per_session(tmp_path: Path) -> None:
    spending = Spending(Budget(per_call=100, per_session=250), OWNER)
    with pytest.raises(BudgetExceededError, match="per call"):
        spending.reserve(101)
    first = spending.reserve(100)
    spending.reserve(100)
    with pytest.raises(BudgetExceededError, match="session limit of 250"):
        spending.reserve(51)
    assert spending.session_spent == 200
    spending.refund(first)
    spending.reserve(100)
    assert spending.session_spent == 200


def test_a_refused_reservation_counts_nothing(tmp_path: Path) -> None:
    spending = Spending(Budget(per_session=10, per_day=5), OWNER, tmp_path)
    with pytest.raises(BudgetExceededError, match="daily limit"):
        spending.reserve(6)
    assert spending.session_spent == 0
    assert spending.spent_today() == 0


def test_per_day_needs_a_home() -> None:
    with pytest.raises(BudgetStateError):
        Spending(Budget(per_day=5), OWNER)


def test_per_day_is_shared_by_instances_and_resets_at_utc_midnight(tmp_path: Path) -> None:
    clock = Clock()
    a = Spending(Budget(per_day=300), OWNER, tmp_path, clock)
    b = Spending(Budget(per_day=300), OWNER, tmp_path, clock)
    a.reserve(200)
    with pytest.raises(BudgetExceededError, match="200 spent"):
        b.reserve(101)
    held = b.reserve(100)
    assert a.spent_today() == 300
    clock.now += DAY_MS
    assert a.spent_today() == 0
    a.reserve(300)
    b.refund(held)  # a refund of yesterday's payment leaves today alone
    assert b.spent_today() == 300
    path = tmp_path / "spend"
    [state] = [p for p in path.iterdir() if p.suffix == ".json"]
    assert json.loads(state.read_text()) == {
        "version": 1,
        "day": utc_day(clock.now),
        "spent": "300",
    }
    assert state.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"[]",
        b'{"version": 1, "day": "2024-01-01", "spent": "-1"}',
        b"\xff",
        b"x" * 5000,
        b'{"version": true, "day": "2024-01-01", "spent": "0"}',
        b'{"version": 1.0, "day": "2024-01-01", "spent": "0"}',
        b'{"version": 1, "day": "2024-01-01", "spent": "9", "spent": "0"}',
    ],
)
def test_a_damaged_day_file_stops_payments(tmp_path: Path, content: bytes) -> None:
    spending = Spending(Budget(per_day=300), OWNER, tmp_path)
    spending.reserve(1)
    [state] = [p for p in (tmp_path / "spend").iterdir() if p.suffix == ".json"]
    state.write_bytes(content)
    with pytest.raises(BudgetStateError):
        spending.reserve(1)
    assert state.read_bytes() == content


def test_a_fifo_day_file_is_refused_without_hanging(tmp_path: Path) -> None:
    spending = Spending(Budget(per_day=300), OWNER, tmp_path)
    spending.reserve(1)
    [state] = [p for p in (tmp_path / "spend").iterdir() if p.suffix == ".json"]
    state.unlink()
    os.mkfifo(state)
    with pytest.raises(BudgetStateError, match="FIFO"):
        spending.reserve(1)


def _spend(home: str, rounds: int, results: multiprocessing.Queue[int]) -> None:
    spending = Spending(Budget(per_day=1_000), OWNER, Path(home))
    paid = 0
    for _ in range(rounds):
        try:
            spending.reserve(7)
            paid += 7
        except BudgetExceededError:
            pass
    results.put(paid)


def test_processes_of_one_wallet_never_pass_the_daily_limit_together(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(str(tmp_path), 60, results)) for _ in range(4)]
    for p in procs:
        p.start()
    paid = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert sum(paid) == 1_000 // 7 * 7  # 240 tries of 7 against 1000: exactly 142 fit
    assert Spending(Budget(per_day=1_000), OWNER, tmp_path).spent_today() == sum(paid)

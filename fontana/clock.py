"""Wall-clock time in unix milliseconds: the one clock every module reads.

Amounts of time on the wire are u64 milliseconds (see docs/protocol.md), so
the whole code base reads time through this function, and tests replace it
by passing their own ``clock`` callables.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000

"""The L1 bridge: vault checkpoints and calls, and the handlers of its events (docs/bridge.md).

Every deposit and every release confirmation reaches the ledger through
:func:`handle_deposit_received` and :func:`handle_withdrawal_confirmed`,
whoever saw it: ``fontana watcher``, ``fontana trigger-deposit``, the
withdrawal processor or the Rust bridge.

Submodules that talk to an EVM chain import web3 or eth-account (the ``evm`` extra);
importing this package needs neither.
"""

from __future__ import annotations

import sys
from typing import Final

from fontana.bridge.handlers import (
    DepositHandled,
    WithdrawalHandled,
    handle_deposit_received,
    handle_withdrawal_confirmed,
)

__all__ = [
    "DepositHandled",
    "WithdrawalHandled",
    "handle_deposit_received",
    "handle_withdrawal_confirmed",
    "restore_recursion_limit",
]

#: The recursion limit Fontana's parsers of hostile JSON rely on: ``json`` raises
#: RecursionError for deep nesting long before the C stack runs out (Python's default).
SAFE_RECURSION_LIMIT: Final = 1000


def restore_recursion_limit() -> None:
    """Undo py_ecc's import-time ``sys.setrecursionlimit(100000)``.

    eth-account and web3 import py_ecc, which raises the limit for the whole process;
    with it, a deeply nested JSON document (a genesis file, a request body) overflows
    the C stack and kills the interpreter instead of raising RecursionError. Call this
    after importing them; Fontana uses nothing of py_ecc that needs deep recursion.
    """
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)

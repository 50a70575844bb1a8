"""The L1 bridge: the one entry point for vault events, and the tools around the vault.

Every deposit and every release confirmation reaches the ledger through
:func:`handle_deposit_received` and :func:`handle_withdrawal_confirmed`,
whoever saw it: ``fontana watcher``, ``fontana trigger-deposit``, the
withdrawal processor or the Rust bridge (docs/bridge.md).
"""

from __future__ import annotations

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
]

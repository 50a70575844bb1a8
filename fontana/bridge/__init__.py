"""The L1 bridge: vault checkpoints and calls, and the handlers of its events (docs/bridge.md).

Every deposit and every release confirmation reaches the ledger through
:func:`handle_deposit_received` and :func:`handle_withdrawal_confirmed`,
whoever saw it: ``fontana watcher``, ``fontana trigger-deposit``, the
withdrawal processor or the Rust bridge.

Submodules that talk to an EVM chain import web3 or eth-account (the ``evm`` extra);
importing this package needs neither.
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

"""The EVM tests' fixtures: a real hardhat node per session (fontana.testing.evm), a ledger."""

from evm_watcher_helpers import ledger, node, w3  # noqa: F401  (fixtures)

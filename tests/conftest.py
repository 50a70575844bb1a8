"""Expose the ledger fixtures of ``ledger_helpers`` to every test module."""

from ledger_helpers import clock, ledger, ledger_url  # noqa: F401  (fixtures)

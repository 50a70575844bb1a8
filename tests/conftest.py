"""Expose the ledger fixtures of ``ledger_helpers`` to every test module."""

from ledger_helpers import clock, da, ledger, ledger_url, live  # noqa: F401  (fixtures)

"""Fontana: pay-per-call APIs settled on a small UTXO payment rollup."""

__version__ = "0.1.0"

"""Celestia data availability for Fontana, and a local stand-in for celestia-node."""

__version__ = "0.1.0"

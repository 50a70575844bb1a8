"""Fontana's native engine: the Rust implementations of the hot paths, as a Fontana plugin."""

from fontana_native._native import __version__

__all__ = ["__version__"]

"""Skip-or-fail policy for tests that need a part from outside the Python tree.

A developer's laptop may lack PostgreSQL or a node binary, and skipping keeps the suite
usable there. In CI a missing part means the pipeline is broken, and a skip would turn a
broken pipeline green, so CI fails instead.
"""

from __future__ import annotations

import os

__all__ = ["in_ci", "require_external"]

_TRUE = {"1", "true"}


def in_ci() -> bool:
    """True when the `CI` variable says so (`true`/`1`), as CI systems set it."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def require_external(what: str) -> None:
    """Stop the current test because `what` is missing: fail in CI, skip elsewhere.

    Never returns; it always raises pytest's outcome exception.
    """
    import pytest  # lazy: this module is importable by benches that do not use pytest

    if in_ci():
        pytest.fail(f"{what} is required in CI", pytrace=False)
    pytest.skip(f"{what} not available (set CI=true to make this a failure)")

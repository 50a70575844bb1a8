"""Fontana for Flask: the ``Fontana(app)`` extension and the ``@charge`` decorator.

Flask is imported on first use of ``Fontana`` or ``charge``, not here: the
``fontana`` command imports this package (its plugin entry point) on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Fontana", "charge"]

if TYPE_CHECKING:
    from fontana_flask.extension import Fontana
    from fontana_flask.views import charge


def __getattr__(name: str) -> Any:
    if name == "Fontana":
        from fontana_flask.extension import Fontana

        return Fontana
    if name == "charge":
        from fontana_flask.views import charge

        return charge
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Fontana for Django: ``settings.FONTANA``, the ``fontana_django`` app and ``@charge``.

Django is imported on first use of ``charge``, not here: the ``fontana``
command imports this package (its plugin entry point) on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["charge"]

if TYPE_CHECKING:
    from fontana_django.decorators import charge


def __getattr__(name: str) -> Any:
    if name == "charge":
        from fontana_django.decorators import charge

        return charge
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

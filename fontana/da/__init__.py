"""Data availability: the blob format, the built-in local layer, opening a configured one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import DALayer


def open_da(settings: Settings, namespace: bytes, url: str | None = None) -> DALayer:
    """The DA layer ``da.url`` (or ``url``) names, bound to the chain's namespace."""
    from fontana.plugins import get_host

    url = url or settings.da.url
    spec = get_host().backends("da").resolve(url)
    return spec.factory(url, settings, namespace)  # type: ignore[no-any-return]

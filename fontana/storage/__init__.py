"""Ledger persistence: the storage contract, its SQL implementation and backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.storage.base import Storage


def open_storage(settings: Settings, url: str | None = None) -> Storage:
    """Open the backend that ``storage.url`` (or ``url``) names, via its plugin."""
    from fontana.plugins import get_host

    url = url or settings.storage.url
    spec = get_host().backends("storage").resolve(url)
    return spec.factory(url, settings)  # type: ignore[no-any-return]

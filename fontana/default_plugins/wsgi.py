"""Built-in plugin: the ``wsgi`` charging adapter (paid calls in plain WSGI apps)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import ChargingAdapter, ChargingAdapterFactory, RegisterBackend


def open_wsgi_adapter(settings: Settings) -> ChargingAdapter:
    from fontana.payments.wsgi import WSGIAdapter

    return WSGIAdapter(settings)


@hookimpl
def fontana_register_charging_adapters(register: RegisterBackend[ChargingAdapterFactory]) -> None:
    register(
        "wsgi",
        open_wsgi_adapter,
        description="plain WSGI apps, no framework; example_app is the devnet's paid API",
    )

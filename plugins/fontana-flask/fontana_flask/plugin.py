"""Entry point: the ``flask`` charging adapter (Flask is imported only when it is used)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from flask import Flask, Request

    from fontana.config import Settings
    from fontana.interfaces import ChargingAdapterFactory, RegisterBackend
    from fontana.payments.charger import Charger


class FlaskAdapter:
    """``@charge`` for Flask views, and the example app the devnet serves."""

    framework = "flask"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def charge(
        self,
        utia: int | None = None,
        *,
        price: Callable[[Request], int] | None = None,
        **options: Any,
    ) -> Callable[[Any], Any]:
        """:func:`fontana_flask.charge`: options ``description=`` and ``charger=``.

        Without ``charger=`` the app's ``Fontana(app)`` supplies the charger.
        """
        from fontana_flask.views import charge

        return charge(utia, price=price, **options)

    def example_app(self, charger: Charger) -> Flask:
        from fontana_flask.example import example_app

        return example_app(charger)


@hookimpl
def fontana_register_charging_adapters(register: RegisterBackend[ChargingAdapterFactory]) -> None:
    register(
        "flask",
        FlaskAdapter,
        description="Flask 3.1: Fontana(app) extension and @charge(utia=... | price=fn)",
    )

"""Entry point: the ``django`` charging adapter (Django is imported only when it is used)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from django.http import HttpRequest

    from fontana.config import Settings
    from fontana.interfaces import ChargingAdapterFactory, RegisterBackend


class DjangoAdapter:
    """``@charge`` for Django views; the charger comes from ``settings.FONTANA``."""

    framework = "django"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def charge(
        self,
        utia: int | None = None,
        *,
        price: Callable[[HttpRequest], int] | None = None,
        **options: Any,
    ) -> Callable[[Any], Any]:
        """:func:`fontana_django.charge`: options ``description=`` and ``charger=``."""
        from fontana_django.decorators import charge

        return charge(utia, price=price, **options)


@hookimpl
def fontana_register_charging_adapters(register: RegisterBackend[ChargingAdapterFactory]) -> None:
    register(
        "django",
        DjangoAdapter,
        description="Django 5.2: settings.FONTANA, the fontana_django app and @charge",
    )

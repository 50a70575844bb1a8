"""The ``fontana_django`` app: checks ``settings.FONTANA`` at start-up, follows its changes."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from fontana.errors import ConfigError


class FontanaConfig(AppConfig):
    name = "fontana_django"
    label = "fontana"
    verbose_name = "Fontana paid calls"

    def ready(self) -> None:
        """Fail at start-up, not on the first paid call, when the settings are wrong.

        Reading them opens nothing: the charger and its database come on first use.
        """
        from fontana_django.conf import fontana_settings

        try:
            fontana_settings()
        except ConfigError as exc:
            raise ImproperlyConfigured(f"Fontana: {exc.message}") from None
        setting_changed.connect(_setting_changed, dispatch_uid="fontana_django.reset")


def _setting_changed(*, setting: str, **_: Any) -> None:
    from fontana_django.conf import SETTING
    from fontana_django.runtime import reset

    if setting == SETTING:
        reset()

"""``Fontana(app)``: app-wide setup, one :class:`Charger` per process for each app.

The settings are read and checked when the app is set up (a bad config fails at
start), while the charger is a :class:`~fontana.payments.adapters.ProcessCharger`:
built on the first paid call in each process, never shared across a ``fork``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

from fontana.errors import ConfigError
from fontana.payments.adapters import ProcessCharger
from fontana_flask.settings import settings_from_config

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.payments.charger import Charger

EXTENSION_KEY = "fontana"


class Fontana:
    """The Flask extension: ``Fontana(app)``, or ``fontana = Fontana()`` then ``init_app(app)``.

    ``charger`` gives every app this one charger instead of building one from
    the config (tests, or an application that builds its own); the caller then
    owns it and must not share it across a fork.
    """

    def __init__(self, app: Flask | None = None, *, charger: Charger | None = None) -> None:
        self._charger = charger
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        given = self._charger
        app.extensions[EXTENSION_KEY] = (
            _GivenCharger(given)
            if given is not None
            else _app_charger(settings_from_config(app.config))
        )

    @staticmethod
    def charger(app: Flask | None = None) -> Charger:
        """The charger of ``app`` (default: the current app) in this process."""
        return _state(app or current_app).get()

    @staticmethod
    def close(app: Flask | None = None) -> None:
        """Close this process's charger of ``app`` if it was built here from the config."""
        _state(app or current_app).close()


def _state(app: Flask) -> ProcessCharger | _GivenCharger:
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, ProcessCharger | _GivenCharger):
        raise ConfigError(
            f"Fontana is not set up for the Flask app {app.name!r}: "
            "call Fontana(app) or fontana.init_app(app) before serving paid views"
        )
    return state


class _GivenCharger:
    """The charger the application gave: used as it is, closed by its owner."""

    def __init__(self, charger: Charger) -> None:
        self._charger = charger

    def get(self) -> Charger:
        return self._charger

    def close(self) -> None:
        """Nothing: the application that built the charger closes it."""


def _app_charger(settings: Settings) -> ProcessCharger:
    """A charger built from the app's settings, once in each process."""
    return ProcessCharger(lambda: settings)

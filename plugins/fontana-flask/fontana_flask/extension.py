"""``Fontana(app)``: app-wide setup, one :class:`Charger` per process for each app.

The charger holds database connections (and a settle thread), which must never
cross a ``fork``: gunicorn's ``--preload`` imports the app in the master and
forks workers from it. So the settings are read and checked when the app is set
up (a bad config fails at start), while the charger is built on the first paid
call in each process, and built again in a child that inherited one.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from flask import Flask, current_app

from fontana.errors import ConfigError
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
        settings = None if self._charger is not None else settings_from_config(app.config)
        app.extensions[EXTENSION_KEY] = _AppCharger(settings, self._charger)

    @staticmethod
    def charger(app: Flask | None = None) -> Charger:
        """The charger of ``app`` (default: the current app) in this process."""
        return _state(app or current_app).get()

    @staticmethod
    def close(app: Flask | None = None) -> None:
        """Close this process's charger of ``app``, if one was built here from the config."""
        _state(app or current_app).close()


def _state(app: Flask) -> _AppCharger:
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, _AppCharger):
        raise ConfigError(
            f"Fontana is not set up for the Flask app {app.name!r}: "
            "call Fontana(app) or fontana.init_app(app) before serving paid views"
        )
    return state


class _AppCharger:
    """One app's charger: the one given, or one built from settings per process."""

    def __init__(self, settings: Settings | None, given: Charger | None) -> None:
        self.settings = settings
        self._given = given
        self._lock = threading.Lock()
        self._built: Charger | None = None
        self._pid = 0

    def get(self) -> Charger:
        if self._given is not None:
            return self._given
        built, pid = self._built, os.getpid()
        if built is not None and self._pid == pid:
            return built
        with self._lock:
            if self._built is None or self._pid != pid:
                # An inherited charger is dropped, not closed: its connections
                # belong to the parent, and closing them here would break the parent's.
                from fontana.payments.charger import Charger

                assert self.settings is not None
                self._built, self._pid = Charger.from_settings(self.settings), pid
            return self._built

    def close(self) -> None:
        with self._lock:
            if self._built is not None and self._pid == os.getpid():
                self._built.close()
            self._built = None

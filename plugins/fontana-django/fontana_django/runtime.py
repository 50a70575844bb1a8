"""The process's :class:`Charger`, built from ``settings.FONTANA`` on first use.

A :class:`~fontana.payments.adapters.ProcessCharger`: built on the first paid
call in each process, never shared across a ``fork`` (gunicorn's ``--preload``
sets Django up in the master and forks workers from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.payments.adapters import ProcessCharger

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.payments.charger import Charger


def _settings() -> Settings:
    from fontana_django.conf import fontana_settings

    return fontana_settings()


_process = ProcessCharger(_settings)


def get_charger() -> Charger:
    """This process's charger."""
    return _process.get()


def reset() -> None:
    """Forget (and close, if this process built it) the charger: the settings changed."""
    _process.close()

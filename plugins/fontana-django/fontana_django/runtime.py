"""The process's :class:`Charger`, built from ``settings.FONTANA`` on first use.

The charger holds database connections (and a settle thread), which must never
cross a ``fork``: gunicorn's ``--preload`` sets Django up in the master and forks
workers from it. So it is built on the first paid call in each process, and
built again in a child that inherited one (which is dropped, not closed: its
connections belong to the parent).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fontana.payments.charger import Charger

_lock = threading.Lock()
_charger: Charger | None = None
_pid = 0


def get_charger() -> Charger:
    """This process's charger."""
    charger, pid = _charger, os.getpid()
    if charger is not None and _pid == pid:
        return charger
    with _lock:
        return _build(pid)


def _build(pid: int) -> Charger:
    global _charger, _pid
    if _charger is None or _pid != pid:
        from fontana.payments.charger import Charger
        from fontana_django.conf import fontana_settings

        _charger, _pid = Charger.from_settings(fontana_settings()), pid
    return _charger


def reset() -> None:
    """Forget (and close, if this process built it) the charger: the settings changed."""
    global _charger
    with _lock:
        if _charger is not None and _pid == os.getpid():
            _charger.close()
        _charger = None

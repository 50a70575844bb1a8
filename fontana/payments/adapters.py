"""What the framework adapters (``fontana-flask``, ``fontana-django``) share around the charger.

:class:`ProcessCharger` is the charger built from settings once in each
process: it holds database connections (and a settle thread), which must never
cross a ``fork`` (gunicorn's ``--preload`` sets the app up in the master and
forks workers from it). :func:`respond` turns what :meth:`Charger.charge` decided
into the framework's response.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.payments.charger import Charged, Charger, PaymentReply


class ProcessCharger:
    """A charger built from ``settings()`` on first use in each process.

    A child that inherited one builds its own; the inherited one is dropped, not
    closed: its connections belong to the parent, and closing them would break it.
    """

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._built: Charger | None = None
        self._pid = 0

    def get(self) -> Charger:
        """This process's charger."""
        built, pid = self._built, os.getpid()
        if built is not None and self._pid == pid:
            return built
        with self._lock:
            if self._built is None or self._pid != pid:
                from fontana.payments.charger import Charger

                self._built, self._pid = Charger.from_settings(self._settings()), pid
            return self._built

    def close(self) -> None:
        """Close the charger if this process built it, and forget it: the next use builds anew."""
        with self._lock:
            if self._built is not None and self._pid == os.getpid():
                self._built.close()
            self._built = None


class _Response(Protocol):
    @property
    def headers(self) -> MutableMapping[str, str]: ...


Response = TypeVar("Response", bound=_Response)


def respond(charged: Charged[Response], reply: Callable[[PaymentReply], Response]) -> Response:
    """The view's answer with the payment headers, or the charger's own ``reply`` instead."""
    if charged.reply is not None:
        return reply(charged.reply)
    response = charged.result
    assert response is not None  # no reply: the view ran and this is what it returned
    for name, value in charged.headers.items():
        response.headers[name] = value
    return response

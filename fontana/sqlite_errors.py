"""SQLite failures of the local stand-ins (DA log, L1 event log) as their layer's own errors.

A busy or locked file may pass, so it is the layer's retryable error; anything else
(an unreadable file, a full disk, a special file where the log should be) needs an
operator, so it is the layer's fatal one.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def sqlite_errors_as(
    label: str, busy: type[Exception], fatal: type[Exception]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator turning ``sqlite3.Error`` into ``busy`` or ``fatal``, prefixed by ``label``."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except sqlite3.Error as exc:
                text = str(exc)
                kind = busy if "locked" in text or "busy" in text else fatal
                raise kind(f"{label}: {text}") from None

        return wrapper

    return decorate

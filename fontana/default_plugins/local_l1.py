"""Built-in plugin: the local L1 stand-in (a durable log of vault events in a directory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import L1Watcher, L1WatcherFactory, RegisterBackend


def open_local_l1(url: str, settings: Settings) -> L1Watcher:
    from fontana.bridge.local_l1 import LocalL1, local_l1_dir

    return LocalL1(local_l1_dir(url, settings.home))


@hookimpl
def fontana_register_l1_watchers(register: RegisterBackend[L1WatcherFactory]) -> None:
    register(
        "local",
        open_local_l1,
        schemes=("local",),
        description="durable local log of vault events (fontana trigger-deposit); the default",
    )

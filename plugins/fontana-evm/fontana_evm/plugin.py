"""Entry point: registers the ``evm`` L1 watcher (web3 is imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import L1Watcher, L1WatcherFactory, RegisterBackend


def open_evm_watcher(url: str, settings: Settings) -> L1Watcher:
    from fontana_evm.watcher import EvmWatcher

    return EvmWatcher.from_settings(url, settings)


@hookimpl
def fontana_register_l1_watchers(register: RegisterBackend[L1WatcherFactory]) -> None:
    register(
        "evm",
        open_evm_watcher,
        schemes=("evm+http", "evm+https"),
        description="the vault's logs from an EVM JSON-RPC node over HTTP (web3)",
    )

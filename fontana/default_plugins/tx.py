"""Built-in plugin: the Python transaction engine (the reference the native one must equal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import RegisterBackend, TxEngine, TxEngineFactory


def open_python_tx(settings: Settings) -> TxEngine:
    from fontana.txengine import PythonTxEngine

    return PythonTxEngine()


@hookimpl
def fontana_register_tx_engines(register: RegisterBackend[TxEngineFactory]) -> None:
    register(
        "python-tx",
        open_python_tx,
        description="transaction decoding and ed25519 checks in Python and libsodium (reference)",
    )

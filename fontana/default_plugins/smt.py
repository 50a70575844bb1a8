"""Built-in plugin: the Python sparse Merkle tree as the state-commitment provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import ProofProvider, ProofProviderFactory, RegisterBackend


def open_python_smt(settings: Settings) -> ProofProvider:
    from fontana.state import PythonSMTProvider

    return PythonSMTProvider()


@hookimpl
def fontana_register_proof_providers(register: RegisterBackend[ProofProviderFactory]) -> None:
    register(
        "python-smt",
        open_python_smt,
        description="versioned sparse Merkle tree in pure Python (reference implementation)",
    )

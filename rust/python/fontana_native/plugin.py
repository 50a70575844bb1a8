"""The ``native`` Fontana plugin: registers the Rust implementations with the core's hooks.

Each hook implementation lives beside the Python wrapper it registers; this
module only gathers them, so ``fontana plugins`` lists them under one name.
"""

from __future__ import annotations

from fontana_native.bridge import fontana_register_bridge_validators
from fontana_native.smt import fontana_register_proof_providers
from fontana_native.tx import fontana_register_tx_engines

__all__ = [
    "fontana_register_bridge_validators",
    "fontana_register_proof_providers",
    "fontana_register_tx_engines",
]

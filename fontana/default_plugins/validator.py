"""Built-in plugin: the Python bridge validator (keys from ``bridge.validator_keys``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import BridgeValidator, BridgeValidatorFactory, RegisterBackend


def open_python_validator(settings: Settings) -> BridgeValidator:
    from fontana.bridge.signer import open_python_validator as open_validator

    return open_validator(settings)


@hookimpl
def fontana_register_bridge_validators(register: RegisterBackend[BridgeValidatorFactory]) -> None:
    register(
        "python-validator",
        open_python_validator,
        description="checkpoint keys read and held by Python (reference implementation)",
    )

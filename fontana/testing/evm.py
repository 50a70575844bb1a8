"""A real EVM JSON-RPC node on loopback for tests: hardhat 2 from ``contracts/node_modules``.

The bridge must be tested against a node that speaks JSON-RPC over HTTP as an L1 does, not
an in-process stand-in, and plugin authors need the same harness, so it ships in
``fontana.testing``. Imports are stdlib only; web3 is the tests' business.

The node itself is :mod:`fontana.bridge.hardhat` (the devnet starts it too). The hardhat
package is installed by ``npm ci --prefix contracts`` (``make test`` does it when
``contracts/node_modules`` is missing; CI runs it before the tests). Hardhat insists on a
local installation next to its config file, so the node runs in a temp dir holding a
minimal config and a ``node_modules`` link; its home-directory files go there too.

From a ``conftest.py`` or a pytest plugin::

    from fontana.testing.evm import evm_url, hardhat_node  # noqa: F401

Outside pytest::

    with HardhatNode() as node:
        print(node.url)
"""

from __future__ import annotations

from collections.abc import Iterator

from fontana.bridge.hardhat import (
    CHAIN_ID,
    CONTRACTS_DIR_ENV,
    MNEMONIC,
    HardhatNode,
    HardhatNodeError,
    find_contracts_dir,
    find_hardhat,
    rpc,
)
from fontana.testing.requirements import require_external

__all__ = [
    "CHAIN_ID",
    "CONTRACTS_DIR_ENV",
    "MNEMONIC",
    "HardhatNode",
    "HardhatNodeError",
    "evm_url",
    "find_contracts_dir",
    "find_hardhat",
    "hardhat_node",
    "rpc",
]

try:
    import pytest
except ModuleNotFoundError:  # benches may use HardhatNode without the test stack
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def hardhat_node() -> Iterator[HardhatNode]:
        """One hardhat node per test session; missing node/npm modules skip (fail in CI)."""
        hardhat = find_hardhat()
        if hardhat is None:
            require_external("node and contracts/node_modules (npm ci --prefix contracts)")
        with HardhatNode(hardhat) as node:
            yield node

    @pytest.fixture
    def evm_url(hardhat_node: HardhatNode) -> Iterator[str]:
        """The node's URL, with the chain reverted after the test to where it was before."""
        snapshot = hardhat_node.snapshot()
        try:
            yield hardhat_node.url
        finally:
            hardhat_node.revert(snapshot)

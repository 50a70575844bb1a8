"""A dev node per test on a free loopback port, and a Celestia DA layer bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fontana_celestia.da import CelestiaDA
from fontana_celestia.testing import DevNode


@pytest.fixture
def namespace() -> bytes:
    """The chain's 10 namespace bytes, as its genesis would hold them."""
    return b"fontanatst"


@pytest.fixture
def devnode(tmp_path: Path) -> Iterator[DevNode]:
    with DevNode(tmp_path / "devnode", block_time_ms=100) as node:
        yield node


@pytest.fixture
def da(devnode: DevNode, namespace: bytes) -> Iterator[CelestiaDA]:
    layer = CelestiaDA(devnode.url, namespace, timeout_ms=10_000)
    yield layer
    layer.close()

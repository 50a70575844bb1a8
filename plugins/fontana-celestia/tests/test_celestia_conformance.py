"""The Celestia layer passes the DA conformance suite on the dev node, opened all three ways."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fontana_celestia.da import CelestiaDA
from fontana_celestia.testing import DevNode

from fontana.interfaces import DAReference
from fontana.testing.da import DAConfigConformance, DAConformance, DARegistryConformance

#: Small enough to keep the suite's largest blob quick; the node's own limit is far above.
MAX_BLOB_SIZE = 64 * 1024


class TestCelestiaConformance(DAConformance):
    @pytest.fixture
    def da_factory(self, devnode: DevNode) -> Callable[[bytes], CelestiaDA]:
        return lambda namespace: CelestiaDA(
            devnode.url, namespace, timeout_ms=10_000, max_blob_size=MAX_BLOB_SIZE
        )


class TestCelestiaThroughTheRegistry(DARegistryConformance):
    @pytest.fixture
    def da_backend(self) -> str:
        return "celestia"

    @pytest.fixture
    def da_url(self, devnode: DevNode) -> str:
        return devnode.url


class TestCelestiaThroughTheConfig(DAConfigConformance):
    @pytest.fixture
    def da_url(self, devnode: DevNode) -> str:
        return devnode.url


def test_a_reference_of_another_namespace_reads_as_none(devnode: DevNode) -> None:
    """Regression: ``get`` read whatever namespace the reference named."""
    mine = CelestiaDA(devnode.url, b"fontanaaaa", timeout_ms=10_000)
    theirs = CelestiaDA(devnode.url, b"fontanabbb", timeout_ms=10_000)
    try:
        ref = theirs.submit(b"their blob")
        assert theirs.get(ref) == b"their blob"
        assert mine.get(ref) is None
        assert mine.get(DAReference(ref.height, ref.commitment, b"not a namespace")) is None
    finally:
        mine.close()
        theirs.close()

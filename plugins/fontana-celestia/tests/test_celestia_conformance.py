"""The Celestia layer passes the DA conformance suite against the dev node."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fontana_celestia.da import CelestiaDA
from fontana_celestia.testing import DevNode

from fontana.testing.da import DAConformance


class TestCelestiaConformance(DAConformance):
    @pytest.fixture
    def da_factory(self, devnode: DevNode, namespace: bytes) -> Callable[[], CelestiaDA]:
        return lambda: CelestiaDA(devnode.url, namespace, timeout_ms=10_000)

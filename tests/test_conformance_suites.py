"""The conformance suites catch every deliberately broken backend, and pass the real ones.

Each broken backend (``fontana.testing.broken``) breaks one rule; the suite is run
on it in a nested pytest session (``pytester``), which must report a failure.
The same harness on the real backend reports none, so a failure means the fault
was found, not that the harness is broken.
"""

from __future__ import annotations

import pytest

from fontana.testing.broken.da import BROKEN_DA

pytest_plugins = ["pytester"]

DA_SUITE = """
import pytest
from fontana.da.local import LocalDA
from fontana.testing.broken.da import BROKEN_DA
from fontana.testing.da import DAConformance

LAYER = BROKEN_DA.get({name!r}, LocalDA)


class TestSuite(DAConformance):
    @pytest.fixture
    def da_factory(self, tmp_path):
        return lambda namespace: LAYER(tmp_path / "da", namespace, max_blob_size=4096)
"""


def run_suite(pytester: pytest.Pytester, source: str, *args: str) -> dict[str, int]:
    """Outcome counts of one nested run of ``source``."""
    pytester.makepyfile(test_suite=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", *args)
    return result.parseoutcomes()


def test_da_suite_passes_the_real_local_layer(pytester: pytest.Pytester) -> None:
    outcomes = run_suite(pytester, DA_SUITE.format(name="LocalDA"))
    assert outcomes.get("passed", 0) > 10
    assert outcomes.keys() == {"passed"}, outcomes


@pytest.mark.parametrize("name", sorted(BROKEN_DA))
def test_da_suite_catches_a_broken_layer(pytester: pytest.Pytester, name: str) -> None:
    outcomes = run_suite(pytester, DA_SUITE.format(name=name), "-x")
    assert outcomes.get("failed", 0) >= 1, f"{name} passed the DA suite: {outcomes}"

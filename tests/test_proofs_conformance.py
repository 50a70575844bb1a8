"""The built-in ``python-smt`` provider passes the proof-provider conformance suite on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fontana.smt.vectors import build_vectors
from fontana.state import PythonSMTProvider
from fontana.testing.proofs import (
    ConfiguredProofProviderConformance,
    ProofProviderConformance,
    ProviderFactory,
)

VECTORS = Path(__file__).parent / "vectors" / "smt.json"


class TestPythonSMTConformance(ProofProviderConformance):
    @pytest.fixture
    def provider_factory(self) -> ProviderFactory:
        return PythonSMTProvider


class TestPythonSMTThroughTheConfig(ConfiguredProofProviderConformance):
    @pytest.fixture
    def proof_provider(self) -> str:
        return "python-smt"


def test_the_suite_uses_the_published_vectors() -> None:
    """The suite builds its vectors in memory; they are the committed file's."""
    assert build_vectors() == json.loads(VECTORS.read_text())

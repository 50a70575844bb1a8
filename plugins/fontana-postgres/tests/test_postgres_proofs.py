"""The built-in ``python-smt`` provider passes the proof-provider suite on PostgreSQL storage."""

from __future__ import annotations

import pytest

from fontana.state import PythonSMTProvider
from fontana.testing.proofs import ProofProviderConformance, ProviderFactory


class TestPythonSMTOnPostgres(ProofProviderConformance):
    @pytest.fixture
    def storage_url(self, pg_url: str) -> str:
        return pg_url

    @pytest.fixture
    def provider_factory(self) -> ProviderFactory:
        return PythonSMTProvider

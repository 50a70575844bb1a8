"""The built-in local DA layer passes the DA conformance suite, opened all three ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from fontana.config import Settings
from fontana.da import open_da
from fontana.da.local import LocalDA
from fontana.errors import ConfigError
from fontana.interfaces import DAReference
from fontana.testing.da import (
    DAConfigConformance,
    DAConformance,
    DAFactory,
    DARegistryConformance,
)

NAMESPACE = b"fontanatst"


class TestLocalDAConformance(DAConformance):
    @pytest.fixture
    def da_factory(self, tmp_path: Path) -> DAFactory:
        return lambda namespace: LocalDA(tmp_path / "da", namespace, max_blob_size=4096)


class TestLocalDAThroughTheRegistry(DARegistryConformance):
    @pytest.fixture
    def da_backend(self) -> str:
        return "local"

    @pytest.fixture
    def da_url(self, tmp_path: Path) -> str:
        return f"local:///{tmp_path}/da"


class TestLocalDAThroughTheConfig(DAConfigConformance):
    @pytest.fixture
    def da_url(self, tmp_path: Path) -> str:
        return f"local:///{tmp_path}/da"


def test_opened_through_the_plugin_registry(tmp_path: Path, fontana_settings: Settings) -> None:
    da = open_da(fontana_settings, NAMESPACE, f"local:///{tmp_path}/da")
    assert isinstance(da, LocalDA)
    assert da.max_blob_size == fontana_settings.da.max_blob_size
    da.close()


def test_namespaces_are_separate(tmp_path: Path) -> None:
    a = LocalDA(tmp_path, b"aaaaaaaaaa", 100)
    b = LocalDA(tmp_path, b"bbbbbbbbbb", 100)
    ref = a.submit(b"for a")
    assert b.list_at(ref.height) == []
    assert a.list_at(ref.height)[0][1] == b"for a"


def test_a_reference_of_another_namespace_reads_as_none(tmp_path: Path) -> None:
    """Regression: ``get`` used the reference's namespace, serving another chain's blob."""
    a = LocalDA(tmp_path, b"aaaaaaaaaa", 100)
    b = LocalDA(tmp_path, b"bbbbbbbbbb", 100)
    ref = a.submit(b"for a")
    assert b.get(ref) is None
    assert b.get(DAReference(ref.height, ref.commitment, b.namespace)) is None
    assert a.get(ref) == b"for a"


@pytest.mark.parametrize("url", ["local://", "local:///", "celestia://x"])
def test_bad_local_urls(url: str, fontana_settings: Settings) -> None:
    from fontana.da.local import local_da_dir

    with pytest.raises(ConfigError):
        local_da_dir(url)

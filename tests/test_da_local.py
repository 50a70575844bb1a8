"""The built-in local DA layer passes the DA conformance suite; the blob format is strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from fontana.config import Settings
from fontana.da import open_da
from fontana.da.local import LocalDA
from fontana.errors import ConfigError
from fontana.testing.da import DAConformance, DAFactory

NAMESPACE = b"fontanatst"


class TestLocalDAConformance(DAConformance):
    @pytest.fixture
    def da_factory(self, tmp_path: Path) -> DAFactory:
        return lambda: LocalDA(tmp_path / "da", NAMESPACE, max_blob_size=4096)


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


@pytest.mark.parametrize("url", ["local://", "local:///", "celestia://x"])
def test_bad_local_urls(url: str, fontana_settings: Settings) -> None:
    from fontana.da.local import local_da_dir

    with pytest.raises(ConfigError):
        local_da_dir(url)

"""Fixtures every Fontana test suite gets (core and third-party plugins alike)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fontana.config import Settings, load_settings
from fontana.plugins import PluginRecord, get_host
from fontana.testing.evm import evm_url, hardhat_node  # noqa: F401  (re-exported fixtures)
from fontana.testing.pgcluster import pg_cluster, pg_url  # noqa: F401  (re-exported fixtures)

#: The interpreter's recursion limit before any test module is imported.
_RECURSION_LIMIT = sys.getrecursionlimit()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test starts at the interpreter's own recursion limit.

    Importing web3 imports py_ecc, which raises the limit to 100,000 for the
    whole process; a test module that imports web3 would then turn the
    hostile-input tests of every JSON parser into a C stack overflow (the
    interpreter dies) instead of the ``RecursionError`` they check for.
    """
    sys.setrecursionlimit(_RECURSION_LIMIT)


@pytest.fixture
def fontana_home(tmp_path: Path) -> Path:
    home = tmp_path / "fontana-home"
    home.mkdir()
    return home


@pytest.fixture
def fontana_settings(fontana_home: Path) -> Settings:
    """Settings isolated from the developer's machine: defaults plus a private home."""
    return load_settings(environ={"FONTANA_HOME": str(fontana_home)}, cwd=fontana_home)


@pytest.fixture
def register_plugin() -> Iterator[Callable[[object, str], PluginRecord]]:
    """Register plugin objects for one test; they are unregistered afterwards.

    ``register_plugin(obj, "name")`` returns the plugin's record.
    """
    host = get_host()
    names: list[str] = []

    def register(plugin: object, name: str) -> PluginRecord:
        names.append(name)
        return host.register(plugin, name)

    yield register
    for name in names:
        host.unregister(name)

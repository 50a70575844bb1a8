"""The entry point: backend resolution, the [celestia] settings, the dev node command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fontana_celestia.da import CelestiaDA
from fontana_celestia.testing import DevNode

from fontana.config import Settings, load_settings
from fontana.da import open_da
from fontana.da.limits import min_blob_size
from fontana.errors import ConfigError
from fontana.plugins import get_host


def settings_from(environ: dict[str, str], home: Path) -> Settings:
    return load_settings(environ={"FONTANA_HOME": str(home), **environ}, cwd=home)


@pytest.mark.parametrize("url", ["celestia+ws://h:1", "celestia+wss://h:1", "celestia://h:1"])
def test_schemes_resolve_to_the_plugin(url: str) -> None:
    spec = get_host().backends("da").resolve(url)
    assert spec.name == "celestia"
    assert spec.plugin == "celestia"


def test_open_da_uses_the_celestia_section(devnode: DevNode, tmp_path: Path) -> None:
    env = {"FONTANA_CELESTIA_MAX_BLOB_SIZE": "1000", "FONTANA_CELESTIA_TIMEOUT_MS": "5000"}
    settings = settings_from({"FONTANA_DA_URL": devnode.url, **env}, tmp_path)
    da = open_da(settings, b"fontanatst")
    try:
        assert isinstance(da, CelestiaDA)
        assert da.max_blob_size == 1000
        assert da.get(da.submit(b"via config")) == b"via config"
    finally:
        da.close()


def test_core_blob_limit_caps_the_layer(tmp_path: Path) -> None:
    limit = min_blob_size()  # the smallest core limit the config accepts
    settings = settings_from({"FONTANA_DA_MAX_BLOB_SIZE": str(limit)}, tmp_path)
    da = open_da(settings, b"fontanatst", "celestia+ws://127.0.0.1:1")
    try:
        assert da.max_blob_size == limit
    finally:
        da.close()


def test_auth_token_is_a_secret(tmp_path: Path) -> None:
    settings = settings_from({"FONTANA_CELESTIA_AUTH_TOKEN": "jwt"}, tmp_path)
    assert settings.section("celestia").auth_token == "jwt"
    assert ("celestia.auth_token", "jwt", True) in settings.items()


@pytest.mark.parametrize(("key", "value"), [("TIMEOUT_MS", "0"), ("MAX_BLOB_SIZE", "1.5")])
def test_bad_settings_are_refused(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"celestia.{key.lower()}"):
        settings_from({f"FONTANA_CELESTIA_{key}": value}, tmp_path)


def test_devnode_command_serves_until_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "fontana", "celestia-devnode", "--port", "0"]
    command += ["--data-dir", str(tmp_path / "chain"), "--block-time-ms", "100"]
    command += ["--auth-token", "tok"]
    env = {**os.environ, "FONTANA_HOME": str(tmp_path)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("celestia+ws://127.0.0.1:")
        da = CelestiaDA(url, b"fontanatst", auth_token="tok", timeout_ms=5000)
        try:
            assert da.get(da.submit(b"over the CLI")) == b"over the CLI"
        finally:
            da.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / "chain" / "chain.sqlite3").is_file()

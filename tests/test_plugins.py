"""The plugin loader: built-ins via entry points, broken plugins survived, env controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fontana.errors import PluginError
from fontana.hookspecs import hookimpl
from fontana.plugins import PluginHost


def fake_distribution(
    root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """A minimal installed distribution on a path of its own, for a subprocess."""
    dist = root / f"{name.replace('-', '_')}-0.9.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.9\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[fontana]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root


def run_cli(
    *args: str, extra_path: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    full_env.update(env)
    if extra_path is not None:
        full_env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, "-m", "fontana", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


BROKEN_MODULES = {
    "fontana_broken_raises": (
        "from fontana.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def fontana_register_storage_backends(register):\n"
        "    raise RuntimeError('kaboom')\n"
    ),
}


@pytest.fixture
def broken_path(tmp_path: Path) -> Path:
    return fake_distribution(
        tmp_path,
        "fontana-broken",
        {"broken-import": "fontana_no_such_module", "broken-hook": "fontana_broken_raises"},
        BROKEN_MODULES,
    )


def by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in records}


def test_builtin_defaults_are_listed_with_versions_and_hooks() -> None:
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = by_name(json.loads(result.stdout))
    sqlite = plugins["sqlite"]
    assert sqlite["distribution"] == "fontana" and sqlite["version"]
    assert sqlite["provides"] == {"storage": ["sqlite"]}
    assert sqlite["hooks"] == ["fontana_register_storage_backends"]
    assert plugins["postgres"]["distribution"] == "fontana-postgres"
    assert plugins["postgres"]["provides"] == {"storage": ["postgresql"]}


def test_broken_plugins_are_reported_and_the_cli_still_works(broken_path: Path) -> None:
    assert run_cli("--help", extra_path=broken_path).returncode == 0
    result = run_cli("plugins", "--json", extra_path=broken_path)
    assert result.returncode == 0, result.stderr
    plugins = by_name(json.loads(result.stdout))
    assert plugins["broken-import"]["status"] == "failed"
    assert "fontana_no_such_module" in plugins["broken-import"]["error"]
    assert plugins["broken-import"]["distribution"] == "fontana-broken"
    assert plugins["broken-hook"]["status"] == "failed"
    assert "kaboom" in plugins["broken-hook"]["error"]
    assert plugins["sqlite"]["status"] == "loaded"
    text = run_cli("plugins", extra_path=broken_path)
    assert "error: import failed" in text.stdout


def test_strict_mode_reraises(broken_path: Path) -> None:
    result = run_cli("plugins", extra_path=broken_path, FONTANA_STRICT_PLUGINS="1")
    assert result.returncode != 0
    assert "error[plugin_error]" in result.stderr
    assert "broken-import" in result.stderr


def test_only_and_disable_variables() -> None:
    only = by_name(json.loads(run_cli("plugins", "--json", FONTANA_PLUGINS="sqlite").stdout))
    assert set(only) == {"sqlite"}
    every = by_name(
        json.loads(run_cli("plugins", "--all", "--json", FONTANA_PLUGINS="sqlite").stdout)
    )
    assert every["postgres"]["status"] == "disabled"
    rest = by_name(
        json.loads(run_cli("plugins", "--json", FONTANA_DISABLE_PLUGINS="fontana-postgres").stdout)
    )
    assert "postgres" not in rest and "sqlite" in rest


def test_listing_plugins_imports_no_backend_driver() -> None:
    code = (
        "import sys\n"
        "from fontana.plugins import get_host\n"
        "get_host().describe()\n"
        "print(sorted(m for m in ('sqlalchemy', 'psycopg') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_misspelt_hook_is_refused() -> None:
    class Typo:
        @staticmethod
        @hookimpl
        def fontana_register_storage_backend(register: Any) -> None:  # missing "s"
            pass

    host = PluginHost()
    record = host.register(Typo(), "typo")
    assert record.status == "failed"
    assert "fontana_register_storage_backend" in (record.error or "")


def test_hook_with_unknown_argument_is_refused() -> None:
    class BadArgs:
        @staticmethod
        @hookimpl
        def fontana_register_storage_backends(register: Any, colour: str) -> None:
            pass

    record = PluginHost().register(BadArgs(), "bad-args")
    assert record.status == "failed" and "colour" in (record.error or "")


def test_failing_hook_keeps_other_plugins_backends() -> None:
    class Good:
        @staticmethod
        @hookimpl
        def fontana_register_da_backends(register: Any) -> None:
            register("good", lambda url, s: None, schemes=("good",))

    class Bad:
        @staticmethod
        @hookimpl
        def fontana_register_da_backends(register: Any) -> None:
            register("half", lambda url, s: None)
            raise ValueError("broken halfway")

    host = PluginHost()
    host.register(Good(), "good")
    host.register(Bad(), "bad")
    assert host.backends("da").names() == ["good"]  # the half-registered one is dropped
    assert host.records["bad"].status == "failed"
    with pytest.raises(Exception, match="plugins that failed to load: bad"):
        host.backends("da").resolve("half")


def test_duplicate_backend_names_fail_the_second_plugin() -> None:
    class One:
        @staticmethod
        @hookimpl
        def fontana_register_l1_watchers(register: Any) -> None:
            register("same", lambda url, s: None)

    class Two:
        @staticmethod
        @hookimpl
        def fontana_register_l1_watchers(register: Any) -> None:
            register("same", lambda url, s: None)

    host = PluginHost()
    host.register(One(), "one")
    host.register(Two(), "two")
    assert host.backends("l1").names() == ["same"]
    assert [r.status for r in (host.records["one"], host.records["two"])].count("failed") == 1


def test_strict_mode_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FONTANA_STRICT_PLUGINS", "1")

    class Bad:
        @staticmethod
        @hookimpl
        def fontana_register_proof_providers(register: Any) -> None:
            raise ValueError("nope")

    host = PluginHost()
    host.register(Bad(), "bad")
    with pytest.raises(PluginError, match="nope"):
        host.backends("proofs")


def test_unknown_family_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="storage"):
        PluginHost().backends("storage-typo")

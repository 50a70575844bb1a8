"""The plugin loader: built-ins via entry points, broken plugins survived, env controls,
and every name clash between installed distributions reported and resolved by one rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fontana.address import encode_address
from fontana.errors import PluginError
from fontana.hookspecs import hookimpl
from fontana.plugins import Conflict, PluginHost


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
    *args: str, extra_path: Path | list[Path] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    full_env.update(env)
    if extra_path is not None:
        paths = extra_path if isinstance(extra_path, list) else [extra_path]
        full_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return subprocess.run(
        [sys.executable, "-m", "fontana", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


#: Any valid address: commands that open the ledger need one.
ADDRESS = encode_address(bytes(32))

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
    assert sqlite["distribution"] == "fontana" and sqlite["version"] and sqlite["builtin"]
    assert sqlite["provides"] == {
        "storage": [
            {
                "name": "sqlite",
                "schemes": ["sqlite"],
                "description": "embedded SQLite file (WAL); the default",
                "wrapped_by": [],
            }
        ]
    }
    assert sqlite["hooks"] == ["fontana_register_storage_backends"]
    assert sqlite["conflicts"] == [] and sqlite["commands"] == []
    postgres = plugins["postgres"]
    assert postgres["distribution"] == "fontana-postgres" and not postgres["builtin"]
    assert [b["name"] for b in postgres["provides"]["storage"]] == ["postgresql"]
    assert plugins["celestia"]["commands"] == ["celestia-devnode"]
    text = run_cli("plugins").stdout
    assert "storage: sqlite (sqlite://) - embedded SQLite file (WAL); the default" in text
    assert "sqlite  [fontana " in text and ", built-in]  loaded" in text


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


BUILTINS = {"sqlite", "python-smt", "python-tx", "local-da", "local-l1", "wsgi", "python-validator"}


def test_only_and_disable_variables_filter_third_party_plugins_only() -> None:
    only = by_name(json.loads(run_cli("plugins", "--json", FONTANA_PLUGINS="postgres").stdout))
    assert set(only) == BUILTINS | {"postgres"}
    builtins_only = by_name(json.loads(run_cli("plugins", "--json", FONTANA_PLUGINS="").stdout))
    assert set(builtins_only) == BUILTINS
    every = by_name(
        json.loads(run_cli("plugins", "--all", "--json", FONTANA_PLUGINS="sqlite").stdout)
    )
    assert every["postgres"]["status"] == "disabled"
    assert every["celestia"]["status"] == "disabled"
    rest = by_name(
        json.loads(run_cli("plugins", "--json", FONTANA_DISABLE_PLUGINS="fontana-postgres").stdout)
    )
    assert "postgres" not in rest and set(rest) >= BUILTINS | {"celestia"}


def test_builtins_cannot_be_disabled_and_saying_so_is_not_silent() -> None:
    installed = set(by_name(json.loads(run_cli("plugins", "--json").stdout)))
    result = run_cli("plugins", "--json", FONTANA_DISABLE_PLUGINS="sqlite,fontana,postgres")
    assert result.returncode == 0, result.stderr
    plugins = by_name(json.loads(result.stdout))
    assert "celestia" in plugins  # the third-party plugins not named stay
    assert set(plugins) == installed - {"postgres"}
    assert all(plugins[name]["status"] == "loaded" for name in BUILTINS)
    assert "cannot disable built-in plugins (fontana, sqlite)" in result.stderr


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


def test_duplicate_backend_name_is_kept_by_the_first_called_and_reported() -> None:
    def one_factory(url: str, settings: object) -> None:
        return None

    class One:
        @staticmethod
        @hookimpl
        def fontana_register_l1_watchers(register: Any) -> None:
            register("same", one_factory)

    class Two:
        @staticmethod
        @hookimpl
        def fontana_register_l1_watchers(register: Any) -> None:
            register("same", lambda url, s: None)

    host = PluginHost()
    host.register(Two(), "two")
    host.register(One(), "one")  # registered last, so pluggy calls it first
    registry = host.backends("l1")
    assert registry.names() == ["same"] and registry.resolve("same").factory is one_factory
    records = {r.name: r for r in host.describe()}
    assert records["one"].status == records["two"].status == "loaded"
    assert records["two"].conflicts == [Conflict("backend", "same", "one", "l1")]
    assert records["one"].conflicts == [] and records["two"].provides == {}


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


# -- conflicts between installed distributions ------------------------------------

FAST_SQLITE = """
import sys
from fontana.hookspecs import hookimpl

def open_fast(url, settings):
    from fontana.storage.sqlite import SQLiteStorage
    print("storage opened by fast-sqlite", file=sys.stderr)
    return SQLiteStorage(url, settings)

@hookimpl({options})
def fontana_register_storage_backends(register):
    register("sqlite", open_fast, schemes=("sqlite",), description="a faster SQLite")
"""


def test_third_party_plugin_overrides_a_builtin_backend_with_tryfirst(tmp_path: Path) -> None:
    root = fake_distribution(
        tmp_path / "dist",
        "fontana-fast-sqlite",
        {"fast": "fontana_fast_sqlite"},
        {"fontana_fast_sqlite": FAST_SQLITE.format(options="tryfirst=True")},
    )
    plugins = by_name(json.loads(run_cli("plugins", "--json", extra_path=root).stdout))
    assert plugins["fast"]["provides"]["storage"][0]["description"] == "a faster SQLite"
    assert plugins["sqlite"]["provides"] == {}
    assert plugins["sqlite"]["conflicts"] == [
        {"kind": "backend", "name": "sqlite", "kept_by": "fast", "family": "storage"}
    ]
    text = run_cli("plugins", extra_path=root).stdout
    assert "conflict: storage backend 'sqlite' kept by fast" in text
    # The override is what a command really opens.
    home = tmp_path / "home"
    result = run_cli("balance", ADDRESS, extra_path=root, FONTANA_HOME=str(home))
    assert "storage opened by fast-sqlite" in result.stderr


def test_third_party_plugin_without_tryfirst_does_not_replace_a_builtin(tmp_path: Path) -> None:
    root = fake_distribution(
        tmp_path / "dist",
        "fontana-fast-sqlite",
        {"fast": "fontana_fast_sqlite"},
        {"fontana_fast_sqlite": FAST_SQLITE.format(options="")},
    )
    plugins = by_name(json.loads(run_cli("plugins", "--json", extra_path=root).stdout))
    assert plugins["fast"]["status"] == "loaded" and plugins["fast"]["provides"] == {}
    assert plugins["fast"]["conflicts"] == [
        {"kind": "backend", "name": "sqlite", "kept_by": "sqlite", "family": "storage"}
    ]
    assert plugins["sqlite"]["conflicts"] == []
    result = run_cli("balance", ADDRESS, extra_path=root, FONTANA_HOME=str(tmp_path / "home"))
    assert "storage opened by fast-sqlite" not in result.stderr


def scheme_plugin(root: Path, distribution: str, backend: str, options: str = "") -> Path:
    module = distribution.replace("-", "_")
    source = (
        "from fontana.hookspecs import hookimpl\n"
        f"@hookimpl({options})\n"
        "def fontana_register_da_backends(register):\n"
        f"    register({backend!r}, lambda url, s, ns: None, schemes=('shared', {backend!r}))\n"
    )
    return fake_distribution(root / distribution, distribution, {backend: module}, {module: source})


def test_scheme_conflict_is_resolved_the_same_whatever_the_discovery_order(
    tmp_path: Path,
) -> None:
    first = scheme_plugin(tmp_path, "fontana-aaa", "zed")
    second = scheme_plugin(tmp_path, "fontana-bbb", "alpha")
    for order in ([first, second], [second, first]):
        plugins = by_name(json.loads(run_cli("plugins", "--json", extra_path=order).stdout))
        # fontana-aaa sorts first, so it is called first and keeps the scheme.
        assert plugins["zed"]["provides"]["da"][0]["schemes"] == ["shared", "zed"]
        assert plugins["alpha"]["provides"]["da"][0]["schemes"] == ["alpha"]
        assert plugins["alpha"]["conflicts"] == [
            {"kind": "scheme", "name": "shared", "kept_by": "zed", "family": "da"}
        ]


def test_trylast_plugins_are_called_in_the_reverse_order(tmp_path: Path) -> None:
    first = scheme_plugin(tmp_path, "fontana-aaa", "zed", "trylast=True")
    second = scheme_plugin(tmp_path, "fontana-bbb", "alpha", "trylast=True")
    for order in ([first, second], [second, first]):
        plugins = by_name(json.loads(run_cli("plugins", "--json", extra_path=order).stdout))
        assert plugins["alpha"]["provides"]["da"][0]["schemes"] == ["shared", "alpha"]
        assert plugins["zed"]["conflicts"] == [
            {"kind": "scheme", "name": "shared", "kept_by": "alpha", "family": "da"}
        ]


def test_two_entry_points_with_one_name_are_reported_and_resolved(tmp_path: Path) -> None:
    source = "from fontana.hookspecs import hookimpl\n"
    roots = [
        fake_distribution(
            tmp_path / d, d, {name: d.replace("-", "_")}, {d.replace("-", "_"): source}
        )
        for d, name in (("fontana-zzz", "dup"), ("fontana-aaa", "dup"), ("fontana-x", "sqlite"))
    ]
    for order in (roots, roots[::-1]):
        result = run_cli("plugins", "--json", extra_path=order)
        records = json.loads(result.stdout)
        dups = {r["distribution"]: r for r in records if r["name"] == "dup"}
        assert dups["fontana-aaa"]["status"] == "loaded"
        assert dups["fontana-zzz"]["status"] == "shadowed"
        assert dups["fontana-zzz"]["conflicts"] == [
            {"kind": "entry point", "name": "dup", "kept_by": "fontana-aaa", "family": None}
        ]
        sqlite = {r["distribution"]: r for r in records if r["name"] == "sqlite"}
        assert sqlite["fontana"]["status"] == "loaded"  # a built-in keeps its name
        assert sqlite["fontana-x"]["status"] == "shadowed"
    text = run_cli("plugins", extra_path=roots).stdout
    assert "dup  [fontana-zzz 0.9]  shadowed" in text
    assert "conflict: entry point 'dup' kept by fontana-aaa" in text


def test_disabling_one_distribution_lets_the_other_keep_the_name(tmp_path: Path) -> None:
    source = "from fontana.hookspecs import hookimpl\n"
    roots = [
        fake_distribution(
            tmp_path / d, d, {"dup": d.replace("-", "_")}, {d.replace("-", "_"): source}
        )
        for d in ("fontana-aaa", "fontana-zzz")
    ]
    result = run_cli("plugins", "--json", extra_path=roots, FONTANA_DISABLE_PLUGINS="fontana-aaa")
    dups = [r for r in json.loads(result.stdout) if r["name"] == "dup"]
    assert [(r["distribution"], r["status"]) for r in dups] == [("fontana-zzz", "loaded")]


COMMANDS_PLUGIN = """
import click
from fontana.hookspecs import hookimpl

@hookimpl
def fontana_register_commands(cli):
    @cli.command("balance")
    def balance():
        click.echo("plugin balance")

    @cli.command("hello")
    def hello():
        click.echo("plugin hello")
"""


def test_plugin_command_named_like_a_core_command_is_refused(tmp_path: Path) -> None:
    root = fake_distribution(
        tmp_path / "dist",
        "fontana-cmds",
        {"cmds": "fontana_cmds"},
        {"fontana_cmds": COMMANDS_PLUGIN},
    )
    assert run_cli("hello", extra_path=root).stdout == "plugin hello\n"
    balance = run_cli("balance", "--help", extra_path=root)
    assert "Spendable balance of ADDRESS" in balance.stdout
    plugins = by_name(json.loads(run_cli("plugins", "--json", extra_path=root).stdout))
    assert plugins["cmds"]["commands"] == ["hello"]
    assert plugins["cmds"]["conflicts"] == [
        {"kind": "command", "name": "balance", "kept_by": "core", "family": None}
    ]
    text = run_cli("plugins", extra_path=root).stdout
    assert "conflict: command 'balance' kept by core" in text

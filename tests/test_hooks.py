"""Every hook in fontana.hookspecs is documented and exercised here (``test_hook_<name>``)."""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner

from fontana import hookspecs
from fontana.config import Settings, load_settings
from fontana.errors import UnknownBackendError
from fontana.hookspecs import hookimpl
from fontana.plugins import PluginRecord, get_host

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
Register = Callable[[object, str], PluginRecord]


def hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("fontana_"))


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_documented(name: str) -> None:
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    assert len(doc.splitlines()) >= 3, f"{name} needs a real docstring"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{name} does not document {param!r}"
    assert ".. versionadded::" in doc
    signature = f"{name}({', '.join(inspect.signature(fn).parameters)})"
    assert signature in DOCS.read_text(), f"docs/plugins.md lacks {signature}"


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_test(name: str) -> None:
    assert callable(getattr(sys.modules[__name__], f"test_hook_{name}", None)), (
        f"add test_hook_{name} to tests/test_hooks.py"
    )


def _resolve_family(family: str, register_plugin: Register, hook: str) -> None:
    made: list[str] = []

    class Plugin:
        pass

    def factory(*args: Any) -> str:
        made.append(f"{family}:{len(args)}")
        return "backend"

    def impl(register: Any) -> None:
        register("thing", factory, schemes=("thing", "thing2"), description="d")

    setattr(Plugin, hook, staticmethod(hookimpl(impl)))
    record = register_plugin(Plugin(), f"test-{family}")
    registry = get_host().backends(family)
    assert registry.resolve("thing").factory is factory
    assert registry.resolve("thing2://host/x").name == "thing"
    assert registry.resolve("thing+driver://host").name == "thing"
    assert registry.resolve("thing").description == "d"
    with pytest.raises(UnknownBackendError, match="available: .*thing"):
        registry.resolve("nope://x")
    get_host().describe()
    assert [(b.name, b.schemes, b.description) for b in record.provides[family]] == [
        ("thing", ("thing", "thing2"), "d")
    ]
    assert hook in record.hooks


def test_hook_fontana_register_storage_backends(register_plugin: Register) -> None:
    _resolve_family("storage", register_plugin, "fontana_register_storage_backends")


def test_hook_fontana_register_da_backends(register_plugin: Register) -> None:
    _resolve_family("da", register_plugin, "fontana_register_da_backends")


def test_hook_fontana_register_l1_watchers(register_plugin: Register) -> None:
    _resolve_family("l1", register_plugin, "fontana_register_l1_watchers")


def test_hook_fontana_register_proof_providers(register_plugin: Register) -> None:
    _resolve_family("proofs", register_plugin, "fontana_register_proof_providers")


def test_hook_fontana_register_charging_adapters(register_plugin: Register) -> None:
    _resolve_family("charging", register_plugin, "fontana_register_charging_adapters")


def test_hook_fontana_register_tx_engines(register_plugin: Register) -> None:
    _resolve_family("tx", register_plugin, "fontana_register_tx_engines")
    assert "python-tx" in get_host().backends("tx").names()


def test_hook_fontana_register_bridge_validators(register_plugin: Register) -> None:
    _resolve_family("validators", register_plugin, "fontana_register_bridge_validators")


@attrs.frozen
class GreeterSettings:
    greeting: str = "hello"
    times: int = 1
    token: str | None = attrs.field(default=None, metadata={"secret": True})


def test_hook_fontana_register_settings(register_plugin: Register, tmp_path: Path) -> None:
    class Plugin:
        @staticmethod
        @hookimpl
        def fontana_register_settings(register: Any) -> None:
            register("greeter", GreeterSettings)

    register_plugin(Plugin(), "greeter")
    (tmp_path / "fontana.toml").write_text('[greeter]\ngreeting = "hi"\n')
    env = {
        "FONTANA_HOME": str(tmp_path),
        "FONTANA_GREETER_TIMES": "3",
        "FONTANA_GREETER_TOKEN": "s",
    }
    settings: Settings = load_settings(environ=env, cwd=tmp_path)
    assert settings.section("greeter") == GreeterSettings("hi", 3, "s")
    assert settings.sources["greeter.times"] == "env FONTANA_GREETER_TIMES"
    assert ("greeter.token", "s", True) in settings.items()


def test_hook_fontana_register_commands(register_plugin: Register) -> None:
    class Plugin:
        @staticmethod
        @hookimpl
        def fontana_register_commands(cli: click.Group) -> None:
            @cli.command("hello-test")
            def hello() -> None:
                click.echo("hello from a plugin")

    register_plugin(Plugin(), "commands")
    group = click.Group()
    get_host().add_commands(group)
    result = CliRunner().invoke(group, ["hello-test"])
    assert result.output == "hello from a plugin\n"


def test_docs_list_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### (fontana_\w+)\(", DOCS.read_text(), re.M))
    assert documented == set(hook_names())

"""How the host calls hooks: pluggy's order and wrappers, failures isolated per plugin,
and first-claim-wins for backend names, schemes, config sections and commands."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner

from fontana.errors import PluginError, UnknownBackendError
from fontana.hookspecs import hookimpl
from fontana.plugins import BackendRegistrar, BackendSpec, Conflict, PluginHost


def factory(label: str) -> Callable[..., str]:
    def make(*args: Any) -> str:
        return label

    make.__name__ = f"open_{label}"
    return make


def da_plugin(name: str, schemes: tuple[str, ...] = (), **options: bool) -> object:
    """A plugin object registering one DA backend ``name`` with hookimpl ``options``."""

    class Plugin:
        @staticmethod
        @hookimpl(**options)
        def fontana_register_da_backends(register: Any) -> None:
            register(name, factory(name), schemes=schemes)

    return Plugin()


def test_tryfirst_beats_later_registration_and_trylast_loses_to_everyone() -> None:
    host = PluginHost()
    host.register(da_plugin("x", ("x",), tryfirst=True), "first")
    host.register(da_plugin("x", ("x",), trylast=True), "last")
    host.register(da_plugin("x", ("x",)), "plain")
    registry = host.backends("da")
    assert registry.resolve("x://y").plugin == "first"
    records = {r.name: r for r in host.describe()}
    assert records["plain"].conflicts == [Conflict("backend", "x", "first", "da")]
    assert records["last"].conflicts == [Conflict("backend", "x", "first", "da")]


def test_plain_implementations_are_called_last_registered_first() -> None:
    host = PluginHost()
    host.register(da_plugin("x"), "early")
    host.register(da_plugin("x"), "late")
    assert host.backends("da").resolve("x").plugin == "late"


def test_a_lost_scheme_leaves_the_backend_its_name_and_other_schemes() -> None:
    host = PluginHost()
    host.register(da_plugin("b", ("shared", "b")), "b")
    host.register(da_plugin("a", ("shared", "a")), "a")
    registry = host.backends("da")
    assert registry.resolve("shared://h").name == "a"
    assert registry.resolve("b://h").name == "b" and registry.resolve("b").schemes == ("b",)
    records = {r.name: r for r in host.describe()}
    assert records["b"].conflicts == [Conflict("scheme", "shared", "a", "da")]
    assert [i.schemes for i in records["b"].provides["da"]] == [("b",)]


def test_schemes_are_compared_case_insensitively() -> None:
    host = PluginHost()
    host.register(da_plugin("upper", ("MyDA",)), "upper")
    assert host.backends("da").resolve("mYdA://host").name == "upper"


def test_a_non_ascii_look_alike_never_folds_into_a_scheme() -> None:
    host = PluginHost()
    host.register(da_plugin("key", ("key",)), "key")
    with pytest.raises(UnknownBackendError):
        host.backends("da").resolve("\u212aey://host")  # KELVIN SIGN lower-cases to "k"


class Instrument:
    """A wrapper plugin: sees every DA backend and swaps the ``inner`` one's factory."""

    seen_before: tuple[str, ...] = ()
    seen_after: tuple[str, ...] = ()

    @classmethod
    @hookimpl(wrapper=True)
    def fontana_register_da_backends(
        cls, register: BackendRegistrar[Any]
    ) -> Generator[None, None, None]:
        cls.seen_before = tuple(s.name for s in register.specs)
        result = yield
        cls.seen_after = tuple(s.name for s in register.specs)
        inner = next(s for s in register.specs if s.name == "inner")
        register.replace("inner", lambda *args: ("traced", inner.factory(*args)))
        return result


def test_a_wrapper_observes_and_changes_a_registration() -> None:
    host = PluginHost()
    host.register(Instrument, "instrument")
    host.register(da_plugin("inner", ("inner",)), "inner")
    spec: BackendSpec[Any] = host.backends("da").resolve("inner://h")
    assert Instrument.seen_before == () and Instrument.seen_after == ("inner",)
    assert spec.plugin == "inner" and spec.wrapped_by == ("instrument",)
    assert spec.factory("inner://h", None, b"ns") == ("traced", "inner")
    records = {r.name: r for r in host.describe()}
    assert records["inner"].provides["da"][0].wrapped_by == ("instrument",)
    assert records["instrument"].status == "loaded"


def test_an_old_style_hookwrapper_runs_too() -> None:
    seen: list[str] = []

    class Old:
        @staticmethod
        @hookimpl(hookwrapper=True)
        def fontana_register_da_backends(register: BackendRegistrar[Any]) -> Any:
            yield
            seen.extend(s.name for s in register.specs)

    host = PluginHost()
    host.register(Old(), "old")
    host.register(da_plugin("inner"), "inner")
    assert host.backends("da").names() == ["inner"] and seen == ["inner"]


@pytest.mark.parametrize("where", ["before", "after", "twice", "never"])
def test_a_failing_wrapper_is_isolated_and_its_claims_dropped(where: str) -> None:
    class Broken:
        @staticmethod
        @hookimpl(wrapper=True)
        def fontana_register_da_backends(register: Any) -> Generator[None, None, None]:
            register("from-wrapper", factory("w"))
            if where == "before":
                raise RuntimeError("broken before")
            if where == "never":
                return
            yield
            if where == "twice":
                yield
            raise RuntimeError("broken after")

    host = PluginHost()
    host.register(Broken(), "broken")
    host.register(da_plugin("inner"), "inner")
    assert host.backends("da").names() == ["inner"]
    record = host.records["broken"]
    assert record.status == "failed"
    expected = {
        "before": "broken before",
        "after": "broken after",
        "twice": "yielded more than once",
        "never": "StopIteration",
    }[where]
    assert expected in (record.error or "")


def test_a_wrapper_that_is_not_a_generator_is_refused() -> None:
    class NotGenerator:
        @staticmethod
        @hookimpl(wrapper=True)
        def fontana_register_da_backends(register: Any) -> None:
            register("x", factory("x"))

    record = PluginHost().register(NotGenerator(), "bad")
    assert record.status == "failed" and "must yield once" in (record.error or "")


def test_a_failing_plugin_does_not_stop_the_ones_called_after_it() -> None:
    class Bad:
        @staticmethod
        @hookimpl(tryfirst=True)
        def fontana_register_da_backends(register: Any) -> None:
            register("bad-half", factory("half"), schemes=("good",))
            raise ValueError("broken halfway")

    host = PluginHost()
    host.register(Bad(), "bad")
    host.register(da_plugin("good", ("good",)), "good")
    registry = host.backends("da")
    # The failed plugin's claim on the scheme was dropped, so nobody lost it to it.
    assert registry.names() == ["good"] and registry.resolve("good://h").name == "good"
    records = {r.name: r for r in host.describe()}
    assert records["good"].conflicts == []
    assert records["bad"].status == "failed" and "broken halfway" in (records["bad"].error or "")


def test_strict_mode_reraises_a_wrapper_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @staticmethod
        @hookimpl(wrapper=True)
        def fontana_register_da_backends(register: Any) -> Generator[None, None, None]:
            yield
            raise RuntimeError("broken after")

    monkeypatch.setenv("FONTANA_STRICT_PLUGINS", "1")
    host = PluginHost()
    host.register(Broken(), "broken")
    with pytest.raises(PluginError, match="broken after"):
        host.backends("da")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", factory("x")), {}, "non-empty text"),
        (("x", "not callable"), {}, "not callable"),
        (("x", factory("x")), {"schemes": "xyz"}, "sequence of URL schemes"),
        (("x", factory("x")), {"schemes": ("",)}, "sequence of URL schemes"),
        (("x", factory("x")), {"schemes": ("\u212aey",)}, "sequence of URL schemes"),  # KELVIN
        (("x", factory("x")), {"schemes": ("1x",)}, "sequence of URL schemes"),
        (("x", factory("x")), {"description": 3}, "description must be text"),
    ],
)
def test_bad_registrations_fail_the_plugin(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    class Bad:
        @staticmethod
        @hookimpl
        def fontana_register_da_backends(register: Any) -> None:
            register(*args, **kwargs)

    host = PluginHost()
    host.register(Bad(), "bad")
    assert host.backends("da").names() == []
    assert message in (host.records["bad"].error or "")


def test_register_called_after_its_hook_is_an_error() -> None:
    kept: list[Any] = []

    class Keeper:
        @staticmethod
        @hookimpl
        def fontana_register_da_backends(register: Any) -> None:
            kept.append(register)

    host = PluginHost()
    host.register(Keeper(), "keeper")
    host.backends("da")
    with pytest.raises(PluginError, match="after its hook returned"):
        kept[0]("late", factory("late"))


def test_in_process_plugin_names_are_unique() -> None:
    host = PluginHost()
    host.register(da_plugin("x"), "same")
    with pytest.raises(PluginError, match="already registered"):
        host.register(da_plugin("y"), "same")


@attrs.frozen
class SectionSettings:
    level: int = 1


def settings_plugin(*sections: str) -> object:
    class Plugin:
        @staticmethod
        @hookimpl
        def fontana_register_settings(register: Any) -> None:
            for section in sections:
                register(section, SectionSettings)

    return Plugin()


def test_config_sections_core_names_stay_the_core_and_first_claim_wins() -> None:
    host = PluginHost()
    host.register(settings_plugin("shared"), "second")
    host.register(settings_plugin("storage", "shared", "mine"), "first")
    assert host.settings_sections() == {"shared": SectionSettings, "mine": SectionSettings}
    records = {r.name: r for r in host.describe()}
    assert records["first"].conflicts == [Conflict("settings section", "storage", "core")]
    assert records["second"].conflicts == [Conflict("settings section", "shared", "first")]


@pytest.mark.parametrize("section", ["", "Upper", "with-dash", "1st"])
def test_config_section_names_must_be_settable_from_the_environment(section: str) -> None:
    host = PluginHost()
    host.register(settings_plugin(section), "bad")
    assert host.settings_sections() == {}
    assert "lower-case letters" in (host.records["bad"].error or "")


def commands_plugin(*names: str) -> object:
    class Plugin:
        @staticmethod
        @hookimpl
        def fontana_register_commands(cli: click.Group) -> None:
            for name in names:
                cli.add_command(click.Command(name, callback=lambda n=name: click.echo(n)))

    return Plugin()


def test_commands_core_names_stay_the_core_and_first_claim_wins() -> None:
    core = click.Group("fontana")

    @core.command("balance")
    def balance() -> None:
        click.echo("core balance")

    host = PluginHost()
    host.register(commands_plugin("shared"), "second")
    host.register(commands_plugin("balance", "shared", "mine"), "first")
    host.add_commands(core)
    runner = CliRunner()
    assert runner.invoke(core, ["balance"]).output == "core balance\n"
    assert runner.invoke(core, ["shared"]).output == "shared\n"
    records = {r.name: r for r in host.describe()}
    assert records["first"].commands == ["shared", "mine"]
    assert records["first"].conflicts == [Conflict("command", "balance", "core")]
    assert records["second"].commands == []
    assert records["second"].conflicts == [Conflict("command", "shared", "first")]


def test_a_failing_commands_hook_adds_none_of_its_commands() -> None:
    class Half:
        @staticmethod
        @hookimpl
        def fontana_register_commands(cli: click.Group) -> None:
            cli.add_command(click.Command("half"))
            raise RuntimeError("broken halfway")

    host = PluginHost()
    host.register(Half(), "half")
    group = click.Group()
    host.add_commands(group)
    assert group.commands == {} and host.records["half"].status == "failed"

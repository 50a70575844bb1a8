"""The Django plugin's set-up: its entry point, ``settings.FONTANA``, the app, prices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from fontana_django import charge, runtime
from fontana_django.conf import fontana_settings
from fontana_django.plugin import DjangoAdapter

from fontana.config import load_settings
from fontana.errors import AmountError, ConfigError
from fontana.plugins import get_host
from fontana.testing.charging import isolate, no_fontana_env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer config: no FONTANA_* variables, an empty working directory and home."""
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("FONTANA_HOME", str(tmp_path / "home"))
    return tmp_path


def test_fontana_plugins_lists_the_django_charging_adapter() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fontana", "plugins", "--json"],
        capture_output=True, text=True, env=no_fontana_env(), timeout=60, check=True,
    )  # fmt: skip
    [record] = [r for r in json.loads(result.stdout) if r["name"] == "django"]
    assert record["distribution"] == "fontana-django" and record["status"] == "loaded"
    assert [b["name"] for b in record["provides"]["charging"]] == ["django"]


def test_the_fontana_command_does_not_import_django() -> None:
    code = (
        "import sys\n"
        "from fontana.plugins import get_host\n"
        "get_host().describe()\n"
        "print('django' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=no_fontana_env(),
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_the_adapter_factory_gives_the_django_adapter(clean_env: Path) -> None:
    adapter = get_host().backends("charging").resolve("django").factory(load_settings())
    assert isinstance(adapter, DjangoAdapter) and adapter.framework == "django"
    assert callable(adapter.charge(utia=5))


# -- settings.FONTANA -----------------------------------------------------------


def test_fontana_setting_overrides_the_environment_and_says_so(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FONTANA_STORAGE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("FONTANA_STORAGE_POOL_SIZE", "7")
    config = {"STORAGE_URL": "sqlite:///from-django.db", "STORAGE_LOCK_TIMEOUT_MS": 1234}
    with override_settings(FONTANA=config):
        settings = fontana_settings()
    assert settings.storage.url == "sqlite:///from-django.db"
    assert settings.storage.lock_timeout_ms == 1234
    assert settings.storage.pool_size == 7
    assert settings.sources["storage.url"] == "Django settings FONTANA['STORAGE_URL']"
    assert settings.sources["storage.pool_size"] == "env FONTANA_STORAGE_POOL_SIZE"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"STORAGE_ULR": "sqlite:///x.db"}, r"unknown Fontana setting\(s\): .*'STORAGE_ULR'"),
        ({"storage_url": "sqlite:///x.db"}, "setting names like STORAGE_URL"),
        ({("STORAGE", "URL"): "x"}, "setting names like STORAGE_URL"),
        ({"STORAGE_POOL_SIZE": 0}, r"pool_size = '0' \(from Django settings FONTANA\['STORAGE_"),
        ({"PLUGINS": "django"}, "only works as an environment variable"),
        (["STORAGE_URL"], "must be a dict"),
    ],
)
def test_bad_fontana_setting_is_a_config_error(
    clean_env: Path, config: object, message: str
) -> None:
    with override_settings(FONTANA=config), pytest.raises(ConfigError, match=message):
        fontana_settings()


def test_the_app_refuses_to_start_on_bad_settings(clean_env: Path) -> None:
    app = apps.get_app_config("fontana")
    with (
        override_settings(FONTANA={"STORAGE_POOL_SIZE": 0}),
        pytest.raises(ImproperlyConfigured, match="Fontana: storage.pool_size"),
    ):
        app.ready()
    app.ready()


def test_changing_the_setting_drops_the_charger(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    class Built:
        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(runtime._process, "_built", Built())
    monkeypatch.setattr(runtime._process, "_pid", os.getpid())
    with override_settings(FONTANA={"STORAGE_POOL_SIZE": 3}):
        assert runtime._process._built is None
    assert closed == [True]


# -- the decorator ----------------------------------------------------------------


def test_async_views_are_refused_when_decorated() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    with pytest.raises(TypeError, match="async"):
        charge(utia=10)(view)


@pytest.mark.parametrize("utia", [0, -1, True, 1.5, "1500", 2**64])
def test_fixed_price_is_a_positive_integer_of_utia(utia: object) -> None:
    with pytest.raises(AmountError):
        charge(utia=utia)  # type: ignore[arg-type]


def test_exactly_one_price_is_given() -> None:
    with pytest.raises(TypeError, match="exactly one"):
        charge()
    with pytest.raises(TypeError, match="exactly one"):
        charge(utia=1, price=lambda r: 1)

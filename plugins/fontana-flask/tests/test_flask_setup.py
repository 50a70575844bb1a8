"""The Flask plugin's set-up: its entry point, settings from app config, prices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from fontana_flask import Fontana, charge
from fontana_flask.plugin import FlaskAdapter
from fontana_flask.settings import settings_from_config

from fontana.config import load_settings
from fontana.errors import AmountError, ConfigError
from fontana.payments.prices import price_function
from fontana.plugins import get_host
from fontana.testing.charging import isolate, no_fontana_env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer config: no FONTANA_* variables, an empty working directory and home."""
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("FONTANA_HOME", str(tmp_path / "home"))
    return tmp_path


def test_fontana_plugins_lists_the_flask_charging_adapter() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fontana", "plugins", "--json"],
        capture_output=True, text=True, env=no_fontana_env(), timeout=60, check=True,
    )  # fmt: skip
    [record] = [r for r in json.loads(result.stdout) if r["name"] == "flask"]
    assert record["distribution"] == "fontana-flask" and record["status"] == "loaded"
    assert [b["name"] for b in record["provides"]["charging"]] == ["flask"]
    assert record["hooks"] == ["fontana_register_charging_adapters"]


def test_the_fontana_command_does_not_import_flask() -> None:
    code = (
        "import sys\n"
        "from fontana.plugins import get_host\n"
        "get_host().describe()\n"
        "print('flask' in sys.modules, 'werkzeug' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=no_fontana_env(),
        check=True,
    )
    assert out.stdout.split() == ["False", "False"]


def test_the_adapter_factory_gives_the_flask_adapter(clean_env: Path) -> None:
    factory = get_host().backends("charging").resolve("flask").factory
    adapter = factory(load_settings())
    assert isinstance(adapter, FlaskAdapter) and adapter.framework == "flask"
    assert callable(adapter.charge(utia=5))
    with pytest.raises(TypeError):
        adapter.charge(utia=5, surprise=True)  # type: ignore[call-arg]


# -- settings -------------------------------------------------------------------


def test_app_config_overrides_the_environment_and_says_so(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FONTANA_STORAGE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("FONTANA_STORAGE_POOL_SIZE", "7")
    settings = settings_from_config(
        {"FONTANA_STORAGE_URL": "sqlite:///from-app.db", "FONTANA_STORAGE_LOCK_TIMEOUT_MS": 1234}
    )
    assert settings.storage.url == "sqlite:///from-app.db"
    assert settings.storage.lock_timeout_ms == 1234
    assert settings.storage.pool_size == 7
    assert settings.sources["storage.url"] == "Flask config FONTANA_STORAGE_URL"
    assert settings.sources["storage.pool_size"] == "env FONTANA_STORAGE_POOL_SIZE"


def test_unknown_key_in_app_config_is_an_error(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="FONTANA_STORAGE_ULR"):
        settings_from_config({"FONTANA_STORAGE_ULR": "sqlite:///x.db"})


def test_bad_value_in_app_config_names_the_app_config(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"storage.pool_size = '0' \(from Flask config"):
        settings_from_config({"FONTANA_STORAGE_POOL_SIZE": 0})


def test_plugin_loading_variables_are_refused_in_app_config(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="only works as an environment variable"):
        settings_from_config({"FONTANA_PLUGINS": "flask"})


def test_ready_settings_are_used_as_they_are(clean_env: Path) -> None:
    ready = load_settings()
    assert settings_from_config({"FONTANA_SETTINGS": ready, "FONTANA_NOT_A_KEY": 1}) is ready
    with pytest.raises(ConfigError, match="must be a fontana.config.Settings"):
        settings_from_config({"FONTANA_SETTINGS": {"storage": "x"}})


def test_init_app_checks_the_config_at_once(clean_env: Path) -> None:
    app = Flask("bad")
    app.config["FONTANA_STORAGE_POOL_SIZE"] = -1
    with pytest.raises(ConfigError):
        Fontana(app)


def test_paid_view_of_an_app_without_the_extension_is_a_config_error() -> None:
    app = Flask("bare")

    @app.get("/")
    @charge(utia=10)
    def view() -> str:
        return "free?"

    app.testing = True
    with pytest.raises(ConfigError, match="call Fontana"):
        app.test_client().get("/")


# -- prices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utia", "price"),
    [(None, None), (10, lambda r: 10)],
)
def test_exactly_one_price_is_given(utia: int | None, price: object) -> None:
    with pytest.raises(TypeError, match="exactly one"):
        price_function(utia, price)  # type: ignore[arg-type]


@pytest.mark.parametrize("utia", [0, -1, True, 1.5, "1500", 2**64])
def test_fixed_price_is_a_positive_integer_of_utia(utia: object) -> None:
    with pytest.raises(AmountError):
        charge(utia=utia)  # type: ignore[arg-type]


def test_price_must_be_callable() -> None:
    with pytest.raises(TypeError, match="function of the request"):
        charge(price=1500)  # type: ignore[arg-type]

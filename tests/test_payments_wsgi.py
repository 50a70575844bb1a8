"""The built-in ``wsgi`` charging adapter: request targets, bodies, the plugin and ``[charge]``.

The WSGI wrapper runs in-process here, on a real ledger, with environs as a
server builds them; ``test_payments_flow.py`` runs it behind a real server.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from ledger_helpers import ALICE, Clock, genesis_outpoint, settings_for, snapshot
from nacl.signing import SigningKey
from payments_helpers import payment, payment_header

from fontana.config import load_settings
from fontana.errors import AmountError, ConfigError, WrongPassphraseError
from fontana.interfaces import ChargingAdapter
from fontana.ledger import Ledger
from fontana.models.payment import request_hash
from fontana.payments.backends import LedgerBackend
from fontana.payments.charger import Charger
from fontana.payments.wsgi import (
    ECHO_PRICE,
    WSGIAdapter,
    charge,
    example_app,
    request_target,
)
from fontana.payments.x402 import (
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    decode_payment_required,
    decode_payment_response,
)
from fontana.plugins import get_host
from fontana.wallet import create_key

PROVIDER = SigningKey(bytes([9]) * 32)


@pytest.fixture
def charger(ledger: Ledger, clock: Clock) -> Iterator[Charger]:
    made = Charger(LedgerBackend(ledger), PROVIDER, clock=clock)
    yield made
    made.close()


def environ(
    path: str = "/v1/echo",
    *,
    method: str = "GET",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "api.example",
        "SERVER_PORT": "8080",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)) if body else "",
    }
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    env.update(extra)
    return env


class Answer:
    def __init__(self, app: Any, env: dict[str, Any]) -> None:
        self.headers: dict[str, str] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            self.status = status
            self.headers = dict(headers)
            return lambda data: None

        self.body = b"".join(app(env, start_response))

    @property
    def code(self) -> int:
        return int(self.status[:3])

    def json(self) -> Any:
        return json.loads(self.body)


def paid_environ(charger: Charger, app: Any, **kwargs: Any) -> dict[str, Any]:
    """The environ of ``kwargs`` with a payment for the price the app asks."""
    challenge = Answer(app, environ(**kwargs))
    assert challenge.code == 402, challenge.body
    (accept,) = decode_payment_required(challenge.headers[PAYMENT_REQUIRED]).accepts
    tx = payment(
        accept, [(genesis_outpoint(0), 1_000_000)], ALICE, expiry_ms=charger.clock() + 30_000
    )
    headers = {**kwargs.pop("headers", {}), "PAYMENT-SIGNATURE": payment_header(accept, tx)}
    return environ(**kwargs, headers=headers)


# --- the request target a payment is bound to ----------------------------------------


@pytest.mark.parametrize(
    ("script", "path", "query", "target"),
    [
        ("", "/v1/echo", "", "/v1/echo"),
        ("", "", "", "/"),
        ("/api", "/v1/echo", "a=1&b=2", "/api/v1/echo?a=1&b=2"),
        ("", "/a b", "q=a%20b", "/a%20b?q=a%20b"),
        ("", "/caf\xc3\xa9", "", "/caf%C3%A9"),  # PEP 3333: bytes as latin-1
        ("", "/100%", "", "/100%25"),
        ("", "/x\n", "y=\x01", "/x%0A?y=%01"),
        ("", "/a/./b;p=1", "x=/?", "/a/./b;p=1?x=/?"),
    ],
)
def test_the_request_target_has_one_normal_form(
    script: str, path: str, query: str, target: str
) -> None:
    env = environ(path, query=query, SCRIPT_NAME=script)
    assert request_target(env) == target


# --- the wrapper ------------------------------------------------------------------------


def test_the_app_reads_the_body_the_receipt_names(charger: Charger, ledger: Ledger) -> None:
    app = example_app(charger)
    body = b'{"hello": "fontana"}'
    answer = Answer(app, paid_environ(charger, app, method="POST", body=body))
    assert answer.code == 200, answer.body
    assert answer.json() == {"method": "POST", "query": "", "body": body.decode()}
    receipt = decode_payment_response(answer.headers[PAYMENT_RESPONSE]).receipt
    assert receipt is not None
    assert receipt.receipt.request_hash == request_hash("POST", "/v1/echo", body)
    assert receipt.receipt.amount == ECHO_PRICE


def test_a_body_without_length_is_read_to_its_end_when_the_server_says_so(
    charger: Charger,
) -> None:
    app = example_app(charger)
    env = paid_environ(charger, app, method="POST")
    env["wsgi.input"] = io.BytesIO(b"streamed")
    env["wsgi.input_terminated"] = True
    answer = Answer(app, env)
    receipt = decode_payment_response(answer.headers[PAYMENT_RESPONSE]).receipt
    assert receipt is not None
    assert receipt.receipt.request_hash == request_hash("POST", "/v1/echo", b"streamed")


def test_body_problems_are_refused_and_change_nothing(charger: Charger, ledger: Ledger) -> None:
    app = example_app(charger)
    before = snapshot(ledger)
    env = paid_environ(charger, app, method="POST", body=b"0123456789")
    env["wsgi.input"] = io.BytesIO(b"012")  # the client sent less than it declared
    short = Answer(app, env)
    assert short.code == 400 and short.json()["error"] == "malformed"
    env = paid_environ(charger, app, method="POST", body=b"x")
    env["CONTENT_LENGTH"] = "1e3"
    assert Answer(app, env).json()["error"] == "malformed"
    env = paid_environ(charger, app, method="POST", body=b"x")
    env["CONTENT_LENGTH"] = str(2 << 20)
    too_big = Answer(app, env)
    assert too_big.code == 413 and too_big.json()["error"] == "body_too_large"
    env = paid_environ(charger, app, method="POST")
    env["wsgi.input"] = io.BytesIO(b"x" * ((1 << 20) + 1))
    env["wsgi.input_terminated"] = True
    assert Answer(app, env).json()["error"] == "malformed"
    assert snapshot(ledger) == before


def test_the_views_headers_are_kept_and_payment_response_added(charger: Charger) -> None:
    def view(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        write = start_response(
            "201 Created",
            [("Content-Type", "text/plain"), ("X-Kept", "yes"), ("PAYMENT-RESPONSE", "forged")],
        )
        write(b"written, ")
        return iter([b"then ", b"returned"])

    app = charge(charger, 700)(view)
    answer = Answer(app, paid_environ(charger, app))
    assert answer.code == 201 and answer.body == b"written, then returned"
    assert answer.headers["X-Kept"] == "yes"
    assert decode_payment_response(answer.headers[PAYMENT_RESPONSE]).success


def test_an_error_page_replaces_the_first_start_response(charger: Charger) -> None:
    def view(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"error page"]

    app = charge(charger, 700)(view)
    answer = Answer(app, paid_environ(charger, app))
    assert answer.code == 500
    assert not decode_payment_response(answer.headers[PAYMENT_RESPONSE]).success


def test_an_app_that_never_starts_a_response_is_not_charged(
    charger: Charger, ledger: Ledger
) -> None:
    app = charge(charger, 700)(lambda environ, start_response: [b"no status"])
    env = paid_environ(charger, app)
    before = snapshot(ledger)
    with pytest.raises(RuntimeError, match="start_response"):
        Answer(app, env)
    assert snapshot(ledger) == before


def test_charge_takes_one_price(charger: Charger) -> None:
    for kwargs in ({}, {"utia": 5, "price": lambda env: 5}):
        with pytest.raises(TypeError):
            charge(charger, **kwargs)


@pytest.mark.parametrize("utia", [0, -1, True, 1.5, "1500", 2**64])
def test_a_fixed_price_is_checked_when_the_app_is_wrapped(charger: Charger, utia: object) -> None:
    """As in the Flask and Django adapters: at start-up, not on the first paid call."""
    with pytest.raises(AmountError):
        charge(charger, utia=utia)  # type: ignore[arg-type]


# --- the plugin, [charge] and from_settings -----------------------------------------------


@pytest.fixture
def provider_settings(ledger: Ledger, tmp_path: Path) -> Any:
    home = tmp_path / "provider"
    home.mkdir()
    create_key(home, "shop", passphrase="open sesame")
    env = {
        "FONTANA_HOME": str(home),
        "FONTANA_STORAGE_URL": ledger.storage.url,
        "FONTANA_CHARGE_KEY_NAME": "shop",
        "FONTANA_WALLET_PASSPHRASE": "open sesame",
        "FONTANA_CHARGE_MAX_TIMEOUT_S": "30",
        "FONTANA_CHARGE_CACHE_MAX_BYTES": "0",
        "FONTANA_CHARGE_PUBLIC_NODE_URL": "http://node.example:26657",
    }
    return load_settings(environ=env, cwd=home)


def test_the_wsgi_adapter_is_a_built_in_charging_adapter(
    provider_settings: Any, charger: Charger
) -> None:
    spec = get_host().backends("charging").resolve("wsgi")
    adapter = spec.factory(provider_settings)
    assert isinstance(adapter, ChargingAdapter) and adapter.framework == "wsgi"
    assert isinstance(adapter, WSGIAdapter)
    app = adapter.example_app(charger)
    assert Answer(app, environ("/")).json()["provider"] == charger.pay_to
    paid = adapter.charge(700, charger=charger)(example_app(charger))
    assert Answer(paid, environ("/")).code == 402
    own = adapter.charger()
    try:
        assert own is adapter.charger()
        assert own.max_timeout_s == 30 and own.cache_max_bytes == 0
        assert own.node_url == "http://node.example:26657"
        wrapped = adapter.charge(price=lambda env: 42)(example_app(charger))
        challenge = Answer(wrapped, environ("/"))
        (accept,) = decode_payment_required(challenge.headers[PAYMENT_REQUIRED]).accepts
        assert accept.amount == 42 and accept.pay_to == own.pay_to
    finally:
        own.close()


def test_fontana_plugins_lists_the_wsgi_adapter() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    result = subprocess.run(
        [sys.executable, "-m", "fontana", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "charging: wsgi" in result.stdout


def test_charge_settings_defaults_sources_and_limits(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "home")
    charge_settings = settings.charge
    assert (charge_settings.key_name, charge_settings.max_timeout_s) == ("default", 60)
    assert (charge_settings.min_window_ms, charge_settings.cache_max_bytes) == (5_000, 65_536)
    assert (charge_settings.node_url, charge_settings.batch_ms) == ("", 0)
    assert settings.section("charge") is charge_settings
    (tmp_path / "home" / "fontana.toml").write_text("[charge]\nbatch_ms = 2\n")
    env = {"FONTANA_HOME": str(tmp_path / "home"), "FONTANA_CHARGE_MIN_WINDOW_MS": "100"}
    loaded = load_settings(environ=env, cwd=tmp_path / "home")
    assert (loaded.charge.batch_ms, loaded.charge.min_window_ms) == (2, 100)
    assert loaded.sources["charge.min_window_ms"] == "env FONTANA_CHARGE_MIN_WINDOW_MS"
    for key, value in (
        ("MAX_TIMEOUT_S", "0"),
        ("MAX_TIMEOUT_S", "86401"),
        ("MIN_WINDOW_MS", "-1"),
        ("CACHE_MAX_BYTES", "-1"),
        ("BATCH_MS", "2147483648"),
    ):
        with pytest.raises(ConfigError, match=f"charge.{key.lower()}"):
            load_settings(environ={**env, f"FONTANA_CHARGE_{key}": value}, cwd=tmp_path / "home")


def test_from_settings_needs_the_key_and_a_window_that_fits(
    provider_settings: Any, ledger: Ledger
) -> None:
    charger = Charger.from_settings(provider_settings)
    try:
        assert charger.backend.genesis == ledger.genesis
        assert charger.pay_to != ""
    finally:
        charger.close()
    locked = attrs.evolve(
        provider_settings, wallet=attrs.evolve(provider_settings.wallet, passphrase="no")
    )
    with pytest.raises(WrongPassphraseError):
        Charger.from_settings(locked)
    narrow = attrs.evolve(
        provider_settings,
        charge=attrs.evolve(provider_settings.charge, max_timeout_s=5, min_window_ms=5_000),
    )
    with pytest.raises(ConfigError, match="min_window_ms"):
        Charger.from_settings(narrow)

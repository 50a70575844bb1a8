"""examples/composed_provider runs as its README says: its view pays examples/flask_provider.

Two gunicorn servers on one ledger, ``fontana call`` paying the composed one;
afterwards every key's balance must be exactly what the paid call moved, and
the failed calls (the upstream refusing, or not answering) must have moved
nothing, neither the consumer's money nor the payer's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fontana.config import load_settings
from fontana.errors import ConfigError
from fontana.ledger import Ledger, open_ledger
from fontana.models import SignedReceipt
from fontana.models.payment import verify_receipt
from fontana.testing.charging import run_readme_example, start_servers, stop_servers
from fontana.wallet import key_info

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
COMPOSED = EXAMPLES / "composed_provider"
CONSUMER_FUNDS = 10_000_000  # --alloc consumer=10tia
PAYER_FUNDS = 1_000_000  # --alloc payer=1tia
OUTFIT_PRICE = 2500
WEATHER_PRICE = 1500
FEE = 1


@contextmanager
def ledger_at(home: Path) -> Iterator[Ledger]:
    """The ledger of a ``FONTANA_HOME``, read after its servers stopped."""
    ledger = open_ledger(load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home))
    try:
        yield ledger
    finally:
        ledger.storage.close()


def balances(home: Path) -> dict[str, int]:
    keys = ("consumer", "payer", "outfitter", "weather")
    with ledger_at(home) as ledger:
        return {key: ledger.balance(key_info(home, key).public_key) for key in keys}


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    result = run_readme_example(
        COMPOSED, tmp_path, [8000, 8002], beside=[EXAMPLES / "flask_provider"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    answer, refusal, status, consumer_line, payer_line = result.stdout.splitlines()
    outfit = json.loads(answer)
    assert outfit["city"] == "lisbon" and outfit["weather"]["city"] == "lisbon"
    assert outfit["wear"].startswith(("a coat", "a sweater", "a t-shirt"))
    assert json.loads(refusal)["error"] == "upstream_failed"
    assert status == "exit status 1"
    home = tmp_path / "examples" / "composed_provider" / ".fontana"
    outfitter = key_info(home, "outfitter").address
    assert (
        f"paid 0.0025 TIA (2500 utia) to {outfitter} for GET /outfit?city=lisbon" in result.stderr
    )
    assert "HTTP 502: not charged" in result.stderr
    # The forecast's receipt: the upstream's, for the payer's payment, and it verifies offline.
    inner = SignedReceipt.from_json(outfit["upstream_receipt"])
    with ledger_at(home) as ledger:
        verify_receipt(inner, ledger.genesis_hash)
        assert ledger.transaction_status(inner.receipt.txid).state == "pending"
    r = inner.receipt
    assert (r.payer, r.payee) == (
        key_info(home, "payer").public_key,
        key_info(home, "weather").public_key,
    )
    assert (r.amount, r.method, r.resource) == (WEATHER_PRICE, "GET", "/weather?city=lisbon")
    # One paid call moved money, once; the refused one moved nothing.
    assert balances(home) == {
        "consumer": CONSUMER_FUNDS - OUTFIT_PRICE - FEE,
        "payer": PAYER_FUNDS - WEATHER_PRICE - FEE,
        "outfitter": OUTFIT_PRICE,
        "weather": WEATHER_PRICE,
    }
    assert consumer_line.endswith(f"({CONSUMER_FUNDS - OUTFIT_PRICE - FEE} utia)")
    assert payer_line.endswith(f"({PAYER_FUNDS - WEATHER_PRICE - FEE} utia)")


def environment(home: Path, **extra: str) -> dict[str, str]:
    """``home`` and ``extra``, and none of the developer's Fontana settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    return env | {"FONTANA_HOME": str(home)} | extra


def fontana(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fontana", *args], cwd=home.parent, env=environment(home, **extra),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_an_upstream_that_does_not_answer_fails_the_call_and_charges_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    for key in ("weather", "outfitter", "payer", "consumer", "sequencer"):
        assert fontana(home, "init", "--name", key).returncode == 0
    allocs = ["--alloc", "consumer=10tia", "--alloc", "payer=1tia"]
    assert fontana(home, "genesis", "new", "--chain-id", "composed-test", *allocs).returncode == 0
    assert fontana(home, "genesis", "init", "genesis.json").returncode == 0
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        upstream = f"http://127.0.0.1:{closed.getsockname()[1]}"
        env = environment(home, FONTANA_CHARGE_KEY_NAME="outfitter", UPSTREAM_URL=upstream)
        (server,) = start_servers("app:app", COMPOSED, env, tmp_path, [tmp_path / "composed.log"])
        try:
            url = f"http://127.0.0.1:{server.port}/outfit?city=lisbon"
            call = fontana(home, "call", url, FONTANA_WALLET_KEY_NAME="consumer")
        finally:
            stop_servers([server])
    assert call.returncode == 1, call.stdout + call.stderr
    assert json.loads(call.stdout) == {
        "error": "upstream_failed",
        "message": "the forecast's provider did not answer: ConnectionError",
    }
    assert call.stderr.strip() == "HTTP 502: not charged"
    assert balances(home) == {
        "consumer": CONSUMER_FUNDS, "payer": PAYER_FUNDS, "outfitter": 0, "weather": 0
    }  # fmt: skip


def test_the_paying_key_must_not_be_the_charging_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("FONTANA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FONTANA_HOME", str(tmp_path))
    monkeypatch.setenv("FONTANA_CHARGE_KEY_NAME", "payer")
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("composed_app", COMPOSED / "app.py")
    assert spec is not None and spec.loader is not None
    with pytest.raises(ConfigError, match="the key 'payer' pays upstream"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))

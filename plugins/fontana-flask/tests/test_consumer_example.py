"""examples/consumer runs as its README says, against examples/flask_provider under gunicorn.

The script pays with the SDK from the README's wallet; afterwards the ledger
the provider wrote must show exactly the prices it printed, and the refusals
(a failed view, the budget, an empty wallet) must have cost nothing.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fontana.config import load_settings
from fontana.ledger import Ledger, open_ledger
from fontana.testing.charging import run_readme_example
from fontana.wallet import key_info

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CONSUMER = EXAMPLES / "consumer"
SCRIPT = CONSUMER / "consumer.py"
GENESIS_FUNDS = 10_000_000  # the README's --alloc consumer=10tia
WEATHER_PRICE = 1500
SUMMARY_PRICE = 100 + len(b"three short words")
FEE = 1
CITIES = ("lisbon", "porto", "faro", "oslo")
_BALANCE = re.compile(r"^fnt1[0-9a-z]+: [0-9.]+ TIA \(([0-9]+) utia\)$", re.M)


@contextmanager
def ledger_at(home: Path) -> Iterator[Ledger]:
    """The ledger of a README's ``FONTANA_HOME``, read after its servers stopped."""
    ledger = open_ledger(load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home))
    try:
        yield ledger
    finally:
        ledger.storage.close()


def balance(ledger: Ledger, home: Path, key: str) -> int:
    return ledger.balance(key_info(home, key).public_key)


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    result = run_readme_example(CONSUMER, tmp_path, 8000, beside=[EXAMPLES / "flask_provider"])
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in out + result.stderr
    compact = out.replace(" ", "")
    for city in CITIES:
        assert f'HTTP200{{"city":"{city}",' in compact, out
    assert '"words":3' in compact
    prices = len(CITIES) * WEATHER_PRICE + SUMMARY_PRICE
    assert f"served 5 of 5 calls for {prices} utia (+5 utia in fees)" in out
    assert out.count("receipt (verified): txid ") == 5
    assert out.count("provisional receipt verified:") == 5  # `fontana receipt verify`
    # The refusals: each says why, exits 1, and costs nothing.
    assert "GET /weather?city= -> HTTP 400" in out
    assert "not charged (view_failed): the wallet keeps its money" in out
    assert "refused by the budget, nothing was paid" in out
    assert "the wallet cannot pay for it" in out
    assert out.count("exit status 1") == 3
    before, after = (int(b) for b in _BALANCE.findall(out))
    assert before == after
    home = tmp_path / "examples" / "flask_provider" / ".fontana"
    with ledger_at(home) as ledger:
        assert balance(ledger, home, "provider") == prices
        assert balance(ledger, home, "empty") == 0
        consumer = balance(ledger, home, "consumer")
    assert consumer == after
    # Five payments of a fee each; the concurrent calls may have split the one genesis output.
    splits = GENESIS_FUNDS - prices - 5 * FEE - consumer
    assert 0 <= splits < len(CITIES)


def environment(home: Path) -> dict[str, str]:
    """This test's home and wallet, and none of the developer's Fontana settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    return env | {"FONTANA_HOME": str(home), "FONTANA_WALLET_KEY_NAME": "consumer"}


def run_script(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=home.parent, env=environment(home),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def fontana(home: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "fontana", *args], cwd=home.parent, env=environment(home),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def test_an_unreachable_provider_or_a_missing_key_is_an_error_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = run_script(home, "http://127.0.0.1:9/", "lisbon")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error[key_not_found]: "), missing.stderr
    for key in ("consumer", "sequencer"):
        fontana(home, "init", "--name", key)
    fontana(home, "genesis", "new", "--chain-id", "consumer-test", "--alloc", "consumer=10tia")
    fontana(home, "genesis", "init", "genesis.json")
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        result = run_script(home, f"http://127.0.0.1:{port}", "lisbon")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "GET /weather?city=lisbon: no answer from the provider: " in result.stdout
    assert "served 0 of 1 calls for 0 utia (+0 utia in fees)" in result.stdout
    assert "Traceback" not in result.stderr
    with ledger_at(home) as ledger:
        assert balance(ledger, home, "consumer") == GENESIS_FUNDS

"""``fontana call``, ``fontana withdraw`` and ``fontana receipt verify`` against a real provider.

The provider is the example WSGI app in its own process on a SQLite ledger that
the commands (run in-process through click) share; the final receipt comes
from a block the test seals and posts to a local DA layer.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result
from ledger_helpers import SEQUENCER, make_genesis
from payments_helpers import Provider, init_chain, provider, provider_env

from fontana.cli import cli
from fontana.clock import now_ms
from fontana.da.local import LocalDA
from fontana.ledger import Ledger
from fontana.models import Transaction
from fontana.models.payment import request_hash
from fontana.payments.wsgi import DIGEST_PRICE, QUOTE_PRICE
from fontana.poster import Poster
from fontana.wallet import create_key

FUNDS = 1_000_000
FEE = 1
L1 = "0x" + "ab" * 20


@attrs.frozen
class Setup:
    ledger: Ledger
    provider: Provider
    env: dict[str, str]
    me: bytes
    root: Path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env)

    def ok(self, *args: str) -> dict[str, Any]:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, (result.output, result.stderr)
        data: dict[str, Any] = json.loads(result.stdout)
        return data


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    for var in [v for v in os.environ if v.startswith("FONTANA_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "consumer"
    me = create_key(home).public_key
    url = f"sqlite:///{tmp_path}/ledger.db"
    genesis = make_genesis([(me, FUNDS)], genesis_time_ms=now_ms())
    ledger = init_chain(url, tmp_path / "provider", genesis)
    env = {
        "FONTANA_HOME": str(home),
        "FONTANA_STORAGE_URL": url,
        "FONTANA_DA_URL": f"local:///{tmp_path}/da",
    }
    with provider(provider_env(tmp_path / "provider", url)) as running:
        yield Setup(ledger, running, env, me, tmp_path)
    ledger.storage.close()


def test_call_prints_the_body_and_the_receipt(setup: Setup) -> None:
    result = setup.run("call", f"{setup.provider.url}/v1/quote")
    assert result.exit_code == 0, result.stderr
    assert "quote" in json.loads(result.stdout)
    assert result.stderr.startswith(f"paid 0.001 TIA ({QUOTE_PRICE} utia) to fnt1")
    assert "for GET /v1/quote" in result.stderr and "(receipt verified)" in result.stderr
    assert setup.ledger.balance(setup.me) == FUNDS - QUOTE_PRICE - FEE


def test_call_json_with_a_body_from_a_file(setup: Setup) -> None:
    body = setup.root / "body.bin"
    body.write_bytes(b"\x00\x01 the bytes to hash")
    out = setup.ok("call", f"{setup.provider.url}/v1/digest", "-d", f"@{body}")
    assert out["status"] == 200 and out["paid"] == str(DIGEST_PRICE)
    assert json.loads(out["body"])["bytes"] == len(body.read_bytes())
    receipt = out["receipt"]["receipt"]
    expected = request_hash("POST", "/v1/digest", body.read_bytes())
    assert receipt["request_hash"] == expected.hex()
    assert receipt["method"] == "POST"


def test_a_failed_call_exits_1_and_costs_nothing(setup: Setup) -> None:
    result = setup.run("call", f"{setup.provider.url}/v1/fail")
    assert result.exit_code == 1
    assert result.stderr == "HTTP 500: not charged\n"
    assert setup.ledger.balance(setup.me) == FUNDS


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (["--max-price", "1000"], "budget_exceeded", 1),  # 1000 + the fee
        (["--max-price", "1.5"], "bad_amount", 65),
        (["-X", "GET", "-d", "@/nonexistent/file"], "file_error", 1),
    ],
)
def test_call_refusals_pay_nothing(
    setup: Setup, args: list[str], code: str, exit_code: int
) -> None:
    result = setup.run("call", f"{setup.provider.url}/v1/quote", *args)
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith(f"error[{code}]: ")
    assert setup.ledger.balance(setup.me) == FUNDS


@pytest.mark.parametrize("args", [["-H", "no colon"], ["-H", "Bad Name: x"], ["-X", "G T"]])
def test_call_usage_errors(setup: Setup, args: list[str]) -> None:
    assert setup.run("call", f"{setup.provider.url}/v1/quote", *args).exit_code == 2


def test_call_to_nothing_is_an_http_error(setup: Setup) -> None:
    result = setup.run("call", "http://127.0.0.1:9/v1/quote", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "http_error"


def test_withdraw_burns_for_an_l1_address(setup: Setup) -> None:
    out = setup.ok("withdraw", "5000", L1)
    assert out["l1_recipient"] == L1 and out["amount"] == "5000"
    assert out["token"] == "0x" + "00" * 20  # the L1's native coin by default
    assert setup.ledger.balance(setup.me) == FUNDS - 5000 - FEE
    assert setup.ledger.supply() == FUNDS - 5000
    assert setup.ledger.transaction_status(bytes.fromhex(out["txid"])).state == "pending"


def test_withdraw_in_the_token_names_it_in_the_burn(setup: Setup) -> None:
    token = "0x" + "7e" * 20
    out = setup.ok("withdraw", "5000", L1, "--token", token)
    assert out["token"] == token
    with setup.ledger.storage.read() as s:
        record = s.get_entry(bytes.fromhex(out["txid"]))
    assert record is not None
    burn = Transaction.from_bytes(record.body).withdrawal
    assert burn is not None and burn.token == bytes.fromhex("7e" * 20)


@pytest.mark.parametrize(
    ("amount", "address", "code"),
    [
        ("5000", "0x1234", "malformed"),
        ("5000", f"{L1} --token 0x12", "malformed"),
        ("5000", "ab" * 20, "malformed"),
        ("0", L1, "bad_amount"),
        (str(2 * FUNDS), L1, "insufficient_funds"),
    ],
)
def test_withdraw_refusals_change_nothing(
    setup: Setup, amount: str, address: str, code: str
) -> None:
    result = setup.run("withdraw", amount, *address.split())
    assert result.stderr.startswith(f"error[{code}]: ")
    assert result.exit_code != 0
    assert setup.ledger.balance(setup.me) == FUNDS


def post_block(setup: Setup) -> None:
    setup.ledger.seal_block(SEQUENCER)
    layer = LocalDA(setup.root / "da", setup.ledger.genesis.da_namespace, max_blob_size=1_900_000)
    try:
        Poster(setup.ledger.storage, layer, block_time_ms=6000).post_pending(threading.Event())
    finally:
        layer.close()


def test_receipts_verify_provisional_then_final_and_on_da(setup: Setup) -> None:
    out = setup.ok("call", f"{setup.provider.url}/v1/quote")
    provisional = setup.root / "receipt.json"
    provisional.write_text(json.dumps(out["receipt"]))
    checked = setup.ok("receipt", "verify", str(provisional))
    assert checked["kind"] == "provisional" and checked["amount"] == str(QUOTE_PRICE)
    result = setup.run("receipt", "verify", str(provisional), "--da")
    assert result.stderr.startswith("error[not_final]: ")

    post_block(setup)
    final = setup.ledger.final_receipt(bytes.fromhex(out["receipt"]["receipt"]["txid"]))
    assert final is not None
    path = setup.root / "final.json"
    path.write_text(json.dumps(final.to_json()))
    checked = setup.ok("receipt", "verify", str(path), "--da")
    assert (checked["kind"], checked["block"], checked["checked_on_da"]) == ("final", 1, True)
    text = setup.run("receipt", "verify", str(path))
    assert text.exit_code == 0 and text.stdout.startswith("final receipt verified: ")


def test_a_tampered_receipt_is_refused(setup: Setup) -> None:
    out = setup.ok("call", f"{setup.provider.url}/v1/quote")
    receipt = out["receipt"]
    receipt["receipt"]["amount"] = str(QUOTE_PRICE - 1)
    path = setup.root / "receipt.json"
    path.write_text(json.dumps(receipt))
    result = setup.run("receipt", "verify", str(path))
    assert result.exit_code == 65
    assert result.stderr.startswith("error[bad_receipt]: ")
    for garbage, why in (
        (b'{"receipt": 1, "receipt": 2}', "duplicate key"),
        (b'{"receipt": NaN}', "NaN is not a JSON number"),
        (b'{"receipt": ' + b"9" * 5000 + b"}", "a number of 5000 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"receipt": "\xff"}', "not valid UTF-8"),
    ):
        path.write_bytes(garbage)
        refused = setup.run("receipt", "verify", str(path))
        assert refused.stderr.startswith(f"error[malformed]: {path}: "), refused.stderr
        assert why in refused.stderr and refused.exit_code == 65

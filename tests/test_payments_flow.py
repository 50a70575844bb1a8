"""Paid calls end to end over HTTP: the example WSGI app in provider processes, real databases.

Each provider is a subprocess serving ``fontana.payments.wsgi.example_app``
on a thread-per-request wsgiref server, on a SQLite file or a PostgreSQL
database; consumers are this process, building payments as any client would
from the 402 it got. Two providers on one database show that retries and
double spends are judged by the database, not by a process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
import x402.http.utils as x402_utils  # x402's own SDK (test extra)
from ledger_helpers import pub, snapshot
from payments_helpers import (
    CONSUMERS,
    FUNDS,
    PAYMENT_SIGNATURE,
    Response,
    call,
    consumer_utxo,
    init_chain,
    pay,
    payment,
    payment_header,
    payments_genesis,
    provider,
    provider_address,
    provider_env,
    requirement_of,
)

from fontana.address import decode_address, encode_address
from fontana.clock import now_ms
from fontana.ledger import Ledger
from fontana.models import Genesis
from fontana.models.payment import request_hash
from fontana.payments.wsgi import DIGEST_PRICE, ECHO_PRICE, QUOTE_PRICE, WORD_PRICE
from fontana.payments.x402 import PAYMENT_RESPONSE, decode_payment_required, decode_payment_response
from fontana.wallet import create_key


@attrs.frozen
class Chain:
    ledger: Ledger
    genesis: Genesis
    home: Path
    url: str

    def env(self, **charge: str) -> dict[str, str]:
        return provider_env(self.home, self.url, **charge)

    def utxo(self, n: int) -> list[tuple[Any, int]]:
        return [(consumer_utxo(n, self.genesis), FUNDS)]


@pytest.fixture
def chain(ledger_url: str, tmp_path: Path) -> Iterator[Chain]:
    genesis = payments_genesis()
    home = tmp_path / "provider"
    ledger = init_chain(ledger_url, home, genesis)
    yield Chain(ledger, genesis, home, ledger_url)
    ledger.storage.close()


def refusal(response: Response) -> tuple[int, str]:
    """Status and code of a refusal, checking its shape (docs/payments.md 1.4)."""
    data = response.json()
    header = response.header("PAYMENT-REQUIRED")
    assert header is not None and decode_payment_required(header).error == data["error"]
    assert response.header("Content-Type") == "application/json"
    assert data["x402Version"] == 2 and data["message"]
    return response.status, data["error"]


def paid_receipt(chain: Chain, response: Response) -> Any:
    header = response.header(PAYMENT_RESPONSE)
    assert header is not None, response
    settled = decode_payment_response(header)
    assert settled.success and settled.receipt is not None
    assert settled.receipt.verify(chain.genesis.hash)
    assert x402_utils.decode_payment_response_header(header).transaction == settled.txid.hex()
    return settled.receipt.receipt


def test_challenge_paid_call_and_retry(chain: Chain) -> None:
    provider_addr = provider_address(chain.home)
    with provider(chain.env()) as p:
        index = call(p.url, "/")
        assert index.status == 200 and index.json()["provider"] == provider_addr

        challenge = call(p.url, "/v1/quote")
        assert challenge.status == 402 and refusal(challenge) == (402, "payment_required")
        header = challenge.header("PAYMENT-REQUIRED")
        assert json.loads(base64.b64decode(header)) == challenge.json()
        theirs = x402_utils.decode_payment_required_header(header)
        (accept,) = theirs.accepts
        assert (accept.scheme, accept.network, accept.asset, accept.amount) == (
            "fontana",
            f"fontana:{chain.genesis.chain_id}",
            "utia",
            str(QUOTE_PRICE),
        )
        assert accept.pay_to == provider_addr and accept.max_timeout_seconds == 60
        assert accept.extra["method"] == "GET" and accept.extra["resource"] == "/v1/quote"
        assert theirs.resource.url == f"{p.url}/v1/quote"

        before = chain.ledger.balance(decode_address(provider_addr))
        answer, payment_sent = pay(p.url, "/v1/quote", chain.utxo(0), CONSUMERS[0])
        assert answer.status == 200 and "quote" in answer.json()
        receipt = paid_receipt(chain, answer)
        assert (receipt.method, receipt.resource, receipt.amount) == (
            "GET",
            "/v1/quote",
            QUOTE_PRICE,
        )
        assert receipt.payee == decode_address(provider_addr)
        assert receipt.request_hash == request_hash("GET", "/v1/quote", b"")
        assert receipt.expected_height == 1
        assert chain.ledger.balance(decode_address(provider_addr)) == before + QUOTE_PRICE

        again = call(p.url, "/v1/quote", headers={PAYMENT_SIGNATURE: payment_sent})
        assert (again.status, again.body) == (200, answer.body)  # the stored answer, not a new one
        assert again.header(PAYMENT_RESPONSE) == answer.header(PAYMENT_RESPONSE)
        assert chain.ledger.balance(decode_address(provider_addr)) == before + QUOTE_PRICE

        body = b'{"hello": "fontana"}'
        digest, _ = pay(p.url, "/v1/digest", chain.utxo(1), CONSUMERS[1], method="POST", body=body)
        assert digest.status == 200
        assert digest.json()["sha256"] == hashlib.sha256(body).hexdigest()
        assert paid_receipt(chain, digest).request_hash == request_hash("POST", "/v1/digest", body)

        words = call(p.url, "/v1/words?n=5")
        assert requirement_of(words).amount == 5 * WORD_PRICE
        listed, _ = pay(p.url, "/v1/words?n=5", chain.utxo(2), CONSUMERS[2])
        assert listed.status == 200 and len(listed.json()["words"]) == 5
        assert paid_receipt(chain, listed).amount == 5 * WORD_PRICE
    assert chain.ledger.balance(decode_address(provider_addr)) == (
        QUOTE_PRICE + DIGEST_PRICE + 5 * WORD_PRICE
    )


def test_failed_calls_cost_nothing(chain: Chain) -> None:
    before = snapshot(chain.ledger)
    with provider(chain.env()) as p:
        failed, _ = pay(p.url, "/v1/fail", chain.utxo(0), CONSUMERS[0])
        assert failed.status == 500 and failed.json() == {"error": "failed, as asked"}
        header = failed.header(PAYMENT_RESPONSE)
        assert header is not None
        settled = decode_payment_response(header)
        assert not settled.success and settled.error_reason == "view_failed"

        raised, _ = pay(p.url, "/v1/fail?how=raise", chain.utxo(0), CONSUMERS[0])
        assert raised.status == 500 and raised.header(PAYMENT_RESPONSE) is None

        bad, _ = pay(p.url, "/v1/words?n=0", chain.utxo(0), CONSUMERS[0])
        assert bad.status == 400
        assert snapshot(chain.ledger) == before

        # Every hold was released: the same money pays at once for a call that works.
        ok, _ = pay(p.url, "/v1/quote", chain.utxo(0), CONSUMERS[0])
        assert ok.status == 200


def test_replays_and_payments_that_do_not_fit_are_refused_with_their_code(
    chain: Chain,
) -> None:
    create_key(chain.home, "other")  # a second provider: another key, the same database
    with provider(chain.env()) as p, provider(chain.env(key_name="other")) as other:
        answer, quote_payment = pay(p.url, "/v1/quote", chain.utxo(0), CONSUMERS[0])
        assert answer.status == 200
        before = snapshot(chain.ledger)

        def sent(
            target: str, header: str, *, method: str = "GET", to: str = p.url
        ) -> tuple[int, str]:
            return refusal(call(to, target, method=method, headers={PAYMENT_SIGNATURE: header}))

        # The settled payment replayed anywhere else: never its stored answer.
        assert sent("/v1/fail", quote_payment) == (402, "binding_mismatch")  # same price
        assert sent("/v1/echo", quote_payment) == (402, "wrong_amount")
        assert sent("/v1/quote", quote_payment, to=other.url) == (402, "binding_mismatch")

        echo = requirement_of(call(p.url, "/v1/echo"))
        echo_payment = payment_header(echo, payment(echo, chain.utxo(1), CONSUMERS[1]))
        assert sent("/v1/echo", echo_payment, method="POST") == (402, "binding_mismatch")
        assert sent("/v1/echo?x=1", echo_payment) == (402, "binding_mismatch")

        five = requirement_of(call(p.url, "/v1/words?n=5"))
        five_payment = payment_header(five, payment(five, chain.utxo(1), CONSUMERS[1]))
        assert sent("/v1/words?n=6", five_payment) == (402, "wrong_amount")

        # Payments made wrong on purpose.
        def made(**changes: Any) -> str:
            return payment_header(echo, payment(echo, chain.utxo(1), CONSUMERS[1], **changes))

        now = now_ms()
        assert sent("/v1/echo", made(expiry_ms=now - 1)) == (402, "expired")
        assert sent("/v1/echo", made(expiry_ms=now + 2_000)) == (402, "expiry_too_soon")
        assert sent("/v1/echo", made(expiry_ms=now + 3_600_000)) == (402, "expiry_too_far")
        assert sent("/v1/echo", made(fee=0)) == (402, "fee_too_low")
        other_genesis = payments_genesis(chain_id="another-chain")
        assert sent("/v1/echo", made(genesis_hash=other_genesis.hash)) == (402, "bad_signature")
        wrong_network = payment_header(
            echo, payment(echo, chain.utxo(1), CONSUMERS[1]), network="fontana:x"
        )
        assert sent("/v1/echo", wrong_network) == (402, "wrong_network")
        to_other = attrs.evolve(echo, pay_to=provider_address(chain.home, "other"))
        assert sent(
            "/v1/echo", payment_header(to_other, payment(to_other, chain.utxo(1), CONSUMERS[1]))
        ) == (
            402,
            "binding_mismatch",
        )
        spent = payment_header(echo, payment(echo, chain.utxo(0), CONSUMERS[0]))
        assert sent("/v1/echo", spent) == (402, "input_spent")

        # Malformed headers are 400s with the same shape.
        for garbage in ("", "!!!", "e30=", "A" * 60_000, quote_payment[:-8]):
            assert sent("/v1/echo", garbage) == (400, "malformed")
        bad_length = call(
            p.url, "/v1/echo", headers={PAYMENT_SIGNATURE: made(), "Content-Length": "0x10"}
        )
        assert refusal(bad_length) == (400, "malformed")
        assert snapshot(chain.ledger) == before

        # After all that, the payments that fit still pay.
        ok = call(p.url, "/v1/echo", method="GET", headers={PAYMENT_SIGNATURE: echo_payment})
        assert ok.status == 200 and ok.json()["method"] == "GET"


def run_concurrently(calls: Sequence[Callable[[], Response]]) -> list[Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda f: f(), calls))


@pytest.mark.parametrize("batch_ms", ["0", "20"])
def test_many_clients_at_once_pay_once_each_and_never_twice(chain: Chain, batch_ms: str) -> None:
    provider_key = decode_address(provider_address(chain.home))
    with provider(chain.env(batch_ms=batch_ms)) as p:
        quote = requirement_of(call(p.url, "/v1/quote"))
        clients = range(24)
        headers = [
            payment_header(quote, payment(quote, chain.utxo(n), CONSUMERS[n])) for n in clients
        ]
        answers = run_concurrently(
            [lambda h=h: call(p.url, "/v1/quote", headers={PAYMENT_SIGNATURE: h}) for h in headers]
        )
        assert [a.status for a in answers] == [200] * len(headers)
        receipts = [paid_receipt(chain, a) for a in answers]
        assert len({r.txid for r in receipts}) == len(headers)
        assert chain.ledger.balance(provider_key) == len(headers) * QUOTE_PRICE

        # One payment sent many times at once: the view runs once, it is charged once.
        echo = requirement_of(call(p.url, "/v1/echo"))
        once = payment_header(echo, payment(echo, chain.utxo(30), CONSUMERS[30]))
        answers = run_concurrently(
            [lambda: call(p.url, "/v1/echo", headers={PAYMENT_SIGNATURE: once})] * 8
        )
        statuses = Counter(a.status for a in answers)
        assert set(statuses) <= {200, 409} and statuses[200] >= 1
        assert len({a.body for a in answers if a.status == 200}) == 1
        assert all(refusal(a)[1] == "payment_in_flight" for a in answers if a.status == 409)
        assert chain.ledger.balance(provider_key) == len(headers) * QUOTE_PRICE + ECHO_PRICE

        # Two payments of one UTXO at once: exactly one pays.
        double = [
            payment_header(quote, payment(quote, chain.utxo(31), CONSUMERS[31])),
            payment_header(echo, payment(echo, chain.utxo(31), CONSUMERS[31])),
        ]
        answers = run_concurrently(
            [
                lambda: call(p.url, "/v1/quote", headers={PAYMENT_SIGNATURE: double[0]}),
                lambda: call(p.url, "/v1/echo", headers={PAYMENT_SIGNATURE: double[1]}),
            ]
        )
        assert sorted(a.status for a in answers) == [200, 402]
        (loser,) = [a for a in answers if a.status == 402]
        assert refusal(loser)[1] in ("input_held", "input_spent")
    spent = FUNDS - chain.ledger.balance(pub(CONSUMERS[31]))
    assert spent in (QUOTE_PRICE + 1, ECHO_PRICE + 1)


def test_two_provider_processes_on_one_database(chain: Chain) -> None:
    provider_key = decode_address(provider_address(chain.home))
    with provider(chain.env()) as a, provider(chain.env()) as b:
        answer, sent = pay(a.url, "/v1/quote", chain.utxo(0), CONSUMERS[0])
        assert answer.status == 200
        again = call(b.url, "/v1/quote", headers={PAYMENT_SIGNATURE: sent})
        assert (again.status, again.body) == (200, answer.body)
        assert again.header(PAYMENT_RESPONSE) == answer.header(PAYMENT_RESPONSE)

        quote = requirement_of(call(a.url, "/v1/quote"))
        headers = [
            payment_header(quote, payment(quote, chain.utxo(n), CONSUMERS[n])) for n in range(1, 17)
        ]
        calls = [
            lambda h=h, url=(a.url if n % 2 else b.url): call(
                url, "/v1/quote", headers={PAYMENT_SIGNATURE: h}
            )
            for n, h in enumerate(headers)
        ]
        # Each payment also sent to the other process at the same moment.
        calls += [
            lambda h=h, url=(b.url if n % 2 else a.url): call(
                url, "/v1/quote", headers={PAYMENT_SIGNATURE: h}
            )
            for n, h in enumerate(headers)
        ]
        answers = run_concurrently(calls)
        assert [r.body for r in answers if r.status not in (200, 409)] == []
        paid = {paid_receipt(chain, r).txid for r in answers if r.status == 200}
        assert len(paid) == len(headers)
        assert chain.ledger.balance(provider_key) == (1 + len(headers)) * QUOTE_PRICE
    assert encode_address(provider_key) == provider_address(chain.home)


def test_a_provider_killed_during_the_call_charges_nothing(chain: Chain) -> None:
    """A crash between hold and settle: the hold ends at the payment's expiry, nothing is paid."""
    before = snapshot(chain.ledger)
    env = chain.env(min_window_ms="100")
    with provider(env) as p:
        slow = requirement_of(call(p.url, "/test/slow?ms=60000"))
        expiry = now_ms() + 3_000
        tx = payment(slow, chain.utxo(0), CONSUMERS[0], expiry_ms=expiry)
        pending = ThreadPoolExecutor(max_workers=1)
        answer = pending.submit(
            call,
            p.url,
            "/test/slow?ms=60000",
            headers={PAYMENT_SIGNATURE: payment_header(slow, tx)},
        )
        outpoint = consumer_utxo(0, chain.genesis)
        while holder(chain.ledger, outpoint) is None:  # until the view is running
            assert not answer.done(), answer.result()
            time.sleep(0.01)
        assert holder(chain.ledger, outpoint) == tx.txid
        p.process.kill()
        with pytest.raises(OSError):
            answer.result()
        pending.shutdown()
    while holder(chain.ledger, outpoint) is not None:
        time.sleep(0.05)  # nothing releases it but the payment's expiry
    assert snapshot(chain.ledger).tables["entries"] == before.tables["entries"]
    with provider(chain.env()) as again:
        late = call(
            again.url, "/test/slow?ms=60000", headers={PAYMENT_SIGNATURE: payment_header(slow, tx)}
        )
        assert refusal(late) == (402, "expired")  # never settled after the crash
        paid_now, _ = pay(again.url, "/v1/quote", chain.utxo(0), CONSUMERS[0])
        assert paid_now.status == 200  # the money was the consumer's all along


def holder(ledger: Ledger, outpoint: Any) -> bytes | None:
    """The payment holding ``outpoint`` now, read without holding anything."""
    with ledger.storage.read() as s:
        record = s.get_utxos([(outpoint.txid, outpoint.index)])[(outpoint.txid, outpoint.index)]
    if record.held_by is None or record.held_until_ms is None or record.held_until_ms <= now_ms():
        return None
    return bytes(record.held_by)

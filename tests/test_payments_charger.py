"""The charger's flow in-process, on a real ledger (SQLite and PostgreSQL) and a hand-moved clock.

Each rejection code of docs/payments.md 1.4 with its status, that a rejection
changes nothing, settle or release after the view, idempotent retries (also
after the payment's window), and hostile headers as properties.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import (
    ALICE,
    BOB,
    CAROL,
    Clock,
    genesis_outpoint,
    make_genesis,
    pub,
    snapshot,
)
from nacl.signing import SigningKey
from payments_helpers import payment, payment_header

from fontana.address import encode_address
from fontana.errors import ConfigError, EncodingError, InputSpentError, RejectedError
from fontana.ledger import Ledger
from fontana.models import Transaction, TxKind, TxOutput
from fontana.models.payment import PaymentBinding, request_hash
from fontana.payments.backends import LedgerBackend
from fontana.payments.charger import (
    HEIGHT_TTL_MS,
    Charged,
    Charger,
    PaidRequest,
    PaymentReply,
    ViewResponse,
)
from fontana.payments.x402 import (
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PAYMENT_SIGNATURE,
    PaymentRequirement,
    decode_payment_required,
    decode_payment_response,
)

PROVIDER = SigningKey(bytes([9]) * 32)
OTHER_PROVIDER = SigningKey(bytes([10]) * 32)
PRICE = 1_500
FUNDS = 1_000_000
OK = ViewResponse(200, "application/json", b'{"ok":true}')


@pytest.fixture
def charger(ledger: Ledger, clock: Clock) -> Iterator[Charger]:
    made = Charger(LedgerBackend(ledger), PROVIDER, clock=clock)
    yield made
    made.close()


def request(
    target: str = "/weather?city=lisbon",
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | Callable[[], bytes] = b"",
) -> PaidRequest:
    given_headers = {k.upper(): v for k, v in (headers or {}).items()}
    return PaidRequest(
        method=method,
        target=target,
        url=f"http://api.example{target}",
        body=body,
        header=lambda name: given_headers.get(name.upper()),
    )


class View:
    """A view that counts its runs and answers ``response`` (or raises ``error``)."""

    def __init__(self, response: ViewResponse = OK, error: BaseException | None = None) -> None:
        self.response = response
        self.error = error
        self.runs = 0

    def __call__(self) -> ViewResponse:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return self.response


def run(charger: Charger, req: PaidRequest, view: View | None = None) -> Charged[ViewResponse]:
    view = view or View()
    return charger.charge(req, PRICE, view, lambda r: r)


def requirement(charger: Charger, req: PaidRequest | None = None) -> PaymentRequirement:
    return charger.requirement(req or request(), PRICE)


def paid(
    charger: Charger,
    signer: SigningKey = ALICE,
    index: int = 0,
    req: PaidRequest | None = None,
    **changes: Any,
) -> tuple[PaidRequest, Any]:
    """A request for ``req`` carrying a good payment (``changes`` break it)."""
    accepted = changes.pop("accepted", {})
    base = req or request()
    requirement_ = requirement(charger, base)
    tx = changes.pop("tx", None) or payment(
        requirement_,
        [(genesis_outpoint(index), FUNDS)],
        signer,
        expiry_ms=changes.pop("expiry_ms", charger.clock() + 30_000),
        **changes,
    )
    header = payment_header(requirement_, tx, **accepted)
    return attrs.evolve(base, header=lambda name: header if name == PAYMENT_SIGNATURE else None), tx


def reply_code(reply: PaymentReply) -> tuple[int, str]:
    data = json.loads(reply.body)
    assert json.loads(base64.b64decode(reply.headers[PAYMENT_REQUIRED])) == data
    assert reply.headers["Content-Type"] == "application/json"
    assert data["x402Version"] == 2 and isinstance(data["message"], str)
    return reply.status, data["error"]


# --- the challenge --------------------------------------------------------------------


def test_a_call_without_payment_gets_the_price_and_runs_nothing(
    charger: Charger, ledger: Ledger
) -> None:
    view = View()
    outcome = run(charger, request(), view)
    assert view.runs == 0 and outcome.reply is not None
    assert reply_code(outcome.reply) == (402, "payment_required")
    challenge = decode_payment_required(outcome.reply.headers[PAYMENT_REQUIRED])
    assert challenge.message == f"this call costs {PRICE} utia"
    assert challenge.resource is not None
    assert challenge.resource.url == "http://api.example/weather?city=lisbon"
    (accept,) = challenge.accepts
    assert accept == PaymentRequirement(
        network=f"fontana:{ledger.chain_id}",
        amount=PRICE,
        pay_to=encode_address(pub(PROVIDER)),
        max_timeout_s=60,
        genesis_hash=ledger.genesis_hash,
        method="GET",
        resource="/weather?city=lisbon",
        min_fee=1,
    )


def test_a_request_no_payment_can_name_is_malformed(charger: Charger) -> None:
    for req in (request("/" + "a" * 2048), request(method="get"), request("no-slash")):
        reply = charger.challenge(req, PRICE)
        assert reply_code(reply) == (400, "malformed")
        assert json.loads(reply.body)["accepts"] == []


# --- paying ----------------------------------------------------------------------------


def test_a_paid_call_runs_the_view_settles_and_returns_a_receipt(
    charger: Charger, ledger: Ledger, clock: Clock
) -> None:
    req, tx = paid(charger, req=request("/digest", method="POST", body=lambda: b"hello"))
    view = View()
    outcome = run(charger, req, view)
    assert view.runs == 1 and outcome.reply is None and outcome.result == OK
    response = decode_payment_response(outcome.headers[PAYMENT_RESPONSE])
    assert response.success and response.txid == tx.txid and response.amount == PRICE
    assert response.payer == encode_address(pub(ALICE))
    signed = response.receipt
    assert signed is not None and signed.verify(ledger.genesis_hash)
    receipt = signed.receipt
    assert (receipt.txid, receipt.payer, receipt.payee) == (tx.txid, pub(ALICE), pub(PROVIDER))
    assert (receipt.amount, receipt.method, receipt.resource) == (PRICE, "POST", "/digest")
    assert receipt.request_hash == request_hash("POST", "/digest", b"hello")
    assert receipt.issued_at_ms == clock.now_ms and receipt.expected_height == 1
    assert receipt.chain_id == ledger.chain_id
    assert ledger.balance(pub(PROVIDER)) == PRICE
    assert ledger.balance(pub(ALICE)) == FUNDS - PRICE - 1


def test_a_retry_gets_the_stored_response_and_the_same_receipt(
    charger: Charger, ledger: Ledger, clock: Clock
) -> None:
    req, _ = paid(charger)
    first = run(charger, req)
    view = View(ViewResponse(200, "text/plain", b"another answer"))
    again = run(charger, req, view)
    assert view.runs == 0 and again.reply is not None
    assert (again.reply.status, again.reply.body) == (200, OK.body)
    assert again.reply.headers["Content-Type"] == "application/json"
    assert again.reply.headers[PAYMENT_RESPONSE] == first.headers[PAYMENT_RESPONSE]
    clock.advance(10 * 60_000)  # long after the payment expired: the receipt is still its
    late = run(charger, req, view)
    assert (
        late.reply is not None
        and late.reply.headers[PAYMENT_RESPONSE] == (first.headers[PAYMENT_RESPONSE])
    )
    assert view.runs == 0 and ledger.balance(pub(PROVIDER)) == PRICE


class SettledElsewhere(LedgerBackend):
    """Two processes on PostgreSQL, one interleaving: this hold read the payment's inputs
    unspent just before its own settle committed in the other process, and its conditional
    ``UPDATE`` found them spent just after, so it refuses the payment as ``input_spent``."""

    def hold(self, tx: Transaction, until_ms: int) -> Any:
        if self.ledger.settled(tx.txid) is not None:
            raise InputSpentError(f"input {tx.inputs[0].txid.hex()}:0 is spent already")
        return super().hold(tx, until_ms)


def test_a_payment_its_own_settle_spent_meanwhile_is_replayed(ledger: Ledger, clock: Clock) -> None:
    charger = Charger(SettledElsewhere(ledger), PROVIDER, clock=clock)
    req, _ = paid(charger)
    first = run(charger, req)
    view = View()
    again = run(charger, req, view)
    assert view.runs == 0 and again.reply is not None and again.reply.status == 200
    assert again.reply.headers[PAYMENT_RESPONSE] == first.headers[PAYMENT_RESPONSE]
    other, _ = paid(charger, req=request("/other"))  # a real double spend stays refused
    outcome = run(charger, other)
    assert outcome.reply is not None and reply_code(outcome.reply) == (402, "input_spent")
    charger.close()


@pytest.mark.parametrize(
    "response",
    [
        ViewResponse(200, "application/octet-stream", b"x" * 65_537),  # above the cache
        ViewResponse(200, "text/plain", None),  # streamed
        ViewResponse(200, "text/plain\n", b"{}"),  # a content type the cache cannot hold
    ],
)
def test_a_response_not_kept_is_paid_and_a_retry_gets_already_settled(
    charger: Charger, ledger: Ledger, response: ViewResponse
) -> None:
    req, _ = paid(charger)
    first = run(charger, req, View(response))
    assert first.reply is None and decode_payment_response(first.headers[PAYMENT_RESPONSE]).success
    again = run(charger, req)
    assert again.reply is not None and reply_code(again.reply) == (409, "already_settled")
    assert again.reply.headers[PAYMENT_RESPONSE] == first.headers[PAYMENT_RESPONSE]
    assert ledger.balance(pub(PROVIDER)) == PRICE


def test_two_outputs_to_the_provider_summing_to_the_price_pay(charger: Charger) -> None:
    change = FUNDS - PRICE - 1
    outputs = [(pub(PROVIDER), 500), (pub(PROVIDER), PRICE - 500), (pub(ALICE), change)]
    req, _ = paid(charger, outputs=outputs)
    assert run(charger, req).reply is None


def test_the_payer_of_a_payment_with_several_owners_is_its_first_witness(
    charger: Charger, ledger: Ledger
) -> None:
    req = request()
    accept = requirement(charger, req)
    tx = payment(
        accept,
        [(genesis_outpoint(0), FUNDS), (genesis_outpoint(1), FUNDS)],
        BOB,
        expiry_ms=charger.clock() + 30_000,
        outputs=[(pub(PROVIDER), PRICE), (pub(ALICE), 2 * FUNDS - PRICE - 1)],
    ).sign(ALICE, ledger.genesis_hash)
    assert [w.pubkey for w in tx.witnesses] == [pub(BOB), pub(ALICE)]
    header = payment_header(accept, tx)
    outcome = run(charger, attrs.evolve(req, header=lambda name: header))
    response = decode_payment_response(outcome.headers[PAYMENT_RESPONSE])
    assert response.receipt is not None and response.receipt.receipt.payer == pub(BOB)
    assert response.payer == encode_address(pub(BOB))


# --- failed calls cost nothing -------------------------------------------------------


def input_is_free(ledger: Ledger, index: int, signer: SigningKey) -> bool:
    """Whether another payment can hold the input now (the check releases its own hold)."""
    tx = Transaction(
        kind=TxKind.PAYMENT,
        chain_id=ledger.chain_id,
        inputs=(genesis_outpoint(index),),
        outputs=(TxOutput(pub(CAROL), FUNDS - 1),),
        fee=1,
        expiry_ms=ledger.clock() + 60_000,
    ).sign(signer, ledger.genesis_hash)
    try:
        held = ledger.hold(tx, tx.expiry_ms)
    except RejectedError:
        return False
    ledger.release(tx.txid)
    return held.state == "held"


def test_a_view_answering_400_or_more_is_not_charged(charger: Charger, ledger: Ledger) -> None:
    before = snapshot(ledger)
    req, tx = paid(charger)
    failing = ViewResponse(500, "application/json", b'{"error":"boom"}')
    outcome = run(charger, req, View(failing))
    assert outcome.reply is None and outcome.result == failing
    response = decode_payment_response(outcome.headers[PAYMENT_RESPONSE])
    assert not response.success and response.error_reason == "view_failed"
    assert response.receipt is None and response.txid == tx.txid
    assert snapshot(ledger) == before
    view = View()
    assert run(charger, req, view).reply is None and view.runs == 1  # released: it pays now
    assert ledger.balance(pub(PROVIDER)) == PRICE


@pytest.mark.parametrize(("status", "charged"), [(200, True), (399, True), (400, False)])
def test_an_answer_is_charged_below_status_400(
    charger: Charger, ledger: Ledger, status: int, charged: bool
) -> None:
    req, tx = paid(charger)
    outcome = run(charger, req, View(ViewResponse(status, "text/plain", b"done")))
    response = decode_payment_response(outcome.headers[PAYMENT_RESPONSE])
    assert response.success is charged and response.txid == tx.txid
    assert ledger.balance(pub(PROVIDER)) == (PRICE if charged else 0)


@pytest.mark.parametrize("where", ["view", "describe", "body"])
def test_a_view_that_raises_is_not_charged_and_the_error_goes_on(
    charger: Charger, ledger: Ledger, where: str
) -> None:
    before = snapshot(ledger)
    boom = RuntimeError("boom")

    def fail(*args: Any) -> Any:
        raise boom

    base = request(body=fail) if where == "body" else request()
    req, _ = paid(charger, req=base)
    with pytest.raises(RuntimeError) as caught:
        charger.charge(
            req,
            PRICE,
            fail if where == "view" else View(),
            fail if where == "describe" else lambda r: r,
        )
    assert caught.value is boom
    assert snapshot(ledger) == before and input_is_free(ledger, 0, ALICE)


def test_a_body_that_cannot_be_read_is_malformed_and_released(
    charger: Charger, ledger: Ledger
) -> None:
    def short() -> bytes:
        raise EncodingError("the request body ended after 3 of 10 bytes")

    req, _ = paid(charger, req=request(body=short))
    outcome = run(charger, req)
    assert outcome.reply is not None and reply_code(outcome.reply) == (400, "malformed")
    assert input_is_free(ledger, 0, ALICE)


def test_a_settle_refused_after_the_view_answers_the_refusal_and_releases(
    charger: Charger, ledger: Ledger, clock: Clock
) -> None:
    req, _ = paid(charger, expiry_ms=clock.now_ms + 6_000)

    class Slow(View):
        def __call__(self) -> ViewResponse:
            clock.advance(7_000)  # the view outlived the payment
            return super().__call__()

    before = snapshot(ledger)
    outcome = run(charger, req, Slow())
    assert outcome.reply is not None and reply_code(outcome.reply) == (402, "expired")
    assert snapshot(ledger) == before


# --- every refusal: its code, its status, and no change ----------------------------------


def other_deployment_hash() -> bytes:
    return make_genesis(chain_id="another-chain").hash


REFUSALS: dict[str, tuple[dict[str, Any], int, str]] = {
    "another scheme": ({"accepted": {"scheme": "exact"}}, 402, "wrong_scheme"),
    "another network": ({"accepted": {"network": "fontana:other"}}, 402, "wrong_network"),
    "another deployment": ({"accepted": {"genesis_hash": bytes(32)}}, 402, "wrong_network"),
    "another provider": (
        {"accepted": {"pay_to": encode_address(pub(OTHER_PROVIDER))}},
        402,
        "binding_mismatch",
    ),
    "another price": ({"accepted": {"amount": PRICE - 1}}, 402, "wrong_amount"),
    "another asset": ({"accepted": {"asset": "uatom"}}, 402, "wrong_amount"),
    "another method": ({"accepted": {"method": "POST"}}, 402, "binding_mismatch"),
    "another resource": ({"accepted": {"resource": "/other"}}, 402, "binding_mismatch"),
    "bound to another resource": (
        {
            "binding": PaymentBinding(
                pay_to=pub(PROVIDER), amount=PRICE, method="GET", resource="/x"
            )
        },
        402,
        "binding_mismatch",
    ),
    "bound to another provider": (
        {
            "binding": PaymentBinding(
                pay_to=pub(OTHER_PROVIDER),
                amount=PRICE,
                method="GET",
                resource="/weather?city=lisbon",
            )
        },
        402,
        "binding_mismatch",
    ),
    "a transfer": ({"kind": TxKind.TRANSFER}, 402, "not_a_payment"),
    "pays too little": (
        {"outputs": [(pub(PROVIDER), PRICE - 1), (pub(ALICE), FUNDS - PRICE)]},
        402,
        "wrong_amount",
    ),
    "pays too much": (
        {"outputs": [(pub(PROVIDER), PRICE + 1), (pub(ALICE), FUNDS - PRICE - 2)]},
        402,
        "wrong_amount",
    ),
    "expired": ({"expiry_ms": -1}, 402, "expired"),
    "expires too soon": ({"expiry_ms": 4_000}, 402, "expiry_too_soon"),
    "expires too far": ({"expiry_ms": 3_600_000}, 402, "expiry_too_far"),
    "fee too low": ({"fee": 0}, 402, "fee_too_low"),
    "signed for another deployment": (
        {"genesis_hash": other_deployment_hash()},
        402,
        "bad_signature",
    ),
    "another chain id": ({"chain_id": "another-chain"}, 402, "wrong_chain"),
    "outputs exceed inputs": (
        {"outputs": [(pub(PROVIDER), PRICE), (pub(ALICE), FUNDS)]},
        402,
        "insufficient_funds",
    ),
    "no change output": ({"outputs": [(pub(PROVIDER), PRICE)]}, 402, "value_mismatch"),
    "signed by another key": ({"signer": BOB}, 402, "bad_signature"),
    "unknown input": ({"index": 7}, 402, "unknown_input"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_each_refusal_has_its_code_and_changes_nothing(
    charger: Charger, ledger: Ledger, clock: Clock, name: str
) -> None:
    changes, status, code = REFUSALS[name]
    changes = dict(changes)
    if "expiry_ms" in changes:
        changes["expiry_ms"] += clock.now_ms
    signer = changes.pop("signer", ALICE)
    index = changes.pop("index", 0)
    req, _ = paid(charger, signer, index, **changes)
    before = snapshot(ledger)
    view = View()
    outcome = run(charger, req, view)
    assert view.runs == 0 and outcome.reply is not None
    assert reply_code(outcome.reply) == (status, code)
    accepts = decode_payment_required(outcome.reply.headers[PAYMENT_REQUIRED]).accepts
    assert accepts == (requirement(charger),)  # the client can pay again at once
    assert snapshot(ledger) == before and input_is_free(ledger, 0, ALICE)


def test_ledger_state_refusals(charger: Charger, ledger: Ledger) -> None:
    req, tx = paid(charger)
    ledger.hold(tx, tx.expiry_ms)  # another provider process runs this call right now
    outcome = run(charger, req)
    assert outcome.reply is not None and reply_code(outcome.reply) == (409, "payment_in_flight")
    assert outcome.reply.headers["Retry-After"] == "1"
    other_req, _ = paid(charger, req=request("/other"))
    outcome = run(charger, other_req)
    assert outcome.reply is not None and reply_code(outcome.reply) == (402, "input_held")
    ledger.release(tx.txid)
    submitted, submitted_tx = paid(charger, BOB, 1)
    ledger.apply_transaction(submitted_tx)  # applied outside a paid call: it buys nothing
    outcome = run(charger, submitted)
    assert outcome.reply is not None and reply_code(outcome.reply) == (409, "already_settled")
    spent, _ = paid(charger, BOB, 1, req=request("/again"))
    outcome = run(charger, spent)
    assert outcome.reply is not None and reply_code(outcome.reply) == (402, "input_spent")


# --- hostile headers -----------------------------------------------------------------------


@pytest.fixture
def good_header(charger: Charger) -> str:
    req, _ = paid(charger)
    header = req.header(PAYMENT_SIGNATURE)
    assert header is not None
    return header


def refuses(charger: Charger, header: str) -> None:
    view = View()
    outcome = run(charger, request(headers={PAYMENT_SIGNATURE: header}), view)
    assert view.runs == 0
    assert outcome.reply is not None
    status, code = reply_code(outcome.reply)
    assert (status, code) == (400, "malformed") or status == 402, (status, code)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_any_header_text_is_refused_without_a_change(
    charger: Charger, ledger: Ledger, text: str
) -> None:
    before = snapshot(ledger)
    refuses(charger, text)
    assert snapshot(ledger) == before


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(min_value=0), st.characters(codec="ascii"))
def test_a_good_header_with_any_character_changed_is_refused_or_pays_once(
    charger: Charger, ledger: Ledger, good_header: str, pos: int, char: str
) -> None:
    header = (
        good_header[: pos % len(good_header)] + char + good_header[pos % len(good_header) + 1 :]
    )
    outcome = run(charger, request(headers={PAYMENT_SIGNATURE: header}))
    if outcome.reply is None or outcome.reply.status == 200:
        return  # the same payment, reencoded alike: it pays (once; retries replay)
    status, _ = reply_code(outcome.reply)
    assert status in (400, 402, 409)
    assert ledger.balance(pub(PROVIDER)) in (0, PRICE)


# --- configuration and prices ------------------------------------------------------------


def test_prices_must_be_positive_integers(charger: Charger) -> None:
    for bad, error in ((0, ValueError), (2**63, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error):
            charger.challenge(request(), bad)  # type: ignore[arg-type]
    assert charger.price_of(request("/w?n=3"), lambda r: 100 * int(r.target[-1])) == 300


def test_a_charger_refuses_settings_that_cannot_work(ledger: Ledger) -> None:
    backend = LedgerBackend(ledger)
    for kwargs in (
        {"max_timeout_s": 0},
        {"max_timeout_s": 86_401},
        {"max_timeout_s": 5, "min_window_ms": 5_000},
        {"min_window_ms": -1},
        {"cache_max_bytes": -1},
    ):
        with pytest.raises(ConfigError):
            Charger(backend, PROVIDER, **kwargs)
    backend.close()


def test_the_open_height_is_read_at_most_once_per_ttl(charger: Charger, clock: Clock) -> None:
    reads: list[int] = []
    backend = charger.backend
    real = backend.open_height

    def counted() -> int:
        reads.append(1)
        return real()

    backend.open_height = counted  # type: ignore[method-assign]
    for n, signer in enumerate((ALICE, BOB)):
        req, _ = paid(charger, signer, n, req=request(f"/{n}"))
        assert run(charger, req).reply is None
    assert len(reads) == 1
    clock.advance(HEIGHT_TTL_MS)
    req, _ = paid(charger, CAROL, 2, req=request("/later"))
    assert run(charger, req).reply is None
    assert len(reads) == 2

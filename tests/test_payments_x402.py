"""The x402 v2 envelope: interop with x402's own SDK both ways, and strict decoding.

Every header is hostile input: the decoders answer a value or a typed error
(``malformed``, or ``wrong_scheme`` for another scheme's payment), never any
other exception, whatever the bytes.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

import pytest
import x402.http.utils as x402_utils  # x402's own SDK (test extra): it must decode our envelope
import x402.schemas as x402_schemas
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import CHAIN_ID, key, pub
from payments_helpers import CONSUMERS, consumer_utxo, payment, payments_genesis

from fontana.address import encode_address
from fontana.errors import EncodingError, FontanaError
from fontana.models import Receipt, SignedReceipt
from fontana.payments.errors import WrongSchemeError
from fontana.payments.x402 import (
    MAX_HEADER_CHARS,
    PaymentPayload,
    PaymentRequired,
    PaymentRequirement,
    ResourceInfo,
    decode_payment_payload,
    decode_payment_required,
    decode_payment_response,
    dumps,
    encode_header,
    settle_response,
)

PROVIDER = key(9)
GENESIS = payments_genesis()


def requirement(**changes: Any) -> PaymentRequirement:
    fields: dict[str, Any] = {
        "network": f"fontana:{CHAIN_ID}",
        "amount": 1500,
        "pay_to": encode_address(pub(PROVIDER)),
        "max_timeout_s": 60,
        "genesis_hash": GENESIS.hash,
        "method": "GET",
        "resource": "/weather?city=lisbon",
        "min_fee": 1,
        "node_url": "http://127.0.0.1:26657",
    }
    return PaymentRequirement(**(fields | changes))


def challenge(**changes: Any) -> PaymentRequired:
    resource = ResourceInfo("http://api.example/weather?city=lisbon", "weather", "application/json")
    return PaymentRequired(
        "payment_required", "this call costs 1500 utia", resource, (requirement(**changes),)
    )


@cache
def a_payload() -> PaymentPayload:
    req = requirement()
    tx = payment(req, [(consumer_utxo(0, GENESIS), 1_000_000)], CONSUMERS[0])
    return PaymentPayload(req, tx, ResourceInfo("http://api.example/weather?city=lisbon"))


def signed_receipt(txid: bytes) -> SignedReceipt:
    receipt = Receipt(
        chain_id=CHAIN_ID,
        txid=txid,
        payer=pub(CONSUMERS[0]),
        payee=pub(PROVIDER),
        amount=1500,
        method="GET",
        resource="/weather?city=lisbon",
        request_hash=bytes(32),
        issued_at_ms=1_700_000_000_000,
        expected_height=3,
    )
    return SignedReceipt.sign(receipt, PROVIDER, GENESIS.hash)


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.b64encode(raw).decode()


# --- interop with x402's SDK ------------------------------------------------------


def test_the_sdk_decodes_our_challenge() -> None:
    header = encode_header(challenge())
    theirs = x402_utils.decode_payment_required_header(header)
    assert isinstance(theirs, x402_schemas.PaymentRequired)
    assert theirs.x402_version == 2 and theirs.error == "payment_required"
    assert theirs.resource.url == "http://api.example/weather?city=lisbon"
    (accept,) = theirs.accepts
    assert (accept.scheme, accept.network, accept.asset) == (
        "fontana",
        f"fontana:{CHAIN_ID}",
        "utia",
    )
    assert accept.amount == "1500" and accept.max_timeout_seconds == 60
    assert accept.pay_to == encode_address(pub(PROVIDER))
    assert accept.extra == {
        "genesisHash": GENESIS.hash.hex(),
        "method": "GET",
        "resource": "/weather?city=lisbon",
        "minFee": "1",
        "nodeUrl": "http://127.0.0.1:26657",
    }
    # And their re-encoding of it is ours to decode again.
    again = x402_utils.encode_payment_required_header(theirs)
    assert decode_payment_required(again).accepts == challenge().accepts


def test_we_decode_a_payment_their_models_serialize() -> None:
    ours = a_payload()
    accepted = x402_schemas.PaymentRequirements.model_validate(ours.accepted.to_json())
    theirs = x402_schemas.PaymentPayload(
        x402_version=2,
        payload={"transaction": ours.transaction.to_bytes().hex()},
        accepted=accepted,
        resource=x402_schemas.ResourceInfo(url="http://api.example/weather?city=lisbon"),
        extensions={"bazaar": {"info": {"anything": [1, 2]}}},
    )
    decoded = decode_payment_payload(x402_utils.encode_payment_signature_header(theirs))
    assert decoded == ours


def test_the_sdk_decodes_our_payment_and_settle_response() -> None:
    ours = a_payload()
    theirs = x402_utils.decode_payment_signature_header(encode_header(ours))
    assert theirs.accepted.scheme == "fontana"
    assert theirs.payload == {"transaction": ours.transaction.to_bytes().hex()}
    signed = signed_receipt(ours.transaction.txid)
    response = settle_response(
        txid=ours.transaction.txid,
        network=f"fontana:{CHAIN_ID}",
        payer=encode_address(pub(CONSUMERS[0])),
        amount=1500,
        receipt=signed,
    )
    settled = x402_utils.decode_payment_response_header(encode_header(response))
    assert settled.success is True and settled.transaction == ours.transaction.txid.hex()
    assert settled.network == f"fontana:{CHAIN_ID}" and settled.amount == "1500"
    assert settled.extensions == {"fontana": {"receipt": signed.to_json()}}
    back = x402_utils.encode_payment_response_header(settled)
    assert decode_payment_response(back) == response


def test_a_failed_call_response_round_trips_through_the_sdk() -> None:
    failed = settle_response(
        txid=bytes(range(32)),
        network=f"fontana:{CHAIN_ID}",
        payer=encode_address(pub(CONSUMERS[0])),
        amount=7,
        error_reason="view_failed",
        error_message="the call answered 500; nothing was charged",
    )
    theirs = x402_utils.decode_payment_response_header(encode_header(failed))
    assert theirs.success is False and theirs.error_reason == "view_failed"
    assert decode_payment_response(x402_utils.encode_payment_response_header(theirs)) == failed


def test_other_schemes_in_a_challenge_are_skipped_and_a_payment_for_one_is_wrong_scheme() -> None:
    data = challenge().to_json()
    other = {**data["accepts"][0], "scheme": "exact", "extra": {"name": "USDC"}}
    data["accepts"].insert(0, other)
    assert decode_payment_required(b64(data)).accepts == challenge().accepts
    payload = a_payload().to_json()
    payload["accepted"] = other
    payload["payload"] = {"signature": "0x00", "authorization": {}}
    with pytest.raises(WrongSchemeError):
        decode_payment_payload(b64(payload))


def test_round_trips() -> None:
    assert decode_payment_required(encode_header(challenge())) == challenge()
    assert decode_payment_payload(encode_header(a_payload())) == a_payload()
    without_node = challenge(node_url=None)
    assert "nodeUrl" not in without_node.to_json()["accepts"][0]["extra"]
    assert decode_payment_required(encode_header(without_node)) == without_node
    assert encode_header(challenge()) == base64.b64encode(dumps(challenge().to_json())).decode()


# --- strict decoding ---------------------------------------------------------------


def payload_json() -> dict[str, Any]:
    return a_payload().to_json()


def edited(path: str, value: Any) -> dict[str, Any]:
    """The payload JSON with the value at a dotted ``path`` replaced (``...`` deletes it)."""
    data = payload_json()
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


MALFORMED_PAYLOADS = {
    "version 1": edited("x402Version", 1),
    "version true": edited("x402Version", True),
    "version float": edited("x402Version", 2.0),
    "version missing": edited("x402Version", ...),
    "unknown top key": {**payload_json(), "scheme": "fontana"},
    "payload missing": edited("payload", ...),
    "payload extra key": edited("payload", {"transaction": "00", "signature": "x"}),
    "transaction uppercase": edited(
        "payload.transaction", a_payload().transaction.to_bytes().hex().upper()
    ),
    "transaction odd": edited("payload.transaction", "abc"),
    "transaction empty": edited("payload.transaction", ""),
    "transaction not a tx": edited("payload.transaction", "00" * 40),
    "transaction trailing byte": edited(
        "payload.transaction", a_payload().transaction.to_bytes().hex() + "00"
    ),
    "transaction a number": edited("payload.transaction", 12),
    "amount int": edited("accepted.amount", 1500),
    "amount leading zero": edited("accepted.amount", "01500"),
    "amount zero": edited("accepted.amount", "0"),
    "amount negative": edited("accepted.amount", "-1"),
    "amount fraction": edited("accepted.amount", "1.5"),
    "amount huge": edited("accepted.amount", "1" * 25),
    "amount above u64": edited("accepted.amount", str(2**64)),
    "timeout string": edited("accepted.maxTimeoutSeconds", "60"),
    "timeout bool": edited("accepted.maxTimeoutSeconds", True),
    "timeout zero": edited("accepted.maxTimeoutSeconds", 0),
    "timeout float": edited("accepted.maxTimeoutSeconds", 60.0),
    "payTo not an address": edited("accepted.payTo", "fnt1qqqq"),
    "payTo a number": edited("accepted.payTo", 5),
    "genesis uppercase": edited("accepted.extra.genesisHash", GENESIS.hash.hex().upper()),
    "genesis short": edited("accepted.extra.genesisHash", "ab"),
    "extra unknown key": edited("accepted.extra.colour", "red"),
    "extra missing method": edited("accepted.extra.method", ...),
    "extra not an object": edited("accepted.extra", []),
    "method too long": edited("accepted.extra.method", "G" * 17),
    "minFee int": edited("accepted.extra.minFee", 1),
    "nodeUrl null": edited("accepted.extra.nodeUrl", None),
    "accepted unknown key": edited("accepted.colour", "red"),
    "accepted missing asset": edited("accepted.asset", ...),
    "accepted a list": edited("accepted", []),
    "scheme a number": edited("accepted.scheme", 3),
    "resource without url": edited("resource", {"description": "x"}),
    "resource unknown key": edited("resource.colour", "red"),
    "resource tags not a list": edited("resource.tags", "a"),
    "extensions a list": edited("extensions", []),
    "lone surrogate": edited("accepted.extra.resource", "/\ud800"),
    "top level list": [payload_json()],  # type: ignore[dict-item]
}


@pytest.mark.parametrize("name", sorted(MALFORMED_PAYLOADS))
def test_malformed_payloads_are_encoding_errors(name: str) -> None:
    with pytest.raises(EncodingError) as caught:
        decode_payment_payload(b64(MALFORMED_PAYLOADS[name]))
    assert caught.value.message.startswith("PAYMENT-SIGNATURE")


def good_raw() -> bytes:
    return dumps(payload_json())


MALFORMED_TEXTS = {
    "empty": "",
    "not base64": "!!!!",
    "whitespace": " " + b64(good_raw()),
    "newline inside": b64(good_raw())[:10] + "\n" + b64(good_raw())[10:],
    "url-safe alphabet": base64.urlsafe_b64encode(b"\xfb\xff" + good_raw()).decode(),
    "unpadded": b64(b"{}").rstrip("="),
    "nonzero padding bits": "e30=".replace("0", "1"),
    "non-ascii": b64(good_raw()) + "é",
    "not utf-8": b64(b'{"x402Version": 2, "a": "\xff"}'),
    "not json": b64(b"x402"),
    "duplicate keys": b64(b'{"x402Version": 2, "x402Version": 2}'),
    "nan": b64(b'{"x402Version": NaN}'),
    "infinity": b64(b'{"x402Version": -Infinity}'),
    "long number": b64(b'{"x402Version": ' + b"9" * 5000 + b"}"),
    "deep": b64(b'{"x402Version": 2, "extensions": ' + b"[" * 9 + b"]" * 9 + b"}"),
    "very deep": b64(b"[" * 100_000 + b"]" * 100_000)[: MAX_HEADER_CHARS - 4] + "AAAA",
    "recursion": b64(b"[" * 40_000),
    "too long": "A" * (MAX_HEADER_CHARS + 4),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_TEXTS))
def test_malformed_header_texts_are_encoding_errors(name: str) -> None:
    for decode in (decode_payment_payload, decode_payment_required, decode_payment_response):
        with pytest.raises(EncodingError):
            decode(MALFORMED_TEXTS[name])


def nested(levels: int) -> dict[str, Any]:
    """An object ``levels`` containers deep."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_nesting_is_bounded_wherever_the_shape_is_free() -> None:
    payload = payload_json()
    assert decode_payment_payload(b64({**payload, "extensions": nested(7)}))  # 8 with the top
    with pytest.raises(EncodingError, match="nested deeper than 8"):
        decode_payment_payload(b64({**payload, "extensions": nested(8)}))
    data = challenge().to_json()
    other = {**data["accepts"][0], "scheme": "exact"}
    assert decode_payment_required(b64({**data, "accepts": [{**other, "extra": nested(5)}]}))
    with pytest.raises(EncodingError, match="nested deeper than 8"):
        decode_payment_required(b64({**data, "accepts": [{**other, "extra": nested(6)}]}))


def test_a_header_too_long_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded a header above the size cap")

    monkeypatch.setattr(base64, "b64decode", never)
    with pytest.raises(EncodingError, match="above the maximum"):
        decode_payment_payload("A" * (MAX_HEADER_CHARS + 4))


def test_a_settle_response_must_be_consistent() -> None:
    txid = a_payload().transaction.txid
    good = settle_response(
        txid=txid,
        network="fontana:x",
        payer=encode_address(pub(CONSUMERS[0])),
        amount=5,
        receipt=signed_receipt(txid),
    ).to_json()
    assert decode_payment_response(b64(good)).receipt == signed_receipt(txid)
    for bad in (
        {k: v for k, v in good.items() if k != "extensions"},  # success without a receipt
        {**good, "errorReason": "view_failed"},
        {**good, "success": "true"},
        {**good, "transaction": txid.hex().upper()},
        {**good, "extensions": {"fontana": {"receipt": {}}}},
        {**good, "extensions": {"other": {}}},
        {**good, "colour": 1},
    ):
        with pytest.raises(EncodingError):
            decode_payment_response(b64(bad))


# --- properties: any input gives a value or a typed error ----------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def decodes_or_refuses(text: str) -> None:
    for decode in (decode_payment_payload, decode_payment_required, decode_payment_response):
        try:
            decode(text)
        except FontanaError as exc:
            assert exc.code in ("malformed", "wrong_scheme", "bad_address", "bad_amount")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_decodes_or_is_refused(text: str) -> None:
    decodes_or_refuses(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_base64_decodes_or_is_refused(raw: bytes) -> None:
    decodes_or_refuses(base64.b64encode(raw).decode())


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_decodes_or_is_refused(value: Any) -> None:
    decodes_or_refuses(b64(dumps({"v": value})[5:-1]))


def _mutations(data: Any) -> st.SearchStrategy[Any]:
    """The payload JSON with one value somewhere replaced by any JSON value."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))

    walk(data, ())
    return st.tuples(st.sampled_from(paths[1:]), json_values)


@settings(max_examples=300, deadline=None)
@given(_mutations(payload_json()))
def test_a_payload_with_any_field_replaced_decodes_or_is_refused(
    mutation: tuple[tuple[Any, ...], Any],
) -> None:
    path, value = mutation
    data = payload_json()
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    decodes_or_refuses(b64(dumps(data)))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=255))
def test_a_payload_with_any_byte_changed_decodes_or_is_refused(pos: int, byte: int) -> None:
    raw = bytearray(good_raw())
    raw[pos % len(raw)] = byte
    decodes_or_refuses(b64(bytes(raw)))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=2**63 - 1),
    st.integers(min_value=1, max_value=2**32 - 1),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=16),
    st.text(min_size=0, max_size=100).map(lambda s: "/" + s),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.none() | st.text(max_size=50),
)
def test_any_valid_requirement_round_trips(
    amount: int, timeout: int, method: str, resource: str, min_fee: int, node_url: str | None
) -> None:
    try:
        resource.encode("utf-8")
        node_url is None or node_url.encode("utf-8")
    except UnicodeEncodeError:
        return
    req = requirement(
        amount=amount,
        max_timeout_s=timeout,
        method=method,
        resource=resource,
        min_fee=min_fee,
        node_url=node_url or None,
    )
    ours = PaymentRequired("payment_required", "m", None, (req,))
    assert decode_payment_required(encode_header(ours)) == ours
    theirs = x402_utils.decode_payment_required_header(encode_header(ours))
    assert theirs.accepts[0].amount == str(amount)

"""Hostile requests to a real ``fontana serve``: each gets the API's JSON error with the right
status and code, the server stays up, and the ledger is unchanged.

Sizes are refused by what the request declares, before the body is read: the
huge-body cases send only their headers and still get their answer.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from ledger_helpers import ALICE, create_ledger, make_genesis, make_transfer, pub, snapshot

from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.ledger import Ledger
from fontana.node.request import MAX_BODY, MAX_JSON_DEPTH, MAX_TARGET
from fontana.testing.node import NodeProcess, serve_node

JSON = "application/json"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, NodeProcess]]:
    tmp = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{tmp}/ledger.db"
    ledger = create_ledger(url, tmp / "home", make_genesis(genesis_time_ms=now_ms()), now_ms)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {"FONTANA_HOME": str(tmp / "home"), "FONTANA_STORAGE_URL": url}
    with serve_node(env) as node:
        before = snapshot(ledger)
        yield ledger, node
        assert snapshot(ledger) == before  # no hostile request changed anything
    ledger.storage.close()


def raw(url: str, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send ``request`` as is, then read the answer until the server closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def http(
    url: str,
    method: str,
    target: str,
    body: bytes | None = None,
    content_type: str | None = JSON,
    extra: str = "",
) -> tuple[int, dict[str, str], Any]:
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
    return raw(url, head.encode("latin-1") + b"\r\n" + (body or b""))


def refused(answer: tuple[int, dict[str, str], Any], status: int, code: str) -> str:
    got, headers, body = answer
    assert (got, body["error"]["code"]) == (status, code), body
    assert headers["Content-Type"] == JSON
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["message"])


def still_serving(url: str) -> None:
    assert http(url, "GET", "/v1/status")[0] == 200


def submit(
    url: str, body: bytes, content_type: str | None = JSON
) -> tuple[int, dict[str, str], Any]:
    return http(url, "POST", "/v1/transactions", body, content_type)


# -- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [MAX_BODY + 1, 10**9, 10**19])
def test_a_huge_body_is_refused_before_it_is_read(served: Any, declared: int) -> None:
    _, node = served
    head = (
        f"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    message = refused(raw(node.url, head.encode()), 413, "body_too_large")
    assert str(MAX_BODY) in message
    still_serving(node.url)


def test_a_body_at_the_limit_is_read_and_judged(served: Any) -> None:
    _, node = served
    body = b'{"transaction": "' + b"ab" * ((MAX_BODY - 20) // 2) + b'"}'
    body += b" " * (MAX_BODY - len(body))
    assert len(body) == MAX_BODY
    refused(submit(node.url, body), 400, "malformed")


def test_a_body_shorter_than_declared(served: Any) -> None:
    _, node = served
    head = b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request = head + b"Content-Length: 100\r\n\r\n{}"
    # The client closes its side; the server sees the body end early.
    parts = urlsplit(node.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert b" 400 " in answer.split(b"\r\n")[0] and b"the body ended" in answer


def test_length_is_required(served: Any) -> None:
    _, node = served
    for extra in ("", "Transfer-Encoding: chunked\r\n"):
        head = f"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\n{extra}\r\n"
        body = b"2\r\n{}\r\n0\r\n\r\n" if extra else b""
        refused(raw(node.url, head.encode() + body), 411, "length_required")


@pytest.mark.parametrize("declared", ["-1", "1e3", "0x10", "１０", "1 0"])
def test_a_content_length_that_is_no_number(served: Any, declared: str) -> None:
    _, node = served
    head = f"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\n"
    head += f"Content-Length: {declared}\r\n\r\n"
    assert raw(node.url, head.encode("utf-8"))[0] == 400


def test_a_long_target_is_refused(served: Any) -> None:
    _, node = served
    refused(http(node.url, "GET", "/v1/status?" + "a" * MAX_TARGET), 414, "uri_too_long")
    refused(http(node.url, "GET", "/" + "a" * 70_000), 414, "uri_too_long")  # the HTTP layer's
    still_serving(node.url)


def test_too_many_headers(served: Any) -> None:
    _, node = served
    many = "".join(f"X-{n}: y\r\n" for n in range(200))
    status, _, body = http(node.url, "GET", "/v1/status", extra=many)
    assert status == 431 and body["error"]["code"] == "headers_too_large"


# -- JSON ------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"transaction": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_json_nesting(served: Any) -> None:
    _, node = served
    message = refused(submit(node.url, nested(MAX_JSON_DEPTH + 1)), 400, "malformed")
    assert "nested deeper" in message
    message = refused(submit(node.url, nested(MAX_JSON_DEPTH)), 400, "malformed")
    assert "nested deeper" not in message  # within the limit: judged on its content
    deep = b"[" * (MAX_BODY - 10)
    assert "nested deeper" in refused(submit(node.url, deep), 400, "malformed")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"transaction": "00", "transaction": "00"}', "duplicate key"),
        (b'{"transaction": 1.5}', "not an integer"),
        (b'{"transaction": 1e3}', "not an integer"),
        (b'{"transaction": NaN}', "not a JSON number"),
        (b'{"transaction": -Infinity}', "not a JSON number"),
        (b'{"transaction": ' + b"9" * 100 + b"}", "a number of 100 digits"),
        (b'{"transaction": "00", "fee": "1"}', "unknown keys fee"),
        (b"{}", "missing keys transaction"),
        (b'{"transaction": "zz"}', "not lowercase hex"),
        (b'{"transaction": "ABCD"}', "not lowercase hex"),
        (b'{"transaction": "0x00"}', "not lowercase hex"),
        (b'{"transaction": "abc"}', "not lowercase hex"),
        (b'{"transaction": "\\ud800"}', "not lowercase hex"),
        (b'{"transaction": "\xc3\xa9"}', "not lowercase hex"),
        (b'{"transaction": "\xff"}', "not valid UTF-8"),
        (b'\xef\xbb\xbf{"transaction": "00"}', "not valid JSON"),
        (b'{"transaction": null}', "expected hex"),
        (b'{"transaction": "00"}', "transaction"),
    ],
)
def test_malformed_bodies(served: Any, body: bytes, why: str) -> None:
    _, node = served
    assert why in refused(submit(node.url, body), 400, "malformed")


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/json; charset=latin-1", "application/jsonx"]
)
def test_content_type_must_be_json(served: Any, content_type: str | None) -> None:
    _, node = served
    refused(submit(node.url, b'{"transaction": "00"}', content_type), 415, "unsupported_media_type")


def test_a_get_has_no_body(served: Any) -> None:
    _, node = served
    refused(http(node.url, "GET", "/v1/status", b"{}"), 400, "malformed")


# -- paths and queries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "fnt1",
        "fnt1xyz",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "%00",
        "fnt1%C3%A9",
        "%E2%84%AA",  # KELVIN SIGN, which lower() turns into an ASCII k
        "FNT1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqvq5h6k",  # mixed case
        "a" * 200,
    ],
)
def test_unknown_address_text(served: Any, address: str) -> None:
    _, node = served
    refused(http(node.url, "GET", f"/v1/addresses/{address}/balance"), 400, "bad_address")


def test_an_upper_case_address_is_the_same_address(served: Any) -> None:
    _, node = served
    text = encode_address(pub(ALICE))
    status, _, body = http(node.url, "GET", f"/v1/addresses/{text.upper()}/balance")
    assert status == 200 and body["address"] == text


@pytest.mark.parametrize(
    "txid",
    ["00", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "0x" + "0" * 62, "%C3%A9" * 32, "%FF"],
)
def test_bad_txids(served: Any, txid: str) -> None:
    _, node = served
    refused(http(node.url, "GET", f"/v1/transactions/{txid}"), 400, "malformed")
    refused(http(node.url, "GET", f"/v1/proofs/utxos/{txid}/0"), 400, "malformed")


@pytest.mark.parametrize("index", ["65536", "00", "-1", "+1", "1.0", "%D9%A1", str(2**64)])
def test_bad_output_indexes(served: Any, index: str) -> None:
    _, node = served
    txid = "0" * 64
    refused(http(node.url, "GET", f"/v1/proofs/utxos/{txid}/{index}"), 400, "malformed")


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=",
        "limit=1&limit=2",
        "offset=1",
        "limit=%FF",
        "limit",
        "&&",
        "limit=1;x=2",
        "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9",
    ],
)
def test_bad_queries(served: Any, query: str) -> None:
    _, node = served
    address = encode_address(pub(ALICE))
    refused(http(node.url, "GET", f"/v1/addresses/{address}/utxos?{query}"), 400, "malformed")


def test_a_height_beyond_the_tip(served: Any) -> None:
    ledger, node = served
    tip = ledger.latest_block().height
    genesis = ledger.genesis_hash.hex()
    for target in (
        f"/v1/blocks/{tip + 1}",
        f"/v1/proofs/utxos/{genesis}/0?height={tip + 1}",
        f"/v1/proofs/utxos/{genesis}/0?height={2**64 - 1}",
    ):
        assert "the tip is" in refused(http(node.url, "GET", target), 404, "not_found")


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/v1",
        "/v1/status/",
        "/v1/blocks/../status",
        "/v1/blocks/%2F1",
        "/V1/status",
        "/v1/addresses//balance",
        "/v2/status",
        "/openapi.yaml",
    ],
)
def test_unknown_routes(served: Any, target: str) -> None:
    _, node = served
    refused(http(node.url, "GET", target), 404, "not_found")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "TRACE", "get", "FOO"])
def test_methods(served: Any, method: str) -> None:
    _, node = served
    status, headers, body = http(node.url, method, "/v1/status")
    assert (status, body["error"]["code"], headers["Allow"]) == (405, "method_not_allowed", "GET")


def test_head_is_refused_without_a_body(served: Any) -> None:
    _, node = served
    parts = urlsplit(node.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"HEAD /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"405" and body == b""


def test_a_request_line_that_is_no_http(served: Any) -> None:
    """Answered as HTTP/0.9 would be (no status line, no headers), but still in JSON."""
    _, node = served
    parts = urlsplit(node.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert json.loads(answer)["error"]["code"] == "malformed"
    still_serving(node.url)


def test_a_transfer_still_works_after_all_that(served: Any) -> None:
    """After all that, a well-formed request is still judged on its merits."""
    ledger, node = served
    coin = ledger.utxos(pub(ALICE))[0]
    tx = make_transfer(
        [coin],
        [(pub(ALICE), coin.amount - 1)],
        [ALICE],
        expiry_ms=1,
        genesis_hash=ledger.genesis_hash,
    )
    body = json.dumps({"transaction": tx.to_bytes().hex()}).encode()
    refused(submit(node.url, body), 422, "expired")

"""Properties of the node's request parsing, and of the whole app on arbitrary requests.

Whatever arrives, the parsers either give a value that re-encodes to the input
or raise a typed error, and the app answers with a documented status and the
JSON error shape, never a 500, and changes nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import ALICE, create_ledger, make_genesis, pub, snapshot

from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.errors import EncodingError, FontanaError
from fontana.node.app import NodeApp
from fontana.node.errors import error_from_code, http_status
from fontana.node.request import (
    MAX_BODY,
    MAX_JSON_DEPTH,
    parse_height,
    parse_index,
    parse_json,
    parse_query,
    parse_txid,
)

json_leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(json_values)
def test_json_within_the_limits_round_trips(value: Any) -> None:
    text = json.dumps(value).encode()
    if depth(value) > MAX_JSON_DEPTH:
        with pytest.raises(EncodingError, match="nested deeper"):
            parse_json(text)
    else:
        assert parse_json(text) == value


@given(st.integers(1, 3 * MAX_JSON_DEPTH), st.sampled_from(["[", '{"a":']))
def test_nesting_is_counted_exactly(levels: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = (opener * levels + "0" + closer * levels).encode()
    if levels > MAX_JSON_DEPTH:
        with pytest.raises(EncodingError, match="nested deeper"):
            parse_json(text)
    else:
        assert depth(parse_json(text)) == levels


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_fail_typed(data: bytes) -> None:
    with contextlib.suppress(EncodingError):
        parse_json(data)


@given(st.text(alphabet='{}[]":,0123456789 truefalsn\\u', max_size=200))
def test_json_shaped_text_parses_or_fails_typed(text: str) -> None:
    try:
        value = parse_json(text.encode())
    except EncodingError:
        return
    assert depth(value) <= MAX_JSON_DEPTH


@given(st.binary(min_size=32, max_size=32))
def test_txids_round_trip(raw: bytes) -> None:
    assert parse_txid(raw.hex()) == raw


@given(st.text(max_size=70))
def test_txid_text_is_exactly_64_lower_hex(text: str) -> None:
    valid = len(text) == 64 and all(c in "0123456789abcdef" for c in text)
    if valid:
        assert parse_txid(text).hex() == text
    else:
        with pytest.raises(EncodingError):
            parse_txid(text)


@given(st.integers(0, 2**64 - 1))
def test_heights_round_trip(height: int) -> None:
    assert parse_height(str(height)) == height


@given(st.text(alphabet=string.digits + "+-. x_e١０", max_size=25))
def test_height_text_is_canonical_decimal(text: str) -> None:
    try:
        height = parse_height(text)
    except EncodingError:
        return
    assert str(height) == text and height < 2**64


@given(st.text(max_size=8))
def test_index_text(text: str) -> None:
    try:
        index = parse_index(text)
    except EncodingError:
        return
    assert str(index) == text and 0 <= index < 2**16


@given(st.text(max_size=60))
def test_queries_parse_or_fail_typed(text: str) -> None:
    try:
        parsed = parse_query(text, {"height": parse_height})
    except EncodingError:
        return
    assert set(parsed) <= {"height"}


def test_every_error_code_comes_back_as_its_class() -> None:
    """The client rebuilds the server's error from its code: same class, same code."""
    from fontana.node.errors import _error_classes

    for code, cls in _error_classes().items():
        exc = error_from_code(code, "m")
        assert (type(exc), exc.code, exc.message) == (cls, code, "m")
    unknown = error_from_code("from_a_newer_node", "m")
    assert type(unknown) is FontanaError and unknown.code == "from_a_newer_node"


# -- the whole app, in process -----------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeApp]:
    tmp: Path = tmp_path_factory.mktemp("parsing")
    ledger = create_ledger(
        f"sqlite:///{tmp}/ledger.db", tmp / "home", make_genesis(genesis_time_ms=now_ms()), now_ms
    )
    before = snapshot(ledger)
    yield NodeApp(ledger)
    assert snapshot(ledger) == before
    ledger.storage.close()


SEGMENTS = st.sampled_from(
    [
        "v1",
        "status",
        "genesis",
        "addresses",
        "balance",
        "utxos",
        "transactions",
        "blocks",
        "proofs",
        "payments",
        "hold",
        "settle",
        "release",
        "receipts",
        "openapi.json",
        "0",
        "1",
        "00",
        "-1",
        "18446744073709551616",
        "",
        "..",
        "a" * 64,
        "f" * 64,
        encode_address(pub(ALICE)),
        "fnt1",
        "\xc3\xa9",
        "\xff",
        "\x00",
    ]
) | st.text(max_size=12)
#: What a correct answer may be: OK, malformed, private only, not found, method, sizes,
#: media type, refused.
STATUSES = {200, 400, 403, 404, 405, 411, 413, 414, 415, 422}


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD", "get", ""]),
    segments=st.lists(SEGMENTS, max_size=6),
    query=st.text(max_size=30),
    body=st.none() | st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; x"]),
)
def test_any_request_gets_a_documented_answer(
    app: NodeApp,
    method: str,
    segments: list[str],
    query: str,
    body: bytes | None,
    content_type: str,
) -> None:
    path = "/" + "/".join(segments)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        # WSGI hands the path over as latin-1 text of its bytes
        "PATH_INFO": path.encode("utf-8", "surrogatepass").decode("latin-1"),
        "QUERY_STRING": query.encode("utf-8", "surrogatepass").decode("latin-1"),
        "CONTENT_TYPE": content_type,
        "wsgi.input": io.BytesIO(body or b""),
    }
    if body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
    status, answer, _ = app.respond(environ)
    assert status in STATUSES, answer
    json.dumps(answer, ensure_ascii=True)
    if status != 200:
        assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}


def test_status_table() -> None:
    """Malformed is 400, refusals 422, conflicts 409, the database down 503, else 500."""
    from fontana.errors import (
        InputSpentError,
        InsufficientFundsError,
        StorageUnavailableError,
    )

    assert http_status(EncodingError("x")) == 400
    assert http_status(InsufficientFundsError("x")) == 422
    assert http_status(InputSpentError("x")) == 409
    assert http_status(StorageUnavailableError("x")) == 503
    assert http_status(FontanaError("x")) == 500
    assert MAX_BODY == 64 * 1024

"""The wire types and the Reader, tagged hashing and the tx Merkle root."""

from __future__ import annotations

import hashlib
from enum import IntEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fontana.da.local import TAG_LOCAL_COMMITMENT
from fontana.encoding import Reader
from fontana.errors import EncodingError
from fontana.hashing import ALL_TAGS, merkle_root, tagged_hash
from fontana.models.codec import (
    U8,
    U16,
    U32,
    U64,
    Bytes,
    BytesItem,
    Enum,
    ListOf,
    Option,
    String,
    Text,
    UInt,
    VarBytes,
    Version,
    Wire,
)


class Color(IntEnum):
    RED = 1
    BLUE = 2


def _encode(wire: Wire, value: object) -> bytes:
    out: list[bytes] = []
    wire.write(value, out)
    return b"".join(out)


def _decode(wire: Wire, data: bytes) -> object:
    r = Reader(data, "t")
    value = wire.read(r, "f")
    r.finish()
    return value


CHAIN = String(32, r"[a-z]{1,32}", "lowercase")


@given(st.integers(0, 2**8 - 1), st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1),
       st.integers(0, 2**64 - 1), st.binary(max_size=40), st.text("abc", min_size=1, max_size=20),
       st.none() | st.binary(min_size=4, max_size=4))  # fmt: skip
def test_round_trip(
    a: int, b: int, c: int, d: int, blob: bytes, text: str, opt: bytes | None
) -> None:
    cases: list[tuple[Wire, object]] = [(U8, a), (U16, b), (U32, c), (U64, d), (VarBytes(40), blob),
        (CHAIN, text), (Option(Bytes(4)), opt), (Enum(Color), Color.BLUE)]  # fmt: skip
    for wire, value in cases:
        assert wire.problem(value) is None
        assert _decode(wire, _encode(wire, value)) == value


def test_big_endian_fixed_width() -> None:
    assert _encode(U16, 0x0102) == bytes.fromhex("0102")
    assert _encode(U32, 1) == bytes.fromhex("00000001")
    assert _encode(U64, 2**64 - 1) == b"\xff" * 8
    assert _encode(VarBytes(2), b"ab") == bytes.fromhex("00000002") + b"ab"
    assert _encode(CHAIN, "hi") == b"\x02hi"
    assert _encode(Option(U8), None) == b"\x00"
    assert _encode(Option(U8), 7) == b"\x01\x07"


@pytest.mark.parametrize(("wire", "value"), [(U8, 256), (U16, -1), (U32, 2**32), (U64, 2**64),
    (U64, True), (U64, 1.0), (U64, "1"), (U64, None), (Bytes(2), b"x"), (Bytes(2), bytearray(2)),
    (VarBytes(4), b"x" * 5), (CHAIN, "a" * 33), (CHAIN, ""), (CHAIN, "A"), (Enum(Color), 1),
    (UInt(32, low=1), 0), (UInt(16, high=9), 10), (Version(1), 2), (Version(1), True)])  # fmt: skip
def test_values_a_wire_refuses(wire: Wire, value: object) -> None:
    assert wire.problem(value) is not None


def test_reader_names_the_field_on_truncation() -> None:
    r = Reader(b"\x00\x01", "tx")
    r.push("inputs")
    r.push(0)
    with pytest.raises(EncodingError, match=r"tx\.inputs\[0\]\.index: truncated"):
        U32.read(r, "index")


def test_reader_rejects_trailing_bytes() -> None:
    r = Reader(b"\x01\x02", "thing")
    U8.read(r, "a")
    with pytest.raises(EncodingError, match="thing: 1 trailing bytes"):
        r.finish()


def test_varbytes_oversize_is_rejected_before_reading() -> None:
    with pytest.raises(EncodingError, match="t.f: length 4294967295 above the maximum 10"):
        _decode(VarBytes(10), b"\xff\xff\xff\xff")


def test_string_limits_and_utf8() -> None:
    with pytest.raises(EncodingError, match="maximum"):
        _decode(String(2, ".*", "any"), b"\x03abc")
    with pytest.raises(EncodingError, match="UTF-8"):
        _decode(String(2, ".*", "any"), b"\x01\xff")
    with pytest.raises(EncodingError, match="is not lowercase"):
        _decode(CHAIN, b"\x01A")


def test_count_and_option_and_enum() -> None:
    from fontana.models import OutPoint

    with pytest.raises(EncodingError, match="65 items, above the maximum 64"):
        _decode(ListOf(OutPoint, 0, 64), b"\x00\x41")
    with pytest.raises(EncodingError, match="0 items, below the minimum 1"):
        _decode(ListOf(OutPoint, 1, 64), b"\x00\x00")
    with pytest.raises(EncodingError, match="option tag 2"):
        _decode(Option(U8), b"\x02")
    assert _decode(Enum(Color), b"\x02") is Color.BLUE
    with pytest.raises(EncodingError, match="unknown value 3"):
        _decode(Enum(Color), b"\x03")


TARGET = Text(2048, r"/[^\x00-\x1f\x7f]*", "a target")


def test_text_has_a_u16_length_and_a_bound_in_utf8_bytes() -> None:
    assert _encode(TARGET, "/\u00e9") == bytes.fromhex("0003") + "/\u00e9".encode()
    assert _decode(TARGET, bytes.fromhex("0003") + "/\u00e9".encode()) == "/\u00e9"
    longest = "/" + "\u00e9" * 1023 + "x"  # 2048 bytes, 1025 characters
    assert TARGET.problem(longest) is None
    assert _decode(TARGET, _encode(TARGET, longest)) == longest
    assert "2049 bytes of UTF-8" in str(TARGET.problem(longest + "x"))
    with pytest.raises(EncodingError, match="t.f: length 2049 above the maximum 2048"):
        _decode(TARGET, bytes.fromhex("0801") + b"/" * 2049)
    with pytest.raises(EncodingError, match="t.f: length 65535 above the maximum 2048"):
        _decode(TARGET, b"\xff\xff")


@pytest.mark.parametrize("raw", [b"/\xc3\x28", b"/\xed\xa0\x80", b"/\xc0\xaf", b"/\xf4\x90\x80\x80",
                                 b"/\xff"])  # fmt: skip
def test_text_is_strict_utf8(raw: bytes) -> None:
    """No invalid sequences, encoded surrogates, overlong forms or code points past U+10FFFF."""
    with pytest.raises(EncodingError, match="not valid UTF-8"):
        _decode(TARGET, len(raw).to_bytes(2, "big") + raw)


@pytest.mark.parametrize("value", ["/\ud800", "/\udcff", "\ud83d"])
def test_text_refuses_lone_surrogates(value: str) -> None:
    """Python text can hold what UTF-8 cannot: refused on construction and in JSON."""
    assert "not valid UTF-8" in str(TARGET.problem(value))
    with pytest.raises(EncodingError, match="f: .* not valid UTF-8"):
        TARGET.from_json(value, "f")


def test_bytes_items_in_a_list() -> None:
    wire = ListOf(BytesItem(32), 0, 2)
    items = (b"\x01" * 32, b"\x02" * 32)
    assert _encode(wire, items) == b"\x00\x02" + b"".join(items)
    assert _decode(wire, _encode(wire, items)) == items
    assert wire.to_json(items) == ["01" * 32, "02" * 32]
    assert wire.from_json(["01" * 32, "02" * 32], "f") == items
    with pytest.raises(EncodingError, match=r"t.f\[1\]: truncated, needs 32 bytes, 31 left"):
        _decode(wire, b"\x00\x02" + b"\x01" * 63)
    with pytest.raises(EncodingError, match=r"f\[0\]: expected 32 bytes"):
        wire.from_json(["01" * 31], "f")
    assert str(wire.problem((b"\x01" * 31,))).startswith("item 0: expected 32 bytes")
    assert wire.problem(items * 2) == "expected 0..2 items"


def test_reader_accepts_only_bytes() -> None:
    with pytest.raises(EncodingError):
        Reader("00", "t")  # type: ignore[arg-type]


def test_tagged_hash_definition() -> None:
    expected = hashlib.sha256(b"fontana/tx\x00abc").digest()
    assert tagged_hash("fontana/tx", b"abc") == expected
    assert len(set(ALL_TAGS)) == len(ALL_TAGS) == 21
    assert TAG_LOCAL_COMMITMENT in ALL_TAGS
    assert len({tagged_hash(t, b"") for t in ALL_TAGS}) == len(ALL_TAGS)


def _ids(n: int) -> list[bytes]:
    return [hashlib.sha256(bytes([i])).digest() for i in range(n)]


def test_merkle_shapes() -> None:
    a, b, c = _ids(3)
    leaf = lambda x: tagged_hash("fontana/txroot/leaf", x)  # noqa: E731
    node = lambda x, y: tagged_hash("fontana/txroot/node", x + y)  # noqa: E731
    assert merkle_root([]) == tagged_hash("fontana/txroot/empty", b"")
    assert merkle_root([a]) == leaf(a)
    assert merkle_root([a, b]) == node(leaf(a), leaf(b))
    assert merkle_root([a, b, c]) == node(node(leaf(a), leaf(b)), leaf(c))


@given(st.integers(2, 40))
def test_merkle_split_is_largest_power_of_two_below_n(n: int) -> None:
    ids = _ids(n)
    k = 1
    while k * 2 < n:
        k *= 2
    left, right = merkle_root(ids[:k]), merkle_root(ids[k:])
    assert merkle_root(ids) == tagged_hash("fontana/txroot/node", left + right)


def test_merkle_order_matters_and_ids_are_checked() -> None:
    a, b = _ids(2)
    assert merkle_root([a, b]) != merkle_root([b, a])
    with pytest.raises(EncodingError, match="id 1"):
        merkle_root([a, b[:31]])


def _declared_wires() -> list[tuple[str, Wire, list[object]]]:
    """Every model field's wire, with the values the vectors hold for it."""
    from tests.test_vectors import CODECS, DATA

    seen: dict[tuple[str, str], tuple[Wire, list[object]]] = {}
    for vec in DATA["valid"]:
        value = CODECS[vec["type"]][0](bytes.fromhex(vec["hex"]))
        for name, wire in zip(value._codec.names, value._codec.wires, strict=True):
            key = (type(value).__name__, name)
            seen.setdefault(key, (wire, []))[1].append(getattr(value, name))
    return [(f"{c}.{n}", wire, values) for (c, n), (wire, values) in seen.items()]


ODD_VALUES: list[object] = [None, True, False, 0, 1, -1, 1.0, "1", 2**16, 2**32, 2**64 - 1, 2**64,
    "", "devnet", "Devnet", "a" * 32, "a" * 33, "dévnet", b"", b"\x01" * 20, b"\x01" * 32,
    b"\x01" * 64, b"\x01" * 257, bytearray(32), (), [], Color.RED, "GET", "get", "A" * 17, "/",
    "/a\x00", "/\x7f", "/\ud800", "/" * 2048, "/" * 2049, "/" + "\u00e9" * 1023 + "x",
    "/" + "\u00e9" * 1024, (b"\x01" * 32,), (b"\x01" * 31,), (b"\x01" * 32,) * 17]  # fmt: skip


@pytest.mark.parametrize(("where", "wire", "values"), _declared_wires(), ids=lambda x: str(x)[:40])
def test_validator_agrees_with_problem(where: str, wire: Wire, values: list[object]) -> None:
    """The inline construction checks and ``problem`` (used for JSON) judge alike."""
    check = wire.validator()
    attr = type("Attr", (), {"name": where})()
    candidates = [*values, *ODD_VALUES, *(v[:1] * 65 for v in values if isinstance(v, tuple) and v)]
    for value in candidates:
        try:
            check(object(), attr, value)
            accepted = True
        except EncodingError:
            accepted = False
        assert accepted == (wire.problem(value) is None), (where, value)

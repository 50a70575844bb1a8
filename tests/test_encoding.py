"""The Writer/Reader primitives, tagged hashing and the tx Merkle root."""

from __future__ import annotations

import hashlib
from enum import IntEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fontana.encoding import Reader, Writer
from fontana.errors import EncodingError
from fontana.hashing import ALL_TAGS, merkle_root, tagged_hash


class Color(IntEnum):
    RED = 1
    BLUE = 2


@given(st.integers(0, 2**8 - 1), st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1),
       st.integers(0, 2**64 - 1), st.binary(max_size=40), st.text(max_size=20))  # fmt: skip
def test_round_trip(a: int, b: int, c: int, d: int, blob: bytes, text: str) -> None:
    w = Writer()
    w.u8(a, "a")
    w.u16(b, "b")
    w.u32(c, "c")
    w.u64(d, "d")
    w.varbytes(blob, 40, "blob")
    w.string(text, 255, "text")
    w.count(3, 5, "n")
    w.option(True)
    w.fixed(b"\x01" * 4, 4, "f")
    r = Reader(w.getvalue(), "t")
    got = (r.u8("a"), r.u16("b"), r.u32("c"), r.u64("d"), r.varbytes(40, "blob"))
    assert got == (a, b, c, d, blob)
    assert r.string(255, "text") == text
    assert (r.count(5, "n"), r.option("o"), r.fixed(4, "f")) == (3, True, b"\x01" * 4)
    r.finish()


def test_big_endian_fixed_width() -> None:
    w = Writer()
    w.u16(0x0102, "x")
    w.u32(1, "y")
    w.u64(2**64 - 1, "z")
    w.varbytes(b"ab", 2, "v")
    w.string("hi", 2, "s")
    assert (
        w.getvalue().hex() == "0102" + "00000001" + "ff" * 8 + "00000002" + "6162" + "02" + "6869"
    )


@pytest.mark.parametrize(("bits", "value"), [(8, 256), (16, -1), (32, 2**32), (64, 2**64)])
def test_writer_range_checks(bits: int, value: int) -> None:
    with pytest.raises(EncodingError, match="amount"):
        Writer().uint(value, bits, "amount")


@pytest.mark.parametrize("value", [True, 1.0, "1", None])
def test_writer_rejects_non_integers(value: object) -> None:
    with pytest.raises(EncodingError):
        Writer().u64(value, "x")  # type: ignore[arg-type]


def test_writer_rejects_oversize() -> None:
    with pytest.raises(EncodingError, match="memo"):
        Writer().varbytes(b"x" * 5, 4, "memo")
    with pytest.raises(EncodingError, match="name"):
        Writer().string("abc", 2, "name")
    with pytest.raises(EncodingError, match="list"):
        Writer().count(6, 5, "list")
    with pytest.raises(EncodingError, match="key"):
        Writer().fixed(b"x", 2, "key")


def test_reader_names_the_field_on_truncation() -> None:
    r = Reader(b"\x00\x01", "tx")
    with r.scope("inputs[0]"), pytest.raises(EncodingError, match=r"tx\.inputs\[0\]\.index"):
        r.u32("index")


def test_reader_rejects_trailing_bytes() -> None:
    r = Reader(b"\x01\x02", "thing")
    r.u8("a")
    with pytest.raises(EncodingError, match="trailing"):
        r.finish()


def test_varbytes_oversize_is_rejected_before_reading() -> None:
    with pytest.raises(EncodingError, match="maximum"):
        Reader(b"\xff\xff\xff\xff", "t").varbytes(10, "memo")


def test_string_limits_and_utf8() -> None:
    with pytest.raises(EncodingError, match="maximum"):
        Reader(b"\x03abc", "t").string(2, "s")
    with pytest.raises(EncodingError, match="UTF-8"):
        Reader(b"\x01\xff", "t").string(2, "s")


def test_count_and_option_and_enum() -> None:
    with pytest.raises(EncodingError, match="items"):
        Reader(b"\x00\x41", "t").count(64, "inputs")
    with pytest.raises(EncodingError, match="option tag 2"):
        Reader(b"\x02", "t").option("payload_hash")
    assert Reader(b"\x00", "t").option("o") is False
    assert Reader(b"\x02", "t").enum(Color, "c") is Color.BLUE
    with pytest.raises(EncodingError, match="unknown value 3"):
        Reader(b"\x03", "t").enum(Color, "c")


def test_reader_accepts_only_bytes() -> None:
    with pytest.raises(EncodingError):
        Reader("00", "t")  # type: ignore[arg-type]


def test_tagged_hash_definition() -> None:
    expected = hashlib.sha256(b"fontana/tx\x00abc").digest()
    assert tagged_hash("fontana/tx", b"abc") == expected
    assert len(set(ALL_TAGS)) == len(ALL_TAGS) == 14
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

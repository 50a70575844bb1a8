"""Hostile inputs to every public decoder: success or a typed error, never another exception.

Models are tested through their public API (``from_bytes``/``from_json`` of
every model, ``decode_entry``, ``decode_blob``, the SMT ``Proof.from_bytes``,
``decode_address``, ``parse_amount``), seeded from the encoding vectors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostile_helpers import FAST, mutated_bytes, mutated_json, mutated_text, typed_or_ok
from hypothesis import example, given
from hypothesis import strategies as st

import fontana.models as models
from fontana.address import decode_address, encode_address
from fontana.amounts import parse_amount
from fontana.da.blob import blob_chain_id, decode_blob, encode_blob
from fontana.errors import FontanaError
from fontana.smt import MemoryNodeStore, SparseMerkleTree
from fontana.smt.proof import Proof

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "encoding.json").read_text(encoding="utf-8")
)


def _decoders() -> dict[str, tuple[Callable[[bytes], Any], Callable[[Any], Any]]]:
    """Every model's public decoders by its vector ``type`` name."""
    out: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], Any]]] = {
        "entry": (models.decode_entry, models.entry_from_json)
    }
    for name in models.__all__:
        cls = getattr(models, name)
        if isinstance(cls, type) and hasattr(cls, "NAME") and hasattr(cls, "from_bytes"):
            out[cls.NAME] = (cls.from_bytes, cls.from_json)
    return out


DECODERS = _decoders()
VALID = [v for v in VECTORS["valid"] if v["type"] in DECODERS]
INVALID = [v for v in VECTORS["invalid"] if v["type"] in DECODERS]


def test_every_vector_type_has_a_decoder_under_test() -> None:
    assert {v["type"] for v in VECTORS["valid"]} <= set(DECODERS)
    assert len(VALID) >= 10


@FAST
@given(data=st.data())
def test_model_from_bytes_answers_typed_errors(data: st.DataObject) -> None:
    vector = data.draw(st.sampled_from(VALID + INVALID))
    from_bytes = DECODERS[vector["type"]][0]
    typed_or_ok(lambda: from_bytes(data.draw(mutated_bytes(bytes.fromhex(vector["hex"])))))


def _typed_json(vector: dict[str, Any]) -> st.SearchStrategy[tuple[str, Any]]:
    return mutated_json(vector["json"]).map(lambda value: (vector["type"], value))


GENESIS_VECTOR: dict[str, Any] = next(v["json"] for v in VALID if v["type"] == "genesis")


@FAST
@given(case=st.sampled_from(VALID).flatmap(_typed_json))
@example(case=("genesis", {**GENESIS_VECTOR, "min_fee": "9" * 5000}))  # int()'s 4300-digit limit
def test_model_from_json_answers_typed_errors(case: tuple[str, Any]) -> None:
    kind, value = case
    typed_or_ok(lambda: DECODERS[kind][1](value))


@FAST
@given(data=st.data())
def test_json_text_answers_typed_errors(data: st.DataObject) -> None:
    """Mutated JSON text that still parses, as a node reading a request would see it."""
    vector = data.draw(st.sampled_from(VALID))
    text = data.draw(mutated_bytes(json.dumps(vector["json"]).encode()))
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return  # not JSON at all: the parser's business, not the model's
    typed_or_ok(lambda: DECODERS[vector["type"]][1](parsed))


def _blobs() -> list[tuple[bytes, str]]:
    blocks = [
        models.Block.from_bytes(bytes.fromhex(v["hex"])) for v in VALID if v["type"] == "block"
    ]
    return [(encode_blob(b), b.header.header.chain_id) for b in blocks]


BLOBS = _blobs()


@FAST
@given(data=st.data())
def test_decode_blob_answers_typed_errors(data: st.DataObject) -> None:
    blob, chain_id = data.draw(st.sampled_from(BLOBS))
    mutated = data.draw(mutated_bytes(blob))
    typed_or_ok(lambda: decode_blob(mutated, chain_id))
    assert blob_chain_id(mutated) is None or isinstance(blob_chain_id(mutated), str)


def _proofs() -> list[bytes]:
    tree = SparseMerkleTree(MemoryNodeStore())
    keys = [hashlib.sha256(bytes([i])).digest() for i in range(16)]
    twins = [bytes(31) + b"\x00", bytes(31) + b"\x01"]  # a 255-sibling path
    tree.apply_batch(1, {k: hashlib.sha256(k).digest() for k in keys + twins})
    absent = [hashlib.sha256(b"absent%d" % i).digest() for i in range(4)]
    return [tree.prove(k).to_bytes() for k in keys[:4] + twins + absent]


PROOFS = _proofs()


@FAST
@given(data=st.data())
def test_smt_proof_from_bytes_answers_typed_errors(data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(PROOFS))
    typed_or_ok(lambda: Proof.from_bytes(data.draw(mutated_bytes(seed))))


ADDRESSES = [a["text"] for a in VECTORS["addresses"]["valid"]]
#: An upper-case address with its K written as U+212A KELVIN SIGN, whose lower() is "k".
KELVIN_ADDRESS = next(
    a.upper().replace("K", "\u212a")
    for a in (encode_address(bytes([i]) * 32) for i in range(256))
    if "k" in a[4:]
)


@FAST
@given(text=st.sampled_from(ADDRESSES + [a.upper() for a in ADDRESSES]).flatmap(mutated_text))
@example(text=KELVIN_ADDRESS)
def test_decode_address_answers_typed_errors_and_only_ascii(text: str) -> None:
    try:
        raw = decode_address(text)
    except FontanaError:
        return
    assert text.isascii() and text.lower() == encode_address(raw)  # BIP-350: ASCII only


AMOUNTS = ["1500", "1500utia", "1.5tia", "0.000001 TIA", "007"]


@FAST
@given(text=st.sampled_from(AMOUNTS).flatmap(mutated_text))
@example(text="9" * 5000)
@example(text="\u3000" + "15")
def test_parse_amount_answers_typed_errors_and_only_ascii(text: str) -> None:
    try:
        parse_amount(text)
    except FontanaError:
        return
    assert text.isascii()

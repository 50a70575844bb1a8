"""Shared strategies for the hostile-input tests: mutations of valid values and special files.

Mutations start from valid values and flip, insert, delete and truncate bytes,
or put in huge numbers, deep nesting, non-ASCII look-alikes, non-UTF-8 and NUL
bytes; special files are the paths that are not plain readable files (FIFO,
directory, symlink loop, device, huge, unreadable).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fontana.errors import FontanaError

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- what to feed ------------------------------------------------------------------

#: Non-ASCII characters that case-fold, normalize or look like ASCII ones.
LOOKALIKES = {
    "k": "\u212a",  # KELVIN SIGN: "\u212a".lower() == "k"
    "s": "\u017f",  # LATIN SMALL LETTER LONG S: upper() == "S"
    "i": "\u0131",  # DOTLESS I: upper() == "I"
    "a": "\u0430",  # CYRILLIC A
    "e": "\u0435",  # CYRILLIC IE
    "0": "\u0660",  # ARABIC-INDIC ZERO: int() takes it
    "1": "\uff11",  # FULLWIDTH ONE: int() takes it
    " ": "\u3000",  # IDEOGRAPHIC SPACE: str.strip() takes it
}
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "\udcff\udcfe",  # undecodable argv/environment bytes, as Python surrogate-escapes them
    "9" * 5000,
    "0" * 5000 + "1",
    "-1",
    "+1",
    "1_000",
    "1e999",
    "\u0661\u0662\u0663",
    "\uff11\uff12",
    "\u212a",
    "fnt1" + "q" * 10_000,
    "\U0001f4b8",
    "\n\r\t",
    "%s%n{0}",
]
HOSTILE_JSON: list[Any] = [
    *HOSTILE_TEXT,
    0,
    -1,
    1,
    2**31,
    2**32,
    2**63,
    2**64 - 1,
    2**64,
    10**4299,
    "18446744073709551616",
    "01",
    "1.0",
    1.5,
    100.0,
    float("nan"),
    float("inf"),
    True,
    False,
    None,
    [],
    {},
    "AB" * 32,
    "ab" * 32,
    "ab" * 100_000,
]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_JSON.append(_nested(200))


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after 1..4 random edits."""
    out = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup", "len", "zero"]))
        at = draw(st.integers(0, len(out)))
        if op == "flip" and at < len(out):
            out[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del out[at:]
        elif op == "dup":
            out[at:at] = out[at : at + draw(st.integers(1, 64))]
        elif op == "len":  # a length or count prefix at its maximum
            out[at : at + 4] = b"\xff\xff\xff\xff"
        elif op == "zero":
            out[at : at + 8] = bytes(8)
    return bytes(out)


@st.composite
def mutated_text(draw: st.DrawFn, seed: str) -> str:
    """``seed`` edited as text: look-alikes, hostile pieces, case, or its bytes mutated."""
    op = draw(st.sampled_from(["bytes", "lookalike", "insert", "replace", "case", "repeat"]))
    if op == "bytes":  # how a non-UTF-8 argv or environment reaches Python
        raw = draw(mutated_bytes(seed.encode("utf-8")))
        return raw.decode("utf-8", "surrogateescape")
    if op == "lookalike":
        present = sorted({c.lower() for c in seed} & set(LOOKALIKES))
        if not present:
            return seed + LOOKALIKES["k"]
        c = draw(st.sampled_from(present))
        return "".join(LOOKALIKES[c] if x.lower() == c else x for x in seed)
    if op == "insert":
        at = draw(st.integers(0, len(seed)))
        return seed[:at] + draw(st.sampled_from(HOSTILE_TEXT)) + seed[at:]
    if op == "replace":
        return draw(st.sampled_from(HOSTILE_TEXT))
    if op == "case":
        return seed.swapcase()
    return seed * 1000


_HEX = set("0123456789abcdef")
HOSTILE_DIGITS = ["9" * 5000, "0" * 5000 + "1", "18446744073709551616", "01", "-1", "+1", "1_0",
                  "\u0661", "\uff11", " 1", "1.0", "1e3", ""]  # fmt: skip
HOSTILE_INTS: list[Any] = [
    -1,
    2**31,
    2**32,
    2**63,
    2**64,
    10**4299,
    1.5,
    1e300,
    True,
    None,
    "9" * 5000,
]


def hostile_like(value: Any) -> st.SearchStrategy[Any]:
    """Values an attacker would put where ``value`` belongs."""
    if isinstance(value, str) and value.isdigit():
        return st.sampled_from(HOSTILE_DIGITS)
    if isinstance(value, str) and value and set(value) <= _HEX:
        return st.sampled_from(
            [value.upper(), value[:-1], value + "00", "0x" + value, "ab" * 100_000]
        ) | mutated_text(value)
    if isinstance(value, str):
        return mutated_text(value) | st.sampled_from(HOSTILE_TEXT)
    if isinstance(value, int | float):
        return st.sampled_from(HOSTILE_INTS)
    return st.sampled_from(HOSTILE_JSON)


@st.composite
def mutated_json(draw: st.DrawFn, seed: Any) -> Any:
    """``seed`` with one node replaced by a hostile value of its kind, removed or added to."""
    if not isinstance(seed, dict | list) or not seed or draw(st.integers(0, 7)) == 0:
        if draw(st.integers(0, 3)) == 0:
            return draw(st.sampled_from(HOSTILE_JSON))
        return draw(hostile_like(seed))
    if isinstance(seed, list):
        i = draw(st.integers(0, len(seed) - 1))
        copy = list(seed)
        if draw(st.integers(0, 3)):
            copy[i] = draw(mutated_json(seed[i]))
        else:
            copy.insert(i, draw(st.sampled_from(HOSTILE_JSON)))
        return copy
    key = draw(st.sampled_from(sorted(seed)))
    copy = dict(seed)
    op = draw(st.sampled_from(["child"] * 6 + ["drop", "add"]))
    if op == "drop":
        del copy[key]
    elif op == "add":
        copy[draw(st.sampled_from(["extra", key.upper(), key + "\x00"]))] = 1
    else:
        copy[key] = draw(mutated_json(seed[key]))
    return copy


def typed_or_ok(call: Callable[[], object]) -> None:
    """``call`` returns or raises a FontanaError; anything else fails the test."""
    with contextlib.suppress(FontanaError):
        call()


def special_files(root: Path) -> dict[str, Path]:
    """One of each kind of path that is not a plain readable file, under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    made = {name: root / name for name in ("fifo", "dir", "loop", "zero", "huge", "nul", "latin1")}
    os.mkfifo(made["fifo"])
    made["dir"].mkdir()
    os.symlink(made["loop"], made["loop"])
    os.symlink("/dev/zero", made["zero"])
    with made["huge"].open("wb") as fh:
        fh.truncate(1 << 30)  # sparse: a gigabyte that takes no disk
    made["nul"].write_bytes(b"\x00" * 64)
    made["latin1"].write_bytes("caf\u00e9 = '\u00e9'\n".encode("latin-1"))
    unreadable = root / "unreadable"
    unreadable.write_text("{}")
    unreadable.chmod(0)  # only refused when not running as root
    made["unreadable"] = unreadable
    made["missing"] = root / "missing"
    made["under_a_file"] = made["nul"] / "x"
    return made


#: Settings a hostile environment sets, one at a time.
ENV_KEYS = [
    "FONTANA_HOME",
    "FONTANA_STORAGE_POOL_SIZE",
    "FONTANA_STORAGE_LOCK_TIMEOUT_MS",
    "FONTANA_SEQUENCER_BLOCK_TIME_MS",
    "FONTANA_WALLET_PASSPHRASE",
    "FONTANA_WALLET_KEY_NAME",
    "FONTANA_LOG_LEVEL",
    "FONTANA_STORAGE_URL",
]

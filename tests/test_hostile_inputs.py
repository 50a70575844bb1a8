"""Hostile inputs: every decoder and every CLI input path answers a typed error or success.

Mutations start from valid values (the encoding vectors, a genesis file, key
files, config files) and flip, insert, delete and truncate bytes, or put in
huge numbers, deep nesting, non-ASCII look-alikes, non-UTF-8, NUL bytes and
special files (FIFO, directory, symlink loop, device). The only acceptable
outcomes are success or a :class:`~fontana.errors.FontanaError` (in the CLI:
an ``error[code]`` line, or a click usage error with exit status 2), and a
refused command leaves every ledger table and every file in the home as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ledger_helpers import BOB, make_genesis, pub

import fontana.models as models
from fontana.address import decode_address, encode_address
from fontana.amounts import parse_amount
from fontana.cli import cli
from fontana.config import load_settings
from fontana.da.blob import blob_chain_id, decode_blob, encode_blob
from fontana.errors import FontanaError
from fontana.genesis import load_genesis_file
from fontana.smt import MemoryNodeStore, SparseMerkleTree
from fontana.smt.proof import Proof
from fontana.wallet import create_key, key_info, key_path, load_key

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "encoding.json").read_text(encoding="utf-8")
)
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


# --- decoders ---------------------------------------------------------------------


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


# --- files ------------------------------------------------------------------------

GENESIS_JSON: dict[str, Any] = make_genesis().to_json()


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


@pytest.fixture(scope="module")
def specials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return special_files(tmp_path_factory.mktemp("specials"))


def test_a_path_with_nul_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FontanaError, match="not a valid file name"):
        load_genesis_file(tmp_path / "gen\x00esis.json")


def test_special_files_are_refused_at_every_reader(
    specials: dict[str, Path], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    create_key(home, "default")
    for kind, path in specials.items():
        with pytest.raises(FontanaError):
            load_genesis_file(path)
        with pytest.raises(FontanaError):
            load_settings(environ={"FONTANA_CONFIG": str(path)}, cwd=tmp_path, plugin_sections={})
        if kind not in ("dir", "missing"):  # a home may be a directory or not yet exist
            with pytest.raises(FontanaError):
                load_settings(environ={"FONTANA_HOME": str(path)}, cwd=tmp_path, plugin_sections={})
        keys = home / "keys"
        for target in (keys / "default", keys / "default.pub"):
            saved = target.read_bytes()
            target.unlink()
            os.symlink(path, target)
            try:
                if kind != "missing" or target.suffix != ".pub":  # a missing .pub is allowed
                    with pytest.raises(FontanaError):
                        key_info(home, "default")
            finally:
                target.unlink()
                target.write_bytes(saved)
                target.chmod(0o600)


@FAST
@given(data=st.data())
def test_genesis_files_answer_genesis_invalid(data: st.DataObject, tmp_path: Path) -> None:
    text = json.dumps(GENESIS_JSON, indent=data.draw(st.sampled_from([None, 2])))
    kind = data.draw(st.sampled_from(["bytes", "json", "deep", "dup"]))
    if kind == "bytes":
        raw = data.draw(mutated_bytes(text.encode()))
    elif kind == "json":
        raw = json.dumps(data.draw(mutated_json(GENESIS_JSON))).encode()
    elif kind == "deep":
        depth = data.draw(st.integers(1, 200_000))
        raw = b"[" * depth + b"]" * depth
    else:
        raw = text[:-1].encode() + b', "min_fee": "2"}'
    path = tmp_path / "genesis.json"
    path.write_bytes(raw)
    try:
        load_genesis_file(path)
    except FontanaError as exc:
        assert exc.code == "genesis_invalid" and str(path) in exc.message


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    home = tmp_path_factory.mktemp("keys")
    create_key(home, "plain")
    create_key(home, "locked", passphrase="correct horse")
    return {name: key_path(home, name).read_bytes() for name in ("plain", "locked")} | {
        name + ".pub": (home / "keys" / f"{name}.pub").read_bytes() for name in ("plain", "locked")
    }


@FAST
@given(data=st.data())
def test_key_files_answer_wallet_errors(
    data: st.DataObject, key_files: dict[str, bytes], tmp_path: Path
) -> None:
    name = data.draw(st.sampled_from(["plain", "locked"]))
    keys = tmp_path / "home" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    keys.chmod(0o700)
    which = data.draw(st.sampled_from(["private", "public"]))
    private = key_files[name] if which == "public" else data.draw(mutated_bytes(key_files[name]))
    public = (
        key_files[name + ".pub"]
        if which == "private"
        else data.draw(mutated_bytes(key_files[name + ".pub"]))
    )
    (keys / name).write_bytes(private)
    (keys / name).chmod(0o600)
    (keys / f"{name}.pub").write_bytes(public)
    typed_or_ok(lambda: key_info(tmp_path / "home", name))
    if which == "private":  # an intact key would only spend half a second in argon2id
        typed_or_ok(lambda: load_key(tmp_path / "home", name, "correct horse"))


TOML = (
    'log_level = "info"\n[storage]\npool_size = 5\nlock_timeout_ms = 30000\n'
    'url = "postgresql://u:pw@db/ledger?sslmode=require"\n[wallet]\nkey_name = "default"\n'
    "[proofs]\nkeep_versions = 0\n[poster]\npoll_ms = 500\n"
)
DOTENV = "FONTANA_STORAGE_POOL_SIZE=3\nFONTANA_WALLET_KEY_NAME=ops\nFONTANA_LOG_LEVEL=debug\n"
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


@FAST
@given(data=st.data())
def test_config_sources_answer_config_errors(data: st.DataObject, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    (cwd / "fontana.toml").write_bytes(data.draw(mutated_bytes(TOML.encode())))
    (cwd / ".env").write_bytes(data.draw(mutated_bytes(DOTENV.encode())))
    env = {"FONTANA_HOME": str(tmp_path / "home")}
    key = data.draw(st.sampled_from(ENV_KEYS))
    env[key] = data.draw(st.sampled_from(HOSTILE_TEXT) | mutated_text("12"))
    if "\x00" in env[key]:
        env[key] = env[key].replace("\x00", "")  # an environment cannot hold NUL
    try:
        loaded = load_settings(environ=env, cwd=cwd, plugin_sections={})
    except FontanaError as exc:
        assert exc.code == "config_invalid"
        assert "pw" not in exc.message  # an error never prints a secret
        return
    for _key, value, _secret in loaded.items():
        if isinstance(value, str):
            value.encode("utf-8")  # every accepted text is valid UTF-8 ...
            assert "\x00" not in value  # ... without NUL
        if isinstance(value, int):
            assert abs(value) < 2**63


# --- the command line ------------------------------------------------------------


def ledger_dump(db: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every row of every table, read without writing a byte."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [
            (t, sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr))
            for t in sorted(tables)
        ]
    finally:
        conn.close()


def home_files(home: Path) -> dict[str, tuple[Any, ...]]:
    """Kind, mode and content digest of every file under ``home`` except the database's."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if name.startswith("fontana.db"):
                continue
            st_ = path.lstat()
            digest = ""
            if stat.S_ISREG(st_.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st_.st_mode):
                digest = os.readlink(path)
            out[str(path.relative_to(home))] = (stat.S_IFMT(st_.st_mode), st_.st_mode, digest)
    return out


class Chain:
    """A funded wallet on a real SQLite ledger in a temporary home, shared by the CLI tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.runner = CliRunner()
        self.env = {"FONTANA_HOME": str(self.home)}
        assert self.invoke(["init"]).exit_code == 0
        me = key_info(self.home, "default").public_key
        self.address = encode_address(me)
        self.genesis = root / "genesis.json"
        genesis = make_genesis([(me, 10**12), (pub(BOB), 10**6)])
        self.genesis.write_text(json.dumps(genesis.to_json()), encoding="utf-8")
        assert self.invoke(["genesis", str(self.genesis)]).exit_code == 0
        self.passphrase_file = root / "pass.txt"
        self.passphrase_file.write_text("correct horse\n", encoding="utf-8")
        self.specials = special_files(root / "specials")

    def invoke(self, args: list[str], env: dict[str, str] | None = None) -> Any:
        return self.runner.invoke(cli, args, env={**self.env, **(env or {})}, catch_exceptions=True)

    def state(self) -> tuple[Any, ...]:
        return ledger_dump(self.home / "fontana.db"), home_files(self.home)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("chain")
    cwd = os.getcwd()
    os.chdir(root)  # no fontana.toml or .env of the developer's
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("FONTANA_")}
    try:
        yield Chain(root)
    finally:
        os.chdir(cwd)
        os.environ.update(saved)


BOB_ADDRESS = encode_address(pub(BOB))


@st.composite
def argument(draw: st.DrawFn, valid: str) -> str:
    """A valid value, a mutation of it, or something hostile."""
    return draw(
        st.sampled_from([valid, valid]) | mutated_text(valid) | st.sampled_from(HOSTILE_TEXT)
    )


@st.composite
def command_line(draw: st.DrawFn, chain: Chain) -> list[str]:
    paths = [str(p) for p in chain.specials.values()]
    command = draw(
        st.sampled_from(
            ["balance", "utxos", "transfer", "trigger-deposit", "show", "init", "genesis", "config"]
        )
    )
    if command in ("balance", "utxos"):
        args = [command, draw(argument(BOB_ADDRESS))]
        if command == "utxos" and draw(st.booleans()):
            args += ["--limit", draw(argument("2"))]
    elif command == "transfer":
        args = [command, draw(argument("1500")), draw(argument(BOB_ADDRESS))]
        for option, valid in (("--fee", "2"), ("--memo", "coffee"), ("--expiry-seconds", "60")):
            if draw(st.booleans()):
                args += [option, draw(argument(valid))]
    elif command == "trigger-deposit":
        args = [command, draw(argument("1tia")), draw(argument(chain.address))]
        for option, valid in (("--l1-tx", "ab" * 32), ("--log-index", "7")):
            if draw(st.booleans()):
                args += [option, draw(argument(valid))]
    elif command == "show":
        args = [command, "--name", draw(argument("default"))]
    elif command == "init":
        args = [command, "--name", draw(argument("second"))]
        if draw(st.booleans()):
            args += [
                "--passphrase-file",
                draw(st.sampled_from([str(chain.passphrase_file), *paths])),
            ]
    elif command == "genesis":
        args = [command, draw(st.sampled_from([str(chain.genesis), *paths]))]
    else:
        args = [command, "show"]
    if draw(st.booleans()):
        args.append("--json")
    return args


@st.composite
def environment(draw: st.DrawFn, chain: Chain) -> dict[str, str]:
    """No change, or one hostile setting, special path or undecodable name in the environment."""
    if draw(st.booleans()):
        return {}
    key = draw(st.sampled_from([*ENV_KEYS, "FONTANA_CONFIG", "FONTANA_X\udcff"]))
    if key in ("FONTANA_HOME", "FONTANA_CONFIG") and draw(st.booleans()):
        return {key: str(draw(st.sampled_from(list(chain.specials.values()))))}
    value = draw(st.sampled_from(HOSTILE_TEXT) | mutated_text("12"))
    return {key: value.replace("\x00", "")}


#: A config file that changes nothing, as a seed for mutations.
CHAIN_TOML = b'log_level = "warning"\n[storage]\npool_size = 5\n[wallet]\nkey_name = "default"\n'
#: Where a special file replaces a key file for one command.
KEY_SWAPS = [None, None, "default", "default.pub", "keys"]


def _swap(chain: Chain, which: str | None, target: Path | None) -> Callable[[], None]:
    """Put a symlink to ``target`` where ``which`` is; return the undo."""
    if which is None or target is None:
        return lambda: None
    path = chain.home / "keys" / which if which != "keys" else chain.home / "keys"
    saved = path.with_name(path.name + ".saved")
    path.rename(saved)
    os.symlink(target, path)

    def undo() -> None:
        path.unlink()
        saved.rename(path)

    return undo


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_cli_answers_error_codes_and_changes_nothing(data: st.DataObject, chain: Chain) -> None:
    args = data.draw(command_line(chain))
    env = data.draw(environment(chain))
    which = data.draw(st.sampled_from(KEY_SWAPS))
    target = data.draw(st.sampled_from(list(chain.specials.values()))) if which else None
    toml = data.draw(st.none() | mutated_bytes(CHAIN_TOML))  # ./fontana.toml, read by every command
    undo = _swap(chain, which, target)
    try:
        if toml is not None:
            (chain.root / "fontana.toml").write_bytes(toml)
        before = chain.state()
        result = chain.invoke(args, env)
        after = chain.state()
    finally:
        undo()
        (chain.root / "fontana.toml").unlink(missing_ok=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args!r:.300} {env!r:.300} raised {result.exception!r:.300}") from (
            result.exception
        )
    if result.exit_code == 0:
        return
    assert after == before, f"{args!r:.300} {env!r:.300} failed but changed state"
    if result.exit_code == 2 and "Error:" in result.stderr:
        return  # click's usage error: the message names the option
    if "--json" in args and result.stdout.startswith("{"):
        assert set(json.loads(result.stdout)["error"]) == {"code", "message"}
    else:
        assert result.stderr.startswith("error["), (
            f"{args!r:.300} {env!r:.300} {result.output:.300}"
        )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"min_fee": NaN}', "NaN is not a JSON number"),
        ('{"min_fee": -Infinity}', "-Infinity is not a JSON number"),
        ('{"min_fee": ' + "9" * 5000 + "}", "a number of 5000 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("\ufeff{}", "not valid JSON"),
    ],
)
def test_genesis_json_the_parser_would_take_is_refused(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "genesis.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FontanaError, match=reason) as caught:
        load_genesis_file(path)
    assert caught.value.code == "genesis_invalid" and len(caught.value.message) < 300

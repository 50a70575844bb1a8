"""Wire types: each model field is declared once, and the model's codecs derive from it.

A model is an attrs class whose fields are declared with :func:`field` and a
wire type (``U64``, ``BYTES32``, ``ListOf(OutPoint, 1, 64)``, ...). The
:func:`canonical` decorator derives from those declarations the binary encoder
and decoder (docs/protocol.md, sections 1 and 4) and the JSON form (section 5);
:func:`field` gives attrs the validator that runs on every construction.

Decoding follows docs/protocol.md, section 1.3: fields in encoding order,
within a field its structural rules before its value rules, a struct's
cross-field rules after all its fields, trailing bytes last; the first broken
rule is the error. Runs of fixed-width fields are read and written with one
``struct`` call, and decoded values skip the attrs validators (the decoder has
made the same checks), which keeps transaction and entry decoding fast.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, ClassVar, Final, Self, TypeVar

import attrs

from fontana.address import encode_address
from fontana.encoding import Reader
from fontana.errors import AmountError, EncodingError
from fontana.models._base import (
    CHAIN_ID_MAX,
    CHAIN_ID_PATTERN,
    json_address,
    json_amount,
    json_enum,
    json_fields,
    json_hex,
    json_int,
    json_list,
    json_str,
    json_u64,
    to_tuple,
)

C = TypeVar("C", bound="Canonical")
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_WIRE: Final = "fontana.wire"
_IN_JSON: Final = "fontana.json"
_set: Final = object.__setattr__


class Invalid(Exception):
    """A broken rule found where the field's name is not known; the caller names it."""

    def __init__(self, message: str, kind: type[EncodingError] = EncodingError) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        #: The field, once known.
        self.field = ""


class Wire:
    """How one field is encoded, decoded, validated and written as JSON."""

    #: Encoded size in bytes when fixed, 0 when the field carries its own length.
    size: int = 0
    #: ``struct`` code of a fixed-width wire, so that runs of them pack in one call.
    fmt: str = ""
    #: Whether a fixed-width wire's ``decode`` checks or converts the unpacked value.
    has_rules: bool = False
    #: The error for a value this wire refuses.
    kind: type[EncodingError] = EncodingError

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be this field (type, range or value rule), or None."""
        raise NotImplementedError

    def decode(self, raw: Any) -> Any:
        """A fixed-width field's value from its unpacked form; ``Invalid`` on a broken rule."""
        return raw

    def read(self, r: Reader, field: str) -> Any:
        """Decode the field: structural rules as its bytes are read, then its value rules."""
        raise NotImplementedError

    def write(self, value: Any, out: list[bytes]) -> None:
        """Append the encoding of a valid value."""
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        raise NotImplementedError

    def from_json(self, value: Any, field: str) -> Any:
        """A valid value from its JSON form, or an error naming ``field``."""
        raise NotImplementedError

    def checked(self, value: Any, field: str) -> Any:
        """``value`` if ``problem`` finds nothing wrong, else an error naming ``field``."""
        message = self.problem(value)
        if message is not None:
            raise self.kind(f"{field}: {message}")
        return value

    def validator(self) -> Validator:
        """The attrs validator: ``problem`` as a check of every construction.

        Wires on the hot construction paths override this with the same test
        inline (tests/test_encoding.py checks that the two always agree).
        """
        problem = self.problem

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if problem(value) is not None:
                self.fail(inst, attr, value)

        return check

    def fail(self, inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        """Raise the construction error for a value ``problem`` refuses."""
        raise self.kind(f"{type(inst).__name__}.{attr.name}: {self.problem(value)}")


# --- fixed-width wires ------------------------------------------------------------


class Fixed(Wire):
    """A field of one ``struct`` code, so a run of them is one unpack."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._struct = struct.Struct(">" + fmt)
        self.size = self._struct.size

    def read(self, r: Reader, field: str) -> Any:
        raw = self._struct.unpack(r.take(self.size, field))[0]
        if not self.has_rules:
            return raw
        try:
            return self.decode(raw)
        except Invalid as exc:
            raise r.error(field, exc.message, exc.kind) from None

    def write(self, value: Any, out: list[bytes]) -> None:
        out.append(self._struct.pack(value))


class UInt(Fixed):
    """``u8`` .. ``u64``, optionally bounded to ``low..high`` (a value rule).

    In JSON a u64 is a decimal string (a JSON integer is accepted on input) and
    the smaller ones are JSON integers.
    """

    def __init__(
        self,
        bits: int,
        *,
        low: int = 0,
        high: int | None = None,
        kind: type[EncodingError] = EncodingError,
    ) -> None:
        super().__init__({8: "B", 16: "H", 32: "I", 64: "Q"}[bits])
        self.bits, self.low, self.kind = bits, low, kind
        self.high = (1 << bits) - 1 if high is None else high
        self.has_rules = low > 0 or self.high < (1 << bits) - 1

    def _rule(self, value: int) -> str | None:
        if value < self.low:
            return f"{value} is not a positive u{self.bits}"
        if value > self.high:
            return f"{value} is above the maximum {self.high}"
        return None

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << self.bits:
            return f"{value!r:.40} is not a u{self.bits}"
        return self._rule(value)

    def decode(self, raw: int) -> int:
        message = self._rule(raw)
        if message is not None:
            raise Invalid(message, self.kind)
        return raw

    def validator(self) -> Validator:
        low, high, fail = self.low, self.high, self.fail

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                fail(inst, attr, value)

        return check

    def to_json(self, value: int) -> Any:
        return str(value) if self.bits == 64 else value

    def from_json(self, value: Any, field: str) -> int:
        value = json_u64(value, field) if self.bits == 64 else json_int(value, self.bits, field)
        return self.checked(value, field) if self.has_rules else value  # type: ignore[no-any-return]


class Amount(UInt):
    """A positive u64 number of utia; every amount error is a ``bad_amount``."""

    def __init__(self) -> None:
        super().__init__(64, low=1, kind=AmountError)

    def from_json(self, value: Any, field: str) -> int:
        return self.checked(json_amount(value, field), field)  # type: ignore[no-any-return]


class Version(Fixed):
    """A ``u8`` version byte that must be the one supported value."""

    has_rules = True

    def __init__(self, expected: int) -> None:
        super().__init__("B")
        self.expected = expected

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or value != self.expected:
            return f"unsupported version {value!r:.40}, expected {self.expected}"
        return None

    def validator(self) -> Validator:
        expected, fail = self.expected, self.fail

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if isinstance(value, bool) or value != expected:
                fail(inst, attr, value)

        return check

    def decode(self, raw: int) -> int:
        if raw != self.expected:
            raise Invalid(f"unsupported version {raw}, expected {self.expected}")
        return raw

    def to_json(self, value: int) -> int:
        return value

    def from_json(self, value: Any, field: str) -> int:
        return self.checked(json_int(value, 8, field), field)  # type: ignore[no-any-return]


class Enum(Fixed):
    """A ``u8`` that must be one of an IntEnum's values; in JSON its lowercase name."""

    has_rules = True

    def __init__(self, enum: type[IntEnum]) -> None:
        super().__init__("B")
        self.enum = enum
        self._members = {m.value: m for m in enum}

    def problem(self, value: Any) -> str | None:
        if isinstance(value, self.enum):
            return None
        return f"{value!r:.40} is not a {self.enum.__name__}"

    def validator(self) -> Validator:
        enum, fail = self.enum, self.fail

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if not isinstance(value, enum):
                fail(inst, attr, value)

        return check

    def decode(self, raw: int) -> IntEnum:
        member = self._members.get(raw)
        if member is None:
            raise Invalid(f"unknown value {raw}")
        return member

    def to_json(self, value: IntEnum) -> str:
        return value.name.lower()

    def from_json(self, value: Any, field: str) -> IntEnum:
        return json_enum(value, self.enum, field)


class Bytes(Fixed):
    """``bytesN``: exactly N raw bytes; in JSON lowercase hex."""

    def __init__(self, n: int) -> None:
        super().__init__(f"{n}s")
        self.n = n

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, bytes) or len(value) != self.n:
            return f"expected {self.n} bytes, got {value!r:.80}"
        return None

    def validator(self) -> Validator:
        n, fail = self.n, self.fail

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if not isinstance(value, bytes) or len(value) != n:
                fail(inst, attr, value)

        return check

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, value: Any, field: str) -> bytes:
        return json_hex(value, field, self.n)


class Address(Bytes):
    """An account: a ``bytes32`` ed25519 public key; in JSON its bech32m text."""

    def __init__(self) -> None:
        super().__init__(32)

    def to_json(self, value: bytes) -> str:
        return encode_address(value)

    def from_json(self, value: Any, field: str) -> bytes:
        return json_address(value, field)


# --- variable-size wires ------------------------------------------------------------


class String(Wire):
    """``string(max)``: a u8 length and UTF-8 bytes, which must match a pattern."""

    def __init__(self, max_len: int, pattern: str, describe: str) -> None:
        self.max_len = max_len
        self.pattern = re.compile(pattern, re.ASCII)
        self.describe = describe

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or not self.pattern.fullmatch(value):
            return f"{value!r:.40} is not {self.describe}"
        return None

    def validator(self) -> Validator:
        matches, fail = self.pattern.fullmatch, self.fail

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if not isinstance(value, str) or not matches(value):
                fail(inst, attr, value)

        return check

    def read(self, r: Reader, field: str) -> str:
        n = r.uint(1, field)
        if n > self.max_len:
            raise r.error(field, f"length {n} above the maximum {self.max_len}")
        try:
            text = r.take(n, field).decode("utf-8")
        except UnicodeDecodeError:
            raise r.error(field, "not valid UTF-8") from None
        if not self.pattern.fullmatch(text):
            raise r.error(field, f"{text!r:.40} is not {self.describe}")
        return text

    def write(self, value: str, out: list[bytes]) -> None:
        raw = value.encode("utf-8")
        out.append(len(raw).to_bytes(1, "big") + raw)

    def to_json(self, value: str) -> str:
        return value

    def from_json(self, value: Any, field: str) -> str:
        return self.checked(json_str(value, field), field)  # type: ignore[no-any-return]


class Text(String):
    """``text(max)``: a u16 length and at most ``max`` bytes of UTF-8, which must match a pattern.

    For text longer than a ``string`` holds (a request target); the bound is
    on the UTF-8 bytes, so the pattern only judges the characters.
    """

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{value!r:.40} is not text"
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form
            return f"{value!r:.40} is not valid UTF-8 text"
        if size > self.max_len:
            return f"{size} bytes of UTF-8, above the maximum {self.max_len}"
        if not self.pattern.fullmatch(value):
            return f"{value!r:.40} is not {self.describe}"
        return None

    def validator(self) -> Validator:
        return Wire.validator(self)

    def read(self, r: Reader, field: str) -> str:
        n = r.uint(2, field)
        if n > self.max_len:
            raise r.error(field, f"length {n} above the maximum {self.max_len}")
        try:
            text = r.take(n, field).decode("utf-8")
        except UnicodeDecodeError:
            raise r.error(field, "not valid UTF-8") from None
        if not self.pattern.fullmatch(text):
            raise r.error(field, f"{text!r:.40} is not {self.describe}")
        return text

    def write(self, value: str, out: list[bytes]) -> None:
        raw = value.encode("utf-8")
        out.append(len(raw).to_bytes(2, "big") + raw)


class VarBytes(Wire):
    """``varbytes(max)``: a u32 length and that many bytes; in JSON lowercase hex."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, bytes) or len(value) > self.max_len:
            return f"expected at most {self.max_len} bytes"
        return None

    def validator(self) -> Validator:
        max_len, fail = self.max_len, self.fail

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if not isinstance(value, bytes) or len(value) > max_len:
                fail(inst, attr, value)

        return check

    def read(self, r: Reader, field: str) -> bytes:
        n = r.uint(4, field)
        if n > self.max_len:
            raise r.error(field, f"length {n} above the maximum {self.max_len}")
        return r.take(n, field)

    def write(self, value: bytes, out: list[bytes]) -> None:
        out.append(len(value).to_bytes(4, "big"))
        out.append(value)

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, value: Any, field: str) -> bytes:
        return self.checked(json_hex(value, field), field)  # type: ignore[no-any-return]


class Option(Wire):
    """``option(T)``: a u8 tag, 0 absent or 1 followed by T; in JSON ``null`` or T."""

    def __init__(self, inner: Wire) -> None:
        self.inner = inner
        self.kind = inner.kind

    def problem(self, value: Any) -> str | None:
        return None if value is None else self.inner.problem(value)

    def validator(self) -> Validator:
        inner = self.inner.validator()

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if value is not None:
                inner(inst, attr, value)

        return check

    def read(self, r: Reader, field: str) -> Any:
        tag = r.uint(1, field)
        if tag == 0:
            return None
        if tag != 1:
            raise r.error(field, f"option tag {tag}, expected 0 or 1")
        return self.inner.read(r, field)

    def write(self, value: Any, out: list[bytes]) -> None:
        if value is None:
            out.append(b"\x00")
        else:
            out.append(b"\x01")
            self.inner.write(value, out)

    def to_json(self, value: Any) -> Any:
        return None if value is None else self.inner.to_json(value)

    def from_json(self, value: Any, field: str) -> Any:
        return None if value is None else self.inner.from_json(value, field)


class Item(Wire):
    """A wire that can also be a list item: it reads a value at the current path."""

    #: The classes a value may be an instance of.
    types: tuple[type, ...]

    def problem(self, value: Any) -> str | None:
        if isinstance(value, self.types):
            return None
        return f"{type(value).__name__} is not a {' or '.join(t.__name__ for t in self.types)}"

    def read_value(self, r: Reader) -> Any:
        raise NotImplementedError

    def read(self, r: Reader, field: str) -> Any:
        r.push(field)
        value = self.read_value(r)
        r.pop()
        return value


class Nested(Item):
    """A struct inside a struct: the model's own encoding, JSON object and rules."""

    def __init__(self, model: type[Canonical]) -> None:
        self.model = model
        self.types = (model,)

    def read_value(self, r: Reader) -> Any:
        return self.model.read(r)

    def write(self, value: Canonical, out: list[bytes]) -> None:
        value.write(out)

    def to_json(self, value: Canonical) -> Any:
        return value.to_json()

    def from_json(self, value: Any, field: str) -> Any:
        return self.model.from_json(value, field)


class BytesItem(Item):
    """``bytesN`` as a list item (a proof's sibling hashes); in JSON lowercase hex."""

    types = (bytes,)

    def __init__(self, n: int) -> None:
        self.wire = Bytes(n)

    def problem(self, value: Any) -> str | None:
        return self.wire.problem(value)

    def read_value(self, r: Reader) -> bytes:
        return r.take(self.wire.n, "")

    def write(self, value: bytes, out: list[bytes]) -> None:
        out.append(value)

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, value: Any, field: str) -> bytes:
        return self.wire.from_json(value, field)


class ListOf(Wire):
    """``list(T, max)``: a count (u16, or u32 for a block's entries), then the items.

    ``lo``/``hi`` bound the count and are checked on the prefix, before any item
    is read; ``distinct`` names the key no two items may share, checked once
    all items are read.
    """

    def __init__(
        self,
        item: Item | type[Canonical],
        lo: int,
        hi: int,
        *,
        count_size: int = 2,
        distinct: Callable[[Any], Any] | None = None,
        repeated: str = "",
    ) -> None:
        self.item: Item = item if isinstance(item, Item) else Nested(item)
        self.lo, self.hi = lo, hi
        self.count_size = count_size
        self.distinct, self.repeated = distinct, repeated

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, tuple) or not self.lo <= len(value) <= self.hi:
            return f"expected {self.lo}..{self.hi} items"
        for i, item in enumerate(value):
            message = self.item.problem(item)
            if message is not None:
                return f"item {i}: {message}"
        return self._repeats(value)

    def validator(self) -> Validator:
        if isinstance(self.item, BytesItem):
            return Wire.validator(self)  # an item's type is not enough: its length counts too
        lo, hi, types, fail = self.lo, self.hi, self.item.types, self.fail
        distinct = self.distinct

        def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
            if isinstance(value, tuple) and lo <= len(value) <= hi:
                for item in value:
                    if not isinstance(item, types):
                        break
                else:
                    if distinct is None or len(set(map(distinct, value))) == len(value):
                        return
            fail(inst, attr, value)

        return check

    def _repeats(self, items: Sequence[Any]) -> str | None:
        if self.distinct is not None and len(set(map(self.distinct, items))) != len(items):
            return self.repeated
        return None

    def read(self, r: Reader, field: str) -> tuple[Any, ...]:
        return self.read_items(r, field, self.read_count(r, field))

    def read_count(self, r: Reader, field: str) -> int:
        n = r.uint(self.count_size, field)
        if n > self.hi:
            raise r.error(field, f"{n} items, above the maximum {self.hi}")
        if n < self.lo:
            raise r.error(field, f"{n} items, below the minimum {self.lo}")
        return n

    def read_items(self, r: Reader, field: str, n: int) -> tuple[Any, ...]:
        codec = self.item.model._codec if isinstance(self.item, Nested) else None
        if (
            codec is not None
            and codec.struct is not None
            and not codec.has_rules
            and r.end - r.pos >= n * codec.size
        ):
            # Fixed-size items without cross-field rules, all complete: one unpack.
            end = r.pos + n * codec.size
            rows = codec.struct.iter_unpack(r.data[r.pos : end])
            if codec.run.checks:
                items = tuple(codec.build_row(row, r, field, i) for i, row in enumerate(rows))
            else:
                new = codec.new
                items = tuple([new(*row) for row in rows])
            r.pos = end
        else:
            r.push(field)
            out = []
            for i in range(n):
                r.push(i)
                out.append(self.item.read_value(r))  # type: ignore[attr-defined]
                r.pop()
            r.pop()
            items = tuple(out)
        if self.distinct is not None and n > 1:
            message = self._repeats(items)
            if message is not None:
                raise r.error(field, message)
        return items

    def write(self, value: tuple[Any, ...], out: list[bytes]) -> None:
        out.append(len(value).to_bytes(self.count_size, "big"))
        for item in value:
            self.item.write(item, out)

    def to_json(self, value: tuple[Any, ...]) -> list[Any]:
        return [self.item.to_json(item) for item in value]

    def from_json(self, value: Any, field: str) -> tuple[Any, ...]:
        value = json_list(value, field)
        if not self.lo <= len(value) <= self.hi:
            raise EncodingError(f"{field}: {len(value)} items, expected {self.lo}..{self.hi}")
        items = tuple(self.item.from_json(x, f"{field}[{i}]") for i, x in enumerate(value))
        message = self._repeats(items)
        if message is not None:
            raise EncodingError(f"{field}: {message}")
        return items


U8: Final = UInt(8)
U16: Final = UInt(16)
U32: Final = UInt(32)
U64: Final = UInt(64)
AMOUNT: Final = Amount()
BYTES20: Final = Bytes(20)
BYTES32: Final = Bytes(32)
BYTES64: Final = Bytes(64)
ADDRESS: Final = Address()
CHAIN_ID: Final = String(CHAIN_ID_MAX, CHAIN_ID_PATTERN, "1..32 characters of [a-z0-9-]")


# --- models -----------------------------------------------------------------------


def field(wire: Wire, *, json: bool = True, **kwargs: Any) -> Any:
    """An attrs field declared with its wire type; ``json=False`` leaves it out of JSON."""
    if isinstance(wire, ListOf):
        kwargs.setdefault("converter", to_tuple)
    return attrs.field(validator=wire.validator(), metadata={_WIRE: wire, _IN_JSON: json}, **kwargs)


class Canonical:
    """Base of every model: one byte form and one JSON form, derived by :func:`canonical`.

    A model may define ``broken_rule`` for its cross-field rules; decoders check
    it after all fields, and the model's ``__attrs_post_init__`` on construction.
    """

    __slots__ = ()
    NAME: ClassVar[str]
    _codec: ClassVar[ModelCodec]

    def to_bytes(self) -> bytes:
        return self._codec.encode(self)

    def write(self, out: list[bytes]) -> None:
        """Append the encoding (the parts a nesting value joins once)."""
        self._codec.write(self, out)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls._codec.read(r)  # type: ignore[no-any-return]

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Strict decode: the whole input must be exactly one canonical value."""
        r = Reader(data, cls.NAME)
        value = cls.read(r)
        r.finish()
        return value

    def to_json(self) -> dict[str, Any]:
        return self._codec.to_json(self)

    @classmethod
    def from_json(cls, data: Any, what: str | None = None) -> Self:
        return cls._codec.from_json(data, what or cls.NAME)  # type: ignore[no-any-return]

    def broken_rule(self) -> tuple[str, str] | None:
        """The field and message of a broken cross-field rule, if any."""
        return None


def check_rules(value: Canonical) -> None:
    """Raise for a broken cross-field rule, named ``Class.field`` (construction)."""
    broken = value.broken_rule()
    if broken is not None:
        raise EncodingError(f"{type(value).__name__}.{broken[0]}: {broken[1]}")


def canonical(cls: type[C]) -> type[C]:
    """Derive ``cls``'s codecs from its declared fields (apply above ``@attrs.frozen``)."""
    codec = ModelCodec(cls)
    cls._codec = codec
    if codec.encode_fixed is not None and "to_bytes" not in cls.__dict__:
        cls.to_bytes = codec.encode_fixed  # type: ignore[method-assign]
    return cls


class _Run:
    """Consecutive fixed-width fields: one unpack, then each field's rules in order."""

    def __init__(self, names: Sequence[str], wires: Sequence[Wire]) -> None:
        self.names = tuple(names)
        self.wires = tuple(wires)
        self.struct = struct.Struct(">" + "".join(w.fmt for w in wires))
        self.size = self.struct.size
        self.checks = tuple(
            (i, name, wire.decode)
            for i, (name, wire) in enumerate(zip(names, wires, strict=True))
            if wire.has_rules
        )
        get = operator.attrgetter(*names)
        self.get: Callable[[Any], tuple[Any, ...]] = (
            get if len(names) > 1 else lambda obj: (get(obj),)
        )

    def convert(self, row: tuple[Any, ...]) -> list[Any]:
        """Each field's rules on an unpacked row, in order; ``Invalid`` names the field."""
        values = list(row)
        for i, name, decode in self.checks:
            try:
                values[i] = decode(values[i])
            except Invalid as exc:
                exc.field = name
                raise
        return values

    def check(self, row: tuple[Any, ...], r: Reader) -> list[Any]:
        try:
            return self.convert(row)
        except Invalid as exc:
            raise r.error(exc.field, exc.message, exc.kind) from None

    def read(self, r: Reader, values: list[Any]) -> None:
        pos = r.pos
        if r.end - pos < self.size:
            # Some field is cut short: read one by one, so that an earlier
            # field's broken rule wins and the truncated field is named.
            for name, wire in zip(self.names, self.wires, strict=True):
                values.append(wire.read(r, name))
            return
        row = self.struct.unpack_from(r.data, pos)
        r.pos = pos + self.size
        values.extend(self.check(row, r) if self.checks else row)

    def write(self, obj: Any, out: list[bytes]) -> None:
        out.append(self.struct.pack(*self.get(obj)))


class _Var:
    """One field that carries its own length (string, list, option, nested, ...)."""

    def __init__(self, name: str, wire: Wire) -> None:
        self.name, self.wire = name, wire

    def read(self, r: Reader, values: list[Any]) -> None:
        values.append(self.wire.read(r, self.name))

    def write(self, obj: Any, out: list[bytes]) -> None:
        self.wire.write(getattr(obj, self.name), out)


Step = _Run | _Var


class ModelCodec:
    """The encoder, decoder and JSON form of one model, derived from its declared fields."""

    def __init__(self, cls: type[Canonical]) -> None:
        declared = [a for a in attrs.fields(cls) if _WIRE in a.metadata]  # type: ignore[arg-type]
        self.names = tuple(a.name for a in declared)
        self.wires: tuple[Wire, ...] = tuple(a.metadata[_WIRE] for a in declared)
        self.json = tuple(
            (a.name, a.metadata[_WIRE], a.metadata[_IN_JSON], a.default) for a in declared
        )
        self.json_keys = tuple(a.name for a in declared if a.metadata[_IN_JSON])
        self.json_fields = tuple(f[:3] for f in self.json if f[2])
        self.steps = _steps(self.names, self.wires)
        self.new = _constructor(cls, self.names)
        self.has_rules = "broken_rule" in vars(cls)
        fixed = len(self.steps) == 1 and isinstance(self.steps[0], _Run)
        self.run = self.steps[0] if fixed else None
        self.struct = self.run.struct if isinstance(self.run, _Run) else None
        self.size = self.struct.size if self.struct is not None else 0
        self.encode_fixed = _fixed_encoder(self.names, self.struct) if self.struct else None

    def split(self, name: str) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
        """The steps before field ``name`` and from it on (a transaction's unsigned part)."""
        for i, step in enumerate(self.steps):
            if isinstance(step, _Var) and step.name == name:
                return self.steps[:i], self.steps[i:]
        raise ValueError(f"{name} does not start a variable-size field")

    def read_steps(self, r: Reader, steps: Sequence[Step], values: list[Any]) -> None:
        for step in steps:
            step.read(r, values)

    def build(self, values: Sequence[Any], r: Reader) -> Any:
        """The model from decoded values, after its cross-field rules."""
        value = self.new(*values)
        if self.has_rules:
            broken = value.broken_rule()
            if broken is not None:
                raise r.error(broken[0], broken[1])
        return value

    def build_row(self, row: tuple[Any, ...], r: Reader, field: str, i: int) -> Any:
        """A fixed-size list item from its unpacked row, named ``field[i]`` on error."""
        try:
            return self.new(*self.run.convert(row))  # type: ignore[union-attr]
        except Invalid as exc:
            r.push(field)
            r.push(i)
            raise r.error(exc.field, exc.message, exc.kind) from None

    def read(self, r: Reader) -> Any:
        values: list[Any] = []
        for step in self.steps:
            step.read(r, values)
        return self.build(values, r)

    def write(self, obj: Any, out: list[bytes]) -> None:
        if self.encode_fixed is not None:
            out.append(self.encode_fixed(obj))
            return
        for step in self.steps:
            step.write(obj, out)

    def encode(self, obj: Any) -> bytes:
        out: list[bytes] = []
        self.write(obj, out)
        return b"".join(out)

    def to_json(self, obj: Any) -> dict[str, Any]:
        return {name: wire.to_json(getattr(obj, name)) for name, wire, _ in self.json_fields}

    def from_json(self, data: Any, what: str) -> Any:
        """Keys first (unknown, then missing), then fields in order, then cross-field rules."""
        data = json_fields(data, what, self.json_keys)
        values = [
            wire.from_json(data[name], f"{what}.{name}") if in_json else default
            for name, wire, in_json, default in self.json
        ]
        value = self.new(*values)
        if self.has_rules:
            broken = value.broken_rule()
            if broken is not None:
                raise EncodingError(f"{what}.{broken[0]}: {broken[1]}")
        return value


def _steps(names: Sequence[str], wires: Sequence[Wire]) -> tuple[Step, ...]:
    steps: list[Step] = []
    run: list[int] = []
    for i, wire in enumerate(wires):
        if wire.size:
            run.append(i)
            continue
        if run:
            steps.append(_Run([names[j] for j in run], [wires[j] for j in run]))
            run = []
        steps.append(_Var(names[i], wire))
    if run:
        steps.append(_Run([names[j] for j in run], [wires[j] for j in run]))
    return tuple(steps)


def _constructor(cls: type, names: Sequence[str]) -> Callable[..., Any]:
    """``new(*values)``: an instance from checked values, without running the validators.

    Generated like attrs' own ``__init__``; attributes that are not declared
    fields (cached ids) start at their defaults.
    """
    rest = [a for a in attrs.fields(cls) if a.name not in names]  # type: ignore[arg-type]
    if any(isinstance(a.default, attrs.Factory) for a in rest):  # type: ignore[arg-type]
        raise TypeError(f"{cls.__name__}: cached attributes need plain defaults")
    lines = [f"def new({', '.join(names)}):", "    self = _new(cls)"]
    lines += [f"    _set(self, {n!r}, {n})" for n in names]
    lines += [f"    _set(self, {a.name!r}, _defaults[{i}])" for i, a in enumerate(rest)]
    lines.append("    return self")
    defaults = [a.default for a in rest]
    scope = {"_new": object.__new__, "_set": _set, "cls": cls, "_defaults": defaults}
    exec("\n".join(lines), scope)  # source: attrs field names only
    return scope["new"]  # type: ignore[no-any-return]


def _fixed_encoder(names: Sequence[str], packer: struct.Struct) -> Callable[[Any], bytes]:
    """``to_bytes(self)`` of a model of fixed-width fields only: one ``struct.pack``."""
    args = ", ".join(f"self.{n}" for n in names)
    scope = {"_pack": packer.pack}
    exec(f"def to_bytes(self):\n    return _pack({args})\n", scope)
    return scope["to_bytes"]  # type: ignore[no-any-return]

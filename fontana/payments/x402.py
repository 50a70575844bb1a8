"""The x402 version 2 envelope of a paid call: three HTTP headers, each base64 of JSON.

``PAYMENT-REQUIRED`` carries the price (a 402 challenge, or a rejection),
``PAYMENT-SIGNATURE`` the client's payment, ``PAYMENT-RESPONSE`` the result
and its receipt (docs/payments.md section 2); x402's own SDK reads and writes
these forms. Every header is hostile input: its length is capped before any
base64 decoding, the JSON is strict (no duplicate keys, no NaN, bounded
nesting and numbers, exactly the known keys with the right types), and every
problem is an :class:`~fontana.errors.EncodingError` (``malformed``, HTTP 400)
naming the header and the field. Decoding never changes anything.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, TypeVar

import attrs

from fontana import strict_json
from fontana.address import decode_address
from fontana.errors import AddressError, EncodingError
from fontana.models import SignedReceipt, Transaction
from fontana.payments.errors import WrongSchemeError

PAYMENT_REQUIRED: Final = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE: Final = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE: Final = "PAYMENT-RESPONSE"
X402_VERSION: Final = 2
SCHEME: Final = "fontana"
ASSET: Final = "utia"
NETWORK_PREFIX: Final = "fontana:"
#: The largest valid transaction is about 14 kB (28 kB in hex); with a 2 KiB
#: resource named twice it still fits. A longer header is refused unread.
MAX_HEADER_CHARS: Final = 64 * 1024
#: Containers inside containers; our own forms need 4.
MAX_JSON_DEPTH: Final = 8
#: Longest text field kept from a header (a resource is at most 2048 bytes,
#: percent-encoding aside); longer is malformed.
MAX_TEXT: Final = 8192
#: ``accepts`` entries read from one challenge.
MAX_ACCEPTS: Final = 16
_DIGITS: Final = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_HEX32: Final = re.compile(r"[0-9a-f]{64}", re.ASCII)
_U64_LIMIT: Final = 1 << 64
_U32_LIMIT: Final = 1 << 32


V = TypeVar("V")


class _HasJSON(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def network_for(chain_id: str) -> str:
    """The x402 network name (CAIP-2 style) of a Fontana chain."""
    return NETWORK_PREFIX + chain_id


# --- encoding ----------------------------------------------------------------


def dumps(data: Mapping[str, Any]) -> bytes:
    """Compact ASCII JSON: the bytes of a reply body and, base64-encoded, of its header."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def encode_header(obj: Mapping[str, Any] | _HasJSON) -> str:
    """A header value: standard base64, padded, of the compact JSON of ``obj``."""
    data = obj if isinstance(obj, Mapping) else obj.to_json()
    return base64.b64encode(dumps(data)).decode("ascii")


# --- strict decoding -----------------------------------------------------------


def _load(text: Any, header: str) -> dict[str, Any]:
    """The JSON object in a header value, or ``malformed`` saying why it is not one."""

    def fail(reason: str) -> EncodingError:
        return EncodingError(f"{header}: {reason}")

    if not isinstance(text, str):
        raise fail(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_HEADER_CHARS:
        raise fail(f"{len(text)} characters, above the maximum {MAX_HEADER_CHARS}")
    if not text.isascii():
        raise fail("not base64: non-ASCII characters")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise fail("not base64 (standard alphabet, with padding)") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise fail("not canonical base64 (nonzero padding bits)")
    data = strict_json.loads(raw, header, max_depth=MAX_JSON_DEPTH)
    if not isinstance(data, dict):
        raise fail(f"expected a JSON object, got {type(data).__name__}")
    return data


def _fields(
    data: Any, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``data`` as an object with every ``required`` key, and no key outside both lists."""
    if not isinstance(data, dict):
        raise EncodingError(f"{what}: expected a JSON object")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise EncodingError(f"{what}: unknown keys {', '.join(repr(k)[:40] for k in unknown)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise EncodingError(f"{what}: missing keys {', '.join(missing)}")
    return data


def _text(value: Any, what: str, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise EncodingError(f"{what}: expected a string")
    if len(value) > max_len:
        raise EncodingError(f"{what}: {len(value)} characters, above the maximum {max_len}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError(f"{what}: not valid UTF-8 (a lone surrogate)") from None
    return value


def _hex_bytes(value: Any) -> bytes | None:
    """The bytes of lowercase hex without separators, else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if raw.hex() == value else None


def _digits(value: Any, what: str, low: int = 0) -> int:
    """A u64 as x402 writes amounts: a decimal string, no sign, no leading zeros."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or int(value) >= _U64_LIMIT:
        raise EncodingError(f"{what}: {value!r:.40} is not a decimal string of a u64")
    number = int(value)
    if number < low:
        raise EncodingError(f"{what}: {number} is below {low}")
    return number


def _integer(value: Any, what: str, low: int, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < limit:
        raise EncodingError(f"{what}: {value!r:.40} is not an integer in {low}..{limit - 1}")
    return value


def _address(value: Any, what: str) -> str:
    text = _text(value, what, 128)
    try:
        decode_address(text)  # cached: most headers name one provider
    except AddressError as exc:
        raise EncodingError(f"{what}: {exc.message}") from None
    return text


def _version(data: dict[str, Any], what: str) -> None:
    version = data["x402Version"]
    if type(version) is not int or version != X402_VERSION:  # not True, not 2.0
        raise EncodingError(f"{what}.x402Version: {version!r:.40} is not {X402_VERSION}")


def _optional(data: dict[str, Any], key: str, read: Callable[[Any], V]) -> V | None:
    """An optional key: absent is ``None``; present (``null`` too) must be valid."""
    return read(data[key]) if key in data else None


def _free_form(value: Any, what: str, depth: int) -> None:
    """An object whose contents are not ours to check (x402 extensions, another scheme's
    ``extra``), ``depth`` containers into the document (the top object is 1). Every other
    value has a fixed shape, so this is where nesting is bounded."""
    if not isinstance(value, dict):
        raise EncodingError(f"{what}: expected a JSON object")
    budget = MAX_JSON_DEPTH - depth + 1
    if strict_json.depth(value, budget) > budget:
        raise EncodingError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH}")


# --- the three forms -------------------------------------------------------------


@attrs.frozen
class ResourceInfo:
    """What a challenge is for: the full URL, and words for people."""

    url: str
    description: str = ""
    mime_type: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "description": self.description, "mimeType": self.mime_type}

    @classmethod
    def from_json(cls, data: Any, what: str) -> ResourceInfo:
        """Strict; x402's optional service metadata is checked for type and dropped."""
        data = _fields(
            data, what, ("url",), ("description", "mimeType", "serviceName", "tags", "iconUrl")
        )
        for key in ("serviceName", "iconUrl"):
            if key in data:
                _text(data[key], f"{what}.{key}")
        if "tags" in data:
            tags = data["tags"]
            if not isinstance(tags, list) or len(tags) > MAX_ACCEPTS:
                raise EncodingError(f"{what}.tags: expected a list of at most {MAX_ACCEPTS}")
            for i, tag in enumerate(tags):
                _text(tag, f"{what}.tags[{i}]", 64)
        return cls(
            _text(data["url"], f"{what}.url"),
            _text(data.get("description", ""), f"{what}.description"),
            _text(data.get("mimeType", ""), f"{what}.mimeType", 256),
        )


_REQUIREMENT_KEYS: Final = (
    "scheme",
    "network",
    "asset",
    "amount",
    "payTo",
    "maxTimeoutSeconds",
    "extra",
)
_EXTRA_KEYS: Final = ("genesisHash", "method", "resource", "minFee")


@attrs.frozen
class PaymentRequirement:
    """One ``accepts`` entry of scheme ``fontana``: what a payment for one call must be.

    ``method`` and ``resource`` are what the payment's binding must name
    (docs/payments.md 1.3); ``node_url`` is a node API the client may use.
    """

    network: str
    amount: int
    pay_to: str
    max_timeout_s: int
    genesis_hash: bytes
    method: str
    resource: str
    min_fee: int
    node_url: str | None = None
    scheme: str = SCHEME
    asset: str = ASSET

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "genesisHash": self.genesis_hash.hex(),
            "method": self.method,
            "resource": self.resource,
            "minFee": str(self.min_fee),
        }
        if self.node_url:
            extra["nodeUrl"] = self.node_url
        return {
            "scheme": self.scheme,
            "network": self.network,
            "asset": self.asset,
            "amount": str(self.amount),
            "payTo": self.pay_to,
            "maxTimeoutSeconds": self.max_timeout_s,
            "extra": extra,
        }

    @classmethod
    def from_json(cls, data: Any, what: str) -> PaymentRequirement:
        """Strict; an entry of another scheme is :class:`WrongSchemeError` (a 402, not a 400)."""
        scheme = _scheme(data, what)
        if scheme != SCHEME:
            raise WrongSchemeError(f"{what}.scheme: {scheme!r:.40} is not {SCHEME!r}")
        extra = _fields(data["extra"], f"{what}.extra", _EXTRA_KEYS, ("nodeUrl",))
        genesis_hash = extra["genesisHash"]
        if not isinstance(genesis_hash, str) or not _HEX32.fullmatch(genesis_hash):
            raise EncodingError(f"{what}.extra.genesisHash: expected 64 lowercase hex digits")
        return cls(
            network=_text(data["network"], f"{what}.network", 128),
            amount=_digits(data["amount"], f"{what}.amount", low=1),
            pay_to=_address(data["payTo"], f"{what}.payTo"),
            max_timeout_s=_integer(
                data["maxTimeoutSeconds"], f"{what}.maxTimeoutSeconds", 1, _U32_LIMIT
            ),
            genesis_hash=bytes.fromhex(genesis_hash),
            method=_text(extra["method"], f"{what}.extra.method", 16),
            resource=_text(extra["resource"], f"{what}.extra.resource"),
            min_fee=_digits(extra["minFee"], f"{what}.extra.minFee"),
            node_url=_optional(extra, "nodeUrl", lambda v: _text(v, f"{what}.extra.nodeUrl", 2048)),
            asset=_text(data["asset"], f"{what}.asset", 64),
        )


def _scheme(data: Any, what: str) -> str:
    """The scheme of an ``accepts`` entry whose generic x402 shape is right."""
    data = _fields(data, what, _REQUIREMENT_KEYS)
    if not isinstance(data["extra"], dict):
        raise EncodingError(f"{what}.extra: expected a JSON object")
    return _text(data["scheme"], f"{what}.scheme", 64)


def _resource(data: dict[str, Any], what: str) -> ResourceInfo | None:
    """The optional ``resource`` object (absent, never ``null``)."""
    if "resource" not in data:
        return None
    return ResourceInfo.from_json(data["resource"], f"{what}.resource")


@attrs.frozen
class PaymentRequired:
    """A 402 challenge or a rejection: the code, words for people, and how to pay."""

    error: str
    message: str
    resource: ResourceInfo | None
    accepts: tuple[PaymentRequirement, ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"x402Version": X402_VERSION, "error": self.error}
        out["message"] = self.message
        if self.resource is not None:
            out["resource"] = self.resource.to_json()
        out["accepts"] = [a.to_json() for a in self.accepts]
        return out

    @classmethod
    def from_json(cls, data: Any, what: str = PAYMENT_REQUIRED) -> PaymentRequired:
        """Strict; ``accepts`` entries of other schemes are checked for shape and skipped."""
        data = _fields(
            data, what, ("x402Version", "accepts"), ("error", "message", "resource", "extensions")
        )
        _version(data, what)
        entries = data["accepts"]
        if not isinstance(entries, list) or len(entries) > MAX_ACCEPTS:
            raise EncodingError(f"{what}.accepts: expected a list of at most {MAX_ACCEPTS}")
        accepts = []
        for i, entry in enumerate(entries):
            where = f"{what}.accepts[{i}]"
            if _scheme(entry, where) == SCHEME:
                accepts.append(PaymentRequirement.from_json(entry, where))
            else:
                _free_form(entry["extra"], f"{where}.extra", 4)
        if "extensions" in data:
            _free_form(data["extensions"], f"{what}.extensions", 2)
        return cls(
            error=_text(data.get("error", ""), f"{what}.error", 64),
            message=_text(data.get("message", ""), f"{what}.message"),
            resource=_resource(data, what),
            accepts=tuple(accepts),
        )


@attrs.frozen
class PaymentPayload:
    """A client's payment: the ``accepts`` entry it fulfils and the signed transaction.

    ``resource`` is what x402's SDK copies from the challenge; it is checked
    for shape and plays no part in the binding (the transaction does).
    """

    accepted: PaymentRequirement
    transaction: Transaction
    resource: ResourceInfo | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "x402Version": X402_VERSION,
            "accepted": self.accepted.to_json(),
            "payload": {"transaction": self.transaction.to_bytes().hex()},
        }
        if self.resource is not None:
            out["resource"] = self.resource.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any, what: str = PAYMENT_SIGNATURE) -> PaymentPayload:
        data = _fields(
            data, what, ("x402Version", "accepted", "payload"), ("resource", "extensions")
        )
        _version(data, what)
        # The scheme first: another scheme's payment is a 402 whatever its payload.
        accepted = PaymentRequirement.from_json(data["accepted"], f"{what}.accepted")
        payload = _fields(data["payload"], f"{what}.payload", ("transaction",))
        hex_tx = payload["transaction"]
        raw = _hex_bytes(hex_tx)
        if not raw:
            raise EncodingError(f"{what}.payload.transaction: expected lowercase hex")
        try:
            transaction = Transaction.from_bytes(raw)
        except EncodingError as exc:
            raise EncodingError(f"{what}.payload.transaction: {exc.message}") from None
        if "extensions" in data:
            _free_form(data["extensions"], f"{what}.extensions", 2)
        return cls(accepted=accepted, transaction=transaction, resource=_resource(data, what))


@attrs.frozen
class PaymentResponse:
    """What happened to a paid call (x402's ``SettleResponse``), with its receipt if paid."""

    success: bool
    txid: bytes
    network: str
    payer: str | None = None
    amount: int | None = None
    receipt: SignedReceipt | None = None
    error_reason: str | None = None
    error_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": self.success}
        if self.error_reason is not None:
            out["errorReason"] = self.error_reason
        if self.error_message is not None:
            out["errorMessage"] = self.error_message
        out["transaction"] = self.txid.hex()
        out["network"] = self.network
        if self.payer is not None:
            out["payer"] = self.payer
        if self.amount is not None:
            out["amount"] = str(self.amount)
        if self.receipt is not None:
            out["extensions"] = {"fontana": {"receipt": self.receipt.to_json()}}
        return out

    @classmethod
    def from_json(cls, data: Any, what: str = PAYMENT_RESPONSE) -> PaymentResponse:
        """Strict: a success carries a receipt, a failure a reason and none."""
        data = _fields(
            data,
            what,
            ("success", "transaction", "network"),
            ("payer", "amount", "extensions", "errorReason", "errorMessage"),
        )
        success = data["success"]
        if not isinstance(success, bool):
            raise EncodingError(f"{what}.success: expected true or false")
        txid = data["transaction"]
        if not isinstance(txid, str) or not _HEX32.fullmatch(txid):
            raise EncodingError(f"{what}.transaction: expected 64 lowercase hex digits")
        receipt = None
        if "extensions" in data:
            ext = _fields(data["extensions"], f"{what}.extensions", ("fontana",))
            inner = _fields(ext["fontana"], f"{what}.extensions.fontana", ("receipt",))
            try:
                receipt = SignedReceipt.from_json(inner["receipt"])
            except EncodingError as exc:
                raise EncodingError(f"{what}.extensions.fontana.receipt: {exc.message}") from None
        if success != (receipt is not None) or success == ("errorReason" in data):
            raise EncodingError(
                f"{what}: a success carries a receipt and no errorReason, a failure the reverse"
            )
        return cls(
            success=success,
            txid=bytes.fromhex(txid),
            network=_text(data["network"], f"{what}.network", 128),
            payer=_optional(data, "payer", lambda v: _address(v, f"{what}.payer")),
            amount=_optional(data, "amount", lambda v: _digits(v, f"{what}.amount", low=1)),
            receipt=receipt,
            error_reason=_optional(data, "errorReason", lambda v: _text(v, f"{what}.reason", 64)),
            error_message=_optional(data, "errorMessage", lambda v: _text(v, f"{what}.message")),
        )


def settle_response(
    *,
    txid: bytes,
    network: str,
    payer: str,
    amount: int,
    receipt: SignedReceipt | None = None,
    error_reason: str | None = None,
    error_message: str | None = None,
) -> PaymentResponse:
    """The ``PAYMENT-RESPONSE`` of a call: paid (with ``receipt``) or not (with a reason)."""
    return PaymentResponse(
        success=error_reason is None,
        txid=txid,
        network=network,
        payer=payer,
        amount=amount,
        receipt=receipt,
        error_reason=error_reason,
        error_message=error_message,
    )


def decode_payment_required(text: Any) -> PaymentRequired:
    """A ``PAYMENT-REQUIRED`` header value (or a 402 body as text), strictly."""
    return PaymentRequired.from_json(_load(text, PAYMENT_REQUIRED))


def decode_payment_payload(text: Any) -> PaymentPayload:
    """A ``PAYMENT-SIGNATURE`` header value, strictly.

    ``malformed`` for anything but base64 JSON of a v2 payload of scheme
    ``fontana`` holding one canonical transaction; ``wrong_scheme`` for a
    well-formed payload of another scheme.
    """
    return PaymentPayload.from_json(_load(text, PAYMENT_SIGNATURE))


def decode_payment_response(text: Any) -> PaymentResponse:
    """A ``PAYMENT-RESPONSE`` header value, strictly (the receipt's signature is not checked)."""
    return PaymentResponse.from_json(_load(text, PAYMENT_RESPONSE))

"""Reading one HTTP request, hostile until checked: body, JSON, query and path values.

Every limit is checked before the work it bounds: the declared body size
before a byte is read, the JSON nesting before a value is looked at, the
length of a path value before it is decoded. Each failure is a typed error
whose code and status the client sees (``docs/node.md``, *Limits*).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from fontana import strict_json
from fontana.address import decode_address
from fontana.errors import EncodingError
from fontana.models import Transaction
from fontana.models._base import json_hex
from fontana.node.errors import RequestError

#: The largest request body: a transaction at every size limit is about 14 kB
#: (28 kB as hex), a settle adds a receipt of at most about 2.3 kB.
MAX_BODY: Final = 64 * 1024
#: Objects and arrays nested deeper than this are refused (a transaction's JSON form
#: inside a request is 4 deep).
MAX_JSON_DEPTH: Final = 8
#: Path plus query string; the longest real target is a proof path (about 110 characters).
MAX_TARGET: Final = 1024
_MAX_QUERY_FIELDS: Final = 8
_TXID_RE: Final = re.compile(r"[0-9a-f]{64}", re.ASCII)
_U64_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_LENGTH_RE: Final = re.compile(r"[0-9]{1,20}", re.ASCII)


def parse_json(body: bytes) -> Any:
    """Strict JSON of a request body: UTF-8, no duplicate keys, integers only, bounded depth."""
    return strict_json.loads(body, "request body", integers_only=True, max_depth=MAX_JSON_DEPTH)


def read_body(environ: Mapping[str, Any], limit: int = MAX_BODY) -> bytes:
    """The request body, refused by its declared size before any of it is read."""
    if environ.get("HTTP_TRANSFER_ENCODING"):
        raise RequestError(
            "send the body with a Content-Length, not a transfer encoding",
            code="length_required",
            status=411,
        )
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared == "":
        if environ.get("REQUEST_METHOD") == "POST":
            raise RequestError("a POST needs a Content-Length", code="length_required", status=411)
        return b""
    if not _LENGTH_RE.fullmatch(declared):
        raise EncodingError(f"Content-Length {declared[:40]!r} is not a byte count")
    size = int(declared)
    if size > limit:
        raise RequestError(
            f"the body is {size} bytes; this endpoint takes at most {limit}",
            code="body_too_large",
            status=413,
        )
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            raise EncodingError(f"the body ended after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def json_body(environ: Mapping[str, Any], limit: int = MAX_BODY) -> Any:
    """The request's JSON body, at most ``limit`` bytes; the content type must say JSON."""
    media, _, params = (environ.get("CONTENT_TYPE") or "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if media.strip().lower() != "application/json" or charset not in ("", "utf-8", "utf8"):
        raise RequestError(
            f"expected Content-Type application/json, got {media[:60]!r}",
            code="unsupported_media_type",
            status=415,
        )
    return parse_json(read_body(environ, limit))


def parse_query(text: str, allowed: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """The query string's values, each once, each parsed; unknown names are errors."""
    if not text:
        return {}
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_QUERY_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError included
        raise EncodingError(f"query string: not a valid query ({exc})") from None
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise EncodingError(f"query parameter {name[:40]!r} is unknown (known: {known})")
        if name in out:
            raise EncodingError(f"query parameter {name!r} is given twice")
        out[name] = allowed[name](value)
    return out


# --- path and query values ----------------------------------------------------------


def parse_txid(text: str) -> bytes:
    """64 lower-case hex digits (a txid or any entry id)."""
    if not _TXID_RE.fullmatch(text):
        raise EncodingError(f"{text[:80]!r} is not a txid (64 lower-case hex digits)")
    return bytes.fromhex(text)


def parse_u64(text: str, what: str) -> int:
    """Decimal digits without sign or leading zeros, below 2**64."""
    if not _U64_RE.fullmatch(text) or int(text) >= 1 << 64:
        raise EncodingError(f"{what} {text[:40]!r} is not a whole number in 0..2^64-1")
    return int(text)


def parse_height(text: str) -> int:
    return parse_u64(text, "height")


def parse_index(text: str) -> int:
    value = parse_u64(text, "output index")
    if value >= 1 << 16:
        raise EncodingError(f"output index {text[:40]!r} is not in 0..65535")
    return value


def parse_address(text: str) -> bytes:
    """An ``fnt1...`` address (``bad_address`` otherwise)."""
    return decode_address(text)


# --- body fields ------------------------------------------------------------------


def transaction_field(value: Any, field: str) -> Transaction:
    """A signed transaction given as hex of its canonical bytes, or as its JSON form."""
    if isinstance(value, str):
        return Transaction.from_bytes(json_hex(value, field))
    if isinstance(value, dict):
        return Transaction.from_json(value, field)
    raise EncodingError(f"{field}: expected hex of the canonical bytes or the JSON form")

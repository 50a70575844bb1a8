"""Paid calls for plain WSGI apps, and the built-in ``wsgi`` charging adapter.

``charge(charger, utia=1500)(app)`` wraps a WSGI app (one route, or a whole
app as middleware) so every call pays 1500 utia; ``price=fn`` takes a
function of the WSGI environ instead. The wrapped app's response is buffered
until the payment is settled, so its status decides settle or release and the
``PAYMENT-RESPONSE`` header can be added.

The request body (for the receipt's ``request_hash``) is read only for a
payment that was held, right before the app runs, and handed to the app as a
fresh ``wsgi.input`` holding the same bytes: WSGI input can be read once, and
the app still reads it whole. ``max_body_bytes`` caps it (413 above).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qs, quote

import attrs

from fontana.clock import now_ms
from fontana.errors import EncodingError
from fontana.payments.charger import Charger, PaidRequest, PaymentReply, ViewResponse
from fontana.payments.prices import price_function
from fontana.payments.x402 import PAYMENT_SIGNATURE

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from fontana.config import Settings

#: Largest request body a paid call reads unless the decorator says otherwise.
DEFAULT_MAX_BODY: Final = 1 << 20
#: Characters a path keeps unescaped (RFC 3986 ``pchar`` and ``/``); the rest,
#: ``%`` included, are percent-encoded, so each path has one form.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"
#: A query is passed on as the client sent it, except for what may not appear there.
_QUERY_SAFE: Final = _PATH_SAFE + "?%"
_DIGITS: Final = re.compile(r"[0-9]{1,19}", re.ASCII)


def _native_bytes(text: str) -> bytes:
    """PEP 3333 strings carry bytes as latin-1; a server that breaks that gets UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def request_target(environ: WSGIEnvironment) -> str:
    """The resource a payment is bound to: path (percent-encoded) and query.

    Servers decode the path before the app sees it, so it is encoded again in
    one normal form; clients bind what the challenge's ``extra.resource`` says.
    """
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    target = quote(_native_bytes(path), safe=_PATH_SAFE) or "/"
    query = environ.get("QUERY_STRING", "")
    if query:
        target += "?" + quote(_native_bytes(query), safe=_QUERY_SAFE)
    return target


def request_url(environ: WSGIEnvironment, target: str) -> str:
    """The absolute URL of the request, for people and x402 tools (not bound)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = environ.get("SERVER_PORT", "")
        if port and port != {"http": "80", "https": "443"}.get(scheme):
            host = f"{host}:{port}"
    return f"{scheme}://{host}{target}"


def _header_reader(environ: WSGIEnvironment) -> Callable[[str], str | None]:
    def header(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    return header


def _content_length(environ: WSGIEnvironment) -> int | None:
    """The declared body length; ``None`` when the header is not a decimal number."""
    raw = environ.get("CONTENT_LENGTH") or "0"
    return int(raw) if isinstance(raw, str) and _DIGITS.fullmatch(raw) else None


def _body_reader(environ: WSGIEnvironment, length: int, max_body: int) -> Callable[[], bytes]:
    """Read the body once, and give the app a fresh stream of the same bytes."""

    def read() -> bytes:
        stream = environ["wsgi.input"]
        if length:
            data = stream.read(length)
        elif environ.get("wsgi.input_terminated"):  # no length: read to the end, bounded
            data = stream.read(max_body + 1)
            if len(data) > max_body:
                raise EncodingError(f"the request body is larger than {max_body} bytes")
        else:
            data = b""
        if len(data) < length:
            raise EncodingError(f"the request body ended after {len(data)} of {length} bytes")
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        return bytes(data)

    return read


@attrs.frozen
class _Captured:
    """A WSGI app's whole response, held until the payment is settled or released."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def describe(self) -> ViewResponse:
        content_type = next((v for k, v in self.headers if k.lower() == "content-type"), "")
        return ViewResponse(int(self.status[:3]), content_type, self.body)


def _run_app(app: WSGIApplication, environ: WSGIEnvironment) -> _Captured:
    started: list[tuple[str, list[tuple[str, str]]]] = []
    chunks: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        if started and exc_info is None:
            raise RuntimeError("start_response called twice without exc_info")
        started[:] = [(status, list(headers))]  # nothing is sent yet: an error page replaces
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    status, headers = started[0]
    return _Captured(status, headers, b"".join(chunks))


def _send(reply: PaymentReply, start_response: StartResponse) -> list[bytes]:
    headers = [*reply.headers.items(), ("Content-Length", str(len(reply.body)))]
    start_response(reply.status_line, headers)
    return [reply.body]


def charge(
    charger: Charger,
    utia: int | None = None,
    *,
    price: Callable[[WSGIEnvironment], int] | None = None,
    description: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> Callable[[WSGIApplication], WSGIApplication]:
    """A decorator: every call of the wrapped WSGI app pays ``utia`` (or ``price(environ)``)."""
    amount_of = price_function(utia, price)

    def decorate(app: WSGIApplication) -> WSGIApplication:
        def paid(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            target = request_target(environ)
            header = _header_reader(environ)
            length = _content_length(environ)
            request = PaidRequest(
                method=environ.get("REQUEST_METHOD", "GET"),
                target=target,
                url=request_url(environ, target),
                body=_body_reader(environ, length or 0, max_body_bytes),
                header=header,
            )
            cost = amount_of(environ)
            if header(PAYMENT_SIGNATURE) is not None:
                if length is None:
                    message = "Content-Length is not a decimal number"
                    return _send(
                        charger.challenge(request, cost, "malformed", message), start_response
                    )
                if length > max_body_bytes:
                    message = f"the request body is larger than {max_body_bytes} bytes"
                    reply = charger.challenge(request, cost, "body_too_large", message)
                    return _send(reply, start_response)
            charged = charger.charge(
                request,
                cost,
                lambda: _run_app(app, environ),
                _Captured.describe,
                description=description,
            )
            if charged.reply is not None:
                return _send(charged.reply, start_response)
            view = cast(_Captured, charged.result)  # no reply: the view ran
            added = {k.lower() for k in charged.headers}
            headers = [(k, v) for k, v in view.headers if k.lower() not in added]
            start_response(view.status, [*headers, *charged.headers.items()])
            return [view.body]

        return paid

    return decorate


class WSGIAdapter:
    """The built-in charging adapter for plain WSGI apps (no framework, no dependency)."""

    framework = "wsgi"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._charger: Charger | None = None
        self._lock = threading.Lock()

    def charger(self) -> Charger:
        """The charger of the settings' ``[charge]`` section, made on first use."""
        with self._lock:
            if self._charger is None:
                self._charger = Charger.from_settings(self.settings)
            return self._charger

    def charge(
        self,
        utia: int | None = None,
        *,
        price: Callable[[WSGIEnvironment], int] | None = None,
        charger: Charger | None = None,
        **options: Any,
    ) -> Callable[[WSGIApplication], WSGIApplication]:
        """:func:`charge` with this adapter's charger unless ``charger`` is given."""
        return charge(charger or self.charger(), utia, price=price, **options)

    def example_app(self, charger: Charger) -> WSGIApplication:
        return example_app(charger)


# --- the example: a small paid JSON API ----------------------------------------------

QUOTE_PRICE: Final = 1_000
ECHO_PRICE: Final = 500
DIGEST_PRICE: Final = 20_000
WORD_PRICE: Final = 100
FAIL_PRICE: Final = 1_000
MAX_WORDS: Final = 10_000
_QUOTES: Final = (
    "Pay for what you use, and only when it works.",
    "A receipt is a promise with a signature.",
    "Small payments, settled at once, posted for all to check.",
)
_WORDS: Final = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


def _json(start_response: StartResponse, status: str, data: Any) -> list[bytes]:
    body = json.dumps(data, separators=(",", ":")).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _word_count(environ: WSGIEnvironment) -> int | None:
    values = parse_qs(environ.get("QUERY_STRING", "")).get("n", [])
    if len(values) != 1 or not _DIGITS.fullmatch(values[0]):
        return None
    n = int(values[0])
    return n if 1 <= n <= MAX_WORDS else None


def example_app(charger: Charger) -> WSGIApplication:
    """A small paid JSON API showing each kind of charge (``GET /`` lists it, for free).

    ``GET /v1/quote`` is cheap; ``GET`` or ``POST /v1/echo`` answers what it
    was sent (a payment names one method); ``POST /v1/digest`` hashes the body
    and is expensive; ``GET /v1/words?n=N`` costs ``N * WORD_PRICE`` (a bad
    ``n`` answers 400 and costs nothing); ``GET /v1/fail`` answers 500, or
    raises with ``?how=raise``: failed calls cost nothing.
    """

    def index(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return _json(
            start_response,
            "200 OK",
            {
                "provider": charger.pay_to,
                "network": charger.network,
                "endpoints": [
                    {"method": "GET", "path": "/v1/quote", "price_utia": QUOTE_PRICE},
                    {"method": "GET", "path": "/v1/echo", "price_utia": ECHO_PRICE},
                    {"method": "POST", "path": "/v1/echo", "price_utia": ECHO_PRICE},
                    {"method": "POST", "path": "/v1/digest", "price_utia": DIGEST_PRICE},
                    {"method": "GET", "path": "/v1/words?n=N", "price_utia_per_word": WORD_PRICE},
                    {"method": "GET", "path": "/v1/fail", "price_utia": FAIL_PRICE},
                ],
            },
        )

    def quote_view(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return _json(
            start_response,
            "200 OK",
            {
                "quote": _QUOTES[secrets.randbelow(len(_QUOTES))],
                "nonce": secrets.token_hex(8),
                "served_at_ms": now_ms(),
            },
        )

    def echo_view(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        return _json(
            start_response,
            "200 OK",
            {
                "method": environ["REQUEST_METHOD"],
                "query": environ.get("QUERY_STRING", ""),
                "body": body.decode("utf-8", "replace"),
            },
        )

    def digest_view(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        return _json(
            start_response,
            "200 OK",
            {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)},
        )

    def words_price(environ: WSGIEnvironment) -> int:
        return WORD_PRICE * (_word_count(environ) or 1)

    def words_view(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        n = _word_count(environ)
        if n is None:
            return _json(start_response, "400 Bad Request", {"error": f"n must be 1..{MAX_WORDS}"})
        words = [_WORDS[i % len(_WORDS)] for i in range(n)]
        return _json(start_response, "200 OK", {"words": words, "nonce": secrets.token_hex(8)})

    def fail_view(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if parse_qs(environ.get("QUERY_STRING", "")).get("how") == ["raise"]:
            raise RuntimeError("the example's failing endpoint raised, as asked")
        return _json(start_response, "500 Internal Server Error", {"error": "failed, as asked"})

    echo = charge(charger, ECHO_PRICE, description="what it was sent")(echo_view)
    routes: dict[tuple[str, str], WSGIApplication] = {
        ("GET", "/"): index,
        ("GET", "/v1/quote"): charge(charger, QUOTE_PRICE, description="a quote")(quote_view),
        ("GET", "/v1/echo"): echo,
        ("POST", "/v1/echo"): echo,
        ("POST", "/v1/digest"): charge(charger, DIGEST_PRICE, description="SHA-256 of the body")(
            digest_view
        ),
        ("GET", "/v1/words"): charge(charger, price=words_price, description="N words")(words_view),
        ("GET", "/v1/fail"): charge(charger, FAIL_PRICE, description="always fails")(fail_view),
    }
    paths = {path for _, path in routes}

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        route = routes.get((environ.get("REQUEST_METHOD", "GET"), path))
        if route is not None:
            return route(environ, start_response)
        if path in paths:
            return _json(start_response, "405 Method Not Allowed", {"error": "method not allowed"})
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return app

"""The endpoints of :mod:`fontana.testing.charging` as a plain WSGI app on the built-in adapter.

The reference app :class:`~fontana.testing.charging.ChargingAdapterSuite` runs
for the ``wsgi`` adapter (``fontana.payments.wsgi``), and the base of the broken
adapters in :mod:`fontana.testing.broken.charging`: :func:`suite_app` takes the
``charge`` decorator factory to put in front of each view. The adapter buffers
whole answers, so its suite class sets ``buffers_streams``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fontana.config import load_settings
from fontana.payments.wsgi import WSGIAdapter
from fontana.testing.charging import BIG_BYTES, PRICE, STREAM_CHUNKS, pass_gate

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

#: ``charge(utia)`` or ``charge(price=fn_of_environ)``, returning a decorator of WSGI apps:
#: :meth:`fontana.payments.wsgi.WSGIAdapter.charge`, or a broken one.
ChargeFactory = Callable[..., Callable[["WSGIApplication"], "WSGIApplication"]]


def app() -> WSGIApplication:
    """gunicorn's ``fontana.testing.charging_app:app()``: the ``wsgi`` adapter, configured by
    the environment's ``FONTANA_*`` settings."""
    return suite_app(WSGIAdapter(load_settings()).charge)


def _json(start_response: StartResponse, status: str, data: Any) -> list[bytes]:
    body = json.dumps(data).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [body]


def _query(environ: WSGIEnvironment, name: str) -> str:
    return parse_qs(environ.get("QUERY_STRING", ""))[name][0]


def _ran() -> dict[str, Any]:
    return {"run": secrets.token_hex(16), "pid": os.getpid()}


def suite_app(charge: ChargeFactory) -> WSGIApplication:
    """The suite's endpoints, each behind ``charge``; every answer names its process."""

    def paid(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            return _json(start_response, "200 OK", _ran())
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        parsed = json.loads(body) if body else None
        answer = {**_ran(), "sha256": hashlib.sha256(body).hexdigest(), "json": parsed}
        return _json(start_response, "200 OK", answer)

    def priced(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return _json(start_response, "200 OK", _ran())

    def fails_by_raising(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        raise RuntimeError("the view failed")

    def fails_by_status(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return _json(start_response, "500 Internal Server Error", {"error": "down"})

    def stream(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        for _ in range(STREAM_CHUNKS):
            yield b"chunk\n"

    def big(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"x" * BIG_BYTES]

    def gate(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return _json(start_response, "200 OK", pass_gate(_query(environ, "dir")))

    routes: dict[str, WSGIApplication] = {
        "/paid": charge(PRICE)(paid),
        "/priced": charge(price=lambda environ: int(_query(environ, "utia")))(priced),
        "/raise": charge(PRICE)(fails_by_raising),
        "/fail": charge(PRICE)(fails_by_status),
        "/stream": charge(PRICE)(stream),
        "/big": charge(PRICE)(big),
        "/gate": charge(PRICE)(gate),
    }

    def worker_pid(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)

        route = routes.get(environ.get("PATH_INFO", ""))
        if route is None:
            return _json(start, "404 Not Found", {"error": "not found"})
        return route(environ, start)

    return worker_pid

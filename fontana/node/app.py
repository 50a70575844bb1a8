"""The node API as a WSGI application: no framework, strict routing, JSON in and out.

``create_app()`` opens the configured ledger, so any WSGI server runs the same
app: ``fontana serve`` (the standard library's, threaded) or, in production,
``gunicorn 'fontana.node:create_app()'`` (docs/node.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from fontana.errors import EncodingError, FontanaError
from fontana.ledger import Ledger
from fontana.node.errors import NotFoundError, RequestError, http_status
from fontana.node.openapi import SCHEMAS, build_document
from fontana.node.request import MAX_TARGET, parse_query, read_body
from fontana.node.routes import PATH_PARAMS, ROUTES, Route, match
from fontana.node.views import Call, Node, Reply

if TYPE_CHECKING:
    from fontana.config import Settings

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_HEADERS: Final = (
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
)


def openapi(node: Node, call: Call) -> Reply:
    return 200, node.openapi


OPENAPI_ROUTE: Final = Route(
    "GET", "/openapi.json", openapi, "This document (OpenAPI 3.1)", "OpenAPI", tag="meta"
)


class NodeApp:
    """The WSGI callable; safe to call from many threads at once."""

    def __init__(self, ledger: Ledger, *, private: bool = False) -> None:
        self.routes: tuple[Route, ...] = (*ROUTES, OPENAPI_ROUTE)
        self.node = Node(ledger, build_document(self.routes, SCHEMAS), private=private)

    @property
    def ledger(self) -> Ledger:
        return self.node.ledger

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, body, extra = self.respond(environ)
        payload = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        headers = [*_HEADERS, ("Content-Length", str(len(payload))), *extra]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [payload]

    def respond(self, environ: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        """``(status, JSON body, extra headers)``; never raises."""
        try:
            route, call = self.route(environ)
            status, body = route.view(self.node, call)
            return status, body, []
        except FontanaError as exc:
            status = http_status(exc)
            headers = list(exc.headers) if isinstance(exc, RequestError) else []
            if status == 503:
                headers.append(("Retry-After", "1"))
            if status >= 500:
                log.error(
                    "%r %r: %s",
                    environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO"),
                    exc.message,
                )
            return status, {"error": exc.to_dict()}, headers
        except Exception:
            log.exception("%r %r failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            message = "internal error; the node's log has the details"
            return 500, {"error": {"code": "internal", "message": message}}, []

    def route(self, environ: dict[str, Any]) -> tuple[Route, Call]:
        """The route of a request and its parsed path and query values."""
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING") or ""
        if len(path) + len(query) > MAX_TARGET:
            raise RequestError(
                f"the request target is over {MAX_TARGET} characters",
                code="uri_too_long",
                status=414,
            )
        try:  # WSGI hands over the path's bytes as latin-1 text
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise EncodingError(f"the path {path[:100]!r} is not UTF-8") from None
        segments = tuple(path.split("/")[1:]) if path.startswith("/") else ()
        matched = match(self.routes, segments)
        if not matched:
            raise NotFoundError(f"no endpoint at {path[:100]!r} (see /openapi.json)")
        method = environ.get("REQUEST_METHOD", "")
        route = next((r for r in matched if r.method == method), None)
        if route is None:
            allow = ", ".join(r.method for r in matched)
            raise RequestError(
                f"{method[:20]!r} is not allowed on {matched[0].path}; use {allow}",
                code="method_not_allowed",
                status=405,
                headers=(("Allow", allow),),
            )
        if route.body is None and read_body(environ):
            raise EncodingError(f"{route.method} {route.path} takes no body")
        params = {
            name[1:-1]: PATH_PARAMS[name[1:-1]].parse(value)
            for name, value in zip(route.segments, segments, strict=True)
            if name.startswith("{")
        }
        parsed = parse_query(query, {name: p.parse for name, p in route.query.items()})
        return route, Call(params, parsed, environ)


def create_app(settings: Settings | None = None, *, private: bool = False) -> NodeApp:
    """The node API on the configured ledger (``storage.url``, ``proofs.provider``).

    ``private``: only the operator's providers reach this node, so it keeps paid
    responses for their retries and lets them release holds (docs/node.md).
    """
    from fontana.config import load_settings
    from fontana.ledger import open_ledger

    return NodeApp(open_ledger(settings or load_settings()), private=private)

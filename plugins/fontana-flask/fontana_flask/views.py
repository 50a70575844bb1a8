"""``@charge``: the paid-call flow around one Flask view.

The request body is read with ``get_data(cache=True)`` to hash it into the
receipt, so the view still reads it (``request.data``, ``get_json()`` and
``form`` all parse the cached bytes). Flask's own ``MAX_CONTENT_LENGTH`` bounds
it. A view that raises has its hold released by the charger and the exception
goes on to Flask's error handling unchanged (``abort(404)`` stays a 404, a bug a
500); a view that answers 400 or more is released too and its answer is sent as
it is. A streamed answer (``stream_with_context``, ``send_file``) is settled on
its status before its body is sent, and is not cached: a retry of that payment
gets ``409 already_settled`` with the receipt instead of the body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Request, Response, current_app, request

from fontana_flask.extension import Fontana
from fontana_flask.prices import Price, price_function
from fontana_flask.target import request_target

if TYPE_CHECKING:
    from fontana.payments.charger import Charged, PaidRequest, ViewResponse

View = TypeVar("View", bound=Callable[..., Any])


def charge(
    utia: int | None = None, *, price: Price[Request] | None = None
) -> Callable[[View], View]:
    """Take ``utia`` (or ``price(request)`` utia) for each successful call of the view.

    Put it below ``@app.route``, so the route registers the paid view::

        @app.get("/weather")
        @charge(utia=1500)
        def weather(): ...
    """
    amount_of = price_function(utia, price)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def paid_view(*args: Any, **kwargs: Any) -> Response:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            charger = Fontana.charger(app)

            def run_view() -> Response:
                return app.make_response(app.ensure_sync(view)(*args, **kwargs))

            charged = charger.charge(paid_request(request), amount_of(request), run_view, describe)
            return to_response(charged)

        return paid_view  # type: ignore[return-value]

    return decorate


def paid_request(req: Request) -> PaidRequest:
    """What the charger needs of a Flask request; the body stays readable by the view."""
    from fontana.payments.charger import PaidRequest

    return PaidRequest(
        method=req.method,
        target=request_target(req.environ),
        url=req.url,
        body=req.get_data(cache=True),
        header=req.headers.get,
    )


def describe(response: Response) -> ViewResponse:
    """A view's answer as the charger caches it; a streamed one has no body to cache."""
    from fontana.payments.charger import ViewResponse

    body = None if response.is_streamed else response.get_data()
    return ViewResponse(
        status=response.status_code, content_type=response.content_type or "", body=body
    )


def to_response(charged: Charged[Response]) -> Response:
    """The view's answer with the payment headers, or the charger's own reply instead."""
    reply = charged.reply
    if reply is not None:
        return Response(reply.body, status=reply.status, headers=reply.headers)
    response = charged.result
    for name, value in charged.headers.items():
        response.headers[name] = value
    return response

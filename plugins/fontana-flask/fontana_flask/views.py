"""``@charge``: the paid-call flow around one Flask view.

The request body is read (with ``get_data(cache=True)``) only for a payment
that was held, right before the view runs, to hash it into the receipt; Flask
keeps it, so the view still reads ``request.data``, ``get_json()`` and ``form``,
and ``MAX_CONTENT_LENGTH`` bounds it. Flask sets no bound by default: an app whose
price function reads the body reads it for callers who have not paid, so it sets one.
A view that raises has its hold released by the charger and the exception goes
on to Flask's error handling unchanged
(``abort(404)`` stays a 404, a bug a 500); a view that answers 400 or more is
released too and its answer is sent as it is. A streamed answer
(``stream_with_context``, ``send_file``) is settled on its status before its
body is sent, and is not cached: a retry of that payment gets
``409 already_settled`` with the receipt instead of the body.

The resource a payment binds is the WSGI adapter's normal form of the path and
query (:func:`fontana.payments.wsgi.request_target`), so a route answers the
same challenge whichever adapter serves it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Request, Response, current_app, request

from fontana.payments.adapters import respond
from fontana.payments.prices import Price, price_function
from fontana_flask.extension import Fontana

if TYPE_CHECKING:
    from fontana.payments.charger import Charger, PaidRequest, PaymentReply, ViewResponse

View = TypeVar("View", bound=Callable[..., Any])


def charge(
    utia: int | None = None,
    *,
    price: Price[Request] | None = None,
    description: str | None = None,
    charger: Charger | None = None,
) -> Callable[[View], View]:
    """Take ``utia`` (or ``price(request)`` utia) for each successful call of the view.

    ``description`` is shown in the challenge (x402's ``resource.description``);
    ``charger`` takes payment through that charger instead of the app's
    ``Fontana(app)`` one.
    Put it below the route, so the route registers the paid view::

        @app.get("/weather")
        @charge(utia=1500)
        def weather(): ...
    """
    amount_of = price_function(utia, price)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def paid_view(*args: Any, **kwargs: Any) -> Response:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            active = charger if charger is not None else Fontana.charger(app)

            def run_view() -> Response:
                return app.make_response(app.ensure_sync(view)(*args, **kwargs))

            charged = active.charge(
                paid_request(request),
                amount_of(request),
                run_view,
                describe,
                description=description,
            )
            return respond(charged, reply_response)

        return paid_view  # type: ignore[return-value]

    return decorate


def paid_request(req: Request) -> PaidRequest:
    """What the charger needs of a Flask request; the body stays readable by the view."""
    from fontana.payments.charger import PaidRequest
    from fontana.payments.wsgi import request_target

    target = request_target(req.environ)
    return PaidRequest(
        method=req.method,
        target=target,
        url=req.host_url.rstrip("/") + target,
        body=lambda: req.get_data(cache=True),
        header=req.headers.get,
    )


def describe(response: Response) -> ViewResponse:
    """A view's answer as the charger caches it; a streamed one has no body to cache."""
    from fontana.payments.charger import ViewResponse

    body = None if response.is_streamed else response.get_data()
    return ViewResponse(response.status_code, response.content_type or "", body)


def reply_response(reply: PaymentReply) -> Response:
    """The charger's own answer (a challenge, a refusal, a replay) as a Flask response."""
    return Response(reply.body, status=reply.status, headers=dict(reply.headers))

"""``@charge``: the paid-call flow around one Django view.

The request body is read through ``request.body`` only for a payment that was
held, right before the view runs, to hash it into the receipt; Django keeps it,
so the view still reads ``request.body``, ``request.POST`` and uploads, and
``DATA_UPLOAD_MAX_MEMORY_SIZE`` bounds it. A view that raises has
its hold released by the charger and the exception goes on to Django's error
handling unchanged (``Http404`` stays a 404, a bug a 500); a view that answers
400 or more is released too and its answer is sent as it is. A streaming answer
(``StreamingHttpResponse``, ``FileResponse``) is settled on its status before its
body is sent, and is not cached: a retry of that payment gets
``409 already_settled`` with the receipt instead of the body.

Class-based views: ``@method_decorator(charge(utia=1500), name="get")`` on the
class, or on the method.

The resource a payment binds is the WSGI adapter's normal form of the path and
query (:func:`fontana.payments.wsgi.request_target`), under ASGI too, so a
route answers the same challenge whichever adapter or server serves it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse

from fontana.payments.adapters import respond
from fontana.payments.prices import Price, price_function
from fontana_django.runtime import get_charger

if TYPE_CHECKING:
    from fontana.payments.charger import Charger, PaidRequest, PaymentReply, ViewResponse

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def charge(
    utia: int | None = None,
    *,
    price: Price[HttpRequest] | None = None,
    description: str | None = None,
    charger: Charger | None = None,
) -> Callable[[View], View]:
    """Take ``utia`` (or ``price(request)`` utia) for each successful call of the view.

    ``description`` is shown in the challenge (x402's ``resource.description``);
    ``charger`` takes payment through that charger instead of the process's
    one from ``settings.FONTANA``.
    """
    amount_of = price_function(utia, price)

    def decorate(view: View) -> View:
        if iscoroutinefunction(view):
            raise TypeError(
                f"@charge wraps synchronous views; {view.__qualname__} is async "
                "(the charger talks to its database synchronously)"
            )

        @functools.wraps(view)
        def paid_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            def run_view() -> HttpResponseBase:
                return rendered(view(request, *args, **kwargs), view)

            active = charger if charger is not None else get_charger()
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


def rendered(response: object, view: Callable[..., Any]) -> HttpResponseBase:
    """The view's answer, rendered now: its status and body are what is settled and cached."""
    if not isinstance(response, HttpResponseBase):
        raise ValueError(
            f"The view {view.__module__}.{view.__qualname__} didn't return an HttpResponse "
            f"object. It returned {type(response).__name__} instead."
        )
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()
    return response


def paid_request(request: HttpRequest) -> PaidRequest:
    """What the charger needs of a Django request; Django keeps the body for the view."""
    from fontana.payments.charger import PaidRequest

    target = request_target(request)
    return PaidRequest(
        method=request.method or "GET",
        target=target,
        url=request.build_absolute_uri(target),
        body=lambda: request.body,
        header=request.headers.get,
    )


def request_target(request: HttpRequest) -> str:
    """The WSGI adapter's normal form of the path and query, from WSGI or ASGI alike.

    Django replaces the WSGI environ's ``PATH_INFO`` (bytes as latin-1) by the
    decoded text, as ASGI gives it: both are turned back into PEP 3333's form.
    """
    from fontana.payments.wsgi import request_target as wsgi_target

    query = request.META.get("QUERY_STRING", "")
    if not isinstance(request, WSGIRequest):  # ASGI decodes the query too
        query = query.encode("utf-8").decode("latin-1")
    path = request.path.encode("utf-8").decode("latin-1")
    return wsgi_target({"PATH_INFO": path, "QUERY_STRING": query})


def describe(response: HttpResponseBase) -> ViewResponse:
    """A view's answer as the charger caches it; a streaming one has no body to cache."""
    from fontana.payments.charger import ViewResponse

    body = response.content if isinstance(response, HttpResponse) else None
    return ViewResponse(
        status=response.status_code, content_type=response.get("Content-Type", ""), body=body
    )


def reply_response(reply: PaymentReply) -> HttpResponse:
    """The charger's own answer (a challenge, a refusal, a replay) as a Django response."""
    return HttpResponse(reply.body, status=reply.status, headers=dict(reply.headers))

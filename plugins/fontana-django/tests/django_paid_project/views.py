"""The endpoints of :mod:`fontana.testing.charging` as Django views (function and class-based)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from fontana_django import charge

from fontana.testing.charging import BIG_BYTES, PRICE, STREAM_CHUNKS, pass_gate


def worker_pid(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., Any]:
    """Middleware: every answer names the process that gave it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware


def ran() -> dict[str, Any]:
    return {"run": secrets.token_hex(16), "pid": os.getpid()}


@csrf_exempt
@charge(utia=PRICE)
def paid(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse(ran())
    body = request.body
    return JsonResponse(
        {**ran(), "sha256": hashlib.sha256(body).hexdigest(), "json": json.loads(body)}
    )


def price_of(request: HttpRequest) -> int:
    return int(request.GET["utia"])


@method_decorator(charge(price=price_of), name="get")
class Priced(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(ran())


@charge(utia=PRICE)
def fails_by_raising(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


@charge(utia=PRICE)
def fails_by_status(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"error": "down"}, status=500)


@charge(utia=PRICE)
def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for _ in range(STREAM_CHUNKS):
            yield b"chunk\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


@charge(utia=PRICE)
def big(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"x" * BIG_BYTES, content_type="application/octet-stream")


@charge(utia=PRICE)
def gate(request: HttpRequest) -> HttpResponse:
    return JsonResponse(pass_gate(request.GET["dir"]))

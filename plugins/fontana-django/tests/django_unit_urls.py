"""Views of the in-process Django tests: what Django itself does around a paid view."""

from __future__ import annotations

import hashlib

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from fontana_django import charge

from fontana.testing.charging import PRICE


@csrf_exempt
@charge(utia=PRICE, description="a paid echo")
def paid(request: HttpRequest) -> HttpResponse:
    body = request.body
    form = {k: v for k, v in request.POST.items()}
    files = {k: f.read().decode() for k, f in request.FILES.items()}
    return JsonResponse({"sha256": hashlib.sha256(body).hexdigest(), "form": form, "files": files})


@charge(utia=PRICE)
def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("no such thing")


@charge(utia=PRICE)
def templated(request: HttpRequest) -> TemplateResponse:
    template = engines["django"].from_string("hello {{ name }}")
    return TemplateResponse(request, template, {"name": request.GET.get("name", "")})


@charge(utia=PRICE)
def no_response(request: HttpRequest) -> HttpResponse:
    return None  # type: ignore[return-value]


urlpatterns = [
    path("paid", paid),
    path("missing", missing),
    path("templated", templated),
    path("none", no_response),
]

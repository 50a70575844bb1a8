"""A function view and a class-based view, each paid with ``@charge``."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from fontana_django import charge

SKIES = ("sunny", "cloudy", "rain", "fog", "wind", "snow")


def index(request: HttpRequest) -> HttpResponse:
    """Free: what the API sells, and for how much."""
    return JsonResponse(
        {"GET /weather?city=NAME": "1500 utia", "POST /summary": "100 utia + 1/byte"}
    )


@charge(utia=1500, description="today's weather in one city")
def weather(request: HttpRequest) -> HttpResponse:
    city = request.GET.get("city", "")
    if not city:
        # 400 or more: the payment is released, the caller keeps the money.
        return JsonResponse({"error": "missing_city", "message": "add ?city=NAME"}, status=400)
    seed = hashlib.sha256(city.lower().encode()).digest()
    return JsonResponse(
        {"city": city, "sky": SKIES[seed[0] % len(SKIES)], "temperature_c": seed[1] % 35}
    )


def summary_price(request: HttpRequest) -> int:
    """Longer texts cost more: 100 utia plus 1 per byte."""
    return 100 + len(request.body)


# API clients pay for their calls; they carry no CSRF token.
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(charge(price=summary_price, description="counts the words"), name="post")
class Summary(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        text = request.body.decode("utf-8", "replace")
        return JsonResponse({"bytes": len(request.body), "words": len(text.split())})

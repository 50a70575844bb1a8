"""``@charge`` in Django, in process, on a real SQLite ledger and the real charger.

What a real server cannot show as directly: Django's own error handling after
a failed view, bodies still readable in every form, template responses
rendered before they are settled, one charger per process across a fork, and
one resource form under WSGI and ASGI.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client, override_settings
from fontana_django import runtime
from fontana_django.decorators import request_target

from fontana.address import encode_address
from fontana.payments.wsgi import request_target as wsgi_target
from fontana.testing.charging import (
    ALLOCATION,
    BODY_FORMS,
    FEE,
    PRICE,
    PROVIDER_KEY,
    UTXOS_PER_CONSUMER,
    Answer,
    Chain,
    PaidCall,
    challenge_then_pay,
    check_receipt,
    isolate,
    make_chain,
    not_charged,
    rejection,
)

FUNDS = ALLOCATION * UTXOS_PER_CONSUMER


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chain]:
    """A chain on a SQLite file, named by ``settings.FONTANA``; no developer config leaks in."""
    isolate(monkeypatch, tmp_path)
    made = make_chain(f"sqlite:///{tmp_path}/ledger.db", tmp_path / "home")
    config = {"HOME": str(made.home), "STORAGE_URL": made.url, "CHARGE_KEY_NAME": PROVIDER_KEY}
    with override_settings(FONTANA=config):  # leaving it closes the charger built meanwhile
        yield made
    made.ledger.storage.close()


def respond(response: Any) -> Answer:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return Answer(response.status_code, {k.lower(): v for k, v in response.items()}, content)


def paid_call(chain: Chain, method: str, target: str, **kwargs: Any) -> PaidCall:
    """The challenge, then the call paid by a fresh consumer."""
    client = Client(raise_request_exception=False)

    def send(headers: Mapping[str, str]) -> Answer:
        return respond(client.generic(method, target, headers=dict(headers), **kwargs))

    return challenge_then_pay(chain, send)


def test_settings_build_the_charger_and_a_paid_call_settles(chain: Chain) -> None:
    call = paid_call(chain, "GET", "/paid?q=1")
    body = rejection(call.challenge, 402, "payment_required")
    assert body["accepts"][0]["payTo"] == encode_address(chain.provider)
    assert body["resource"]["url"] == "http://testserver/paid?q=1"
    assert body["resource"]["description"] == "a paid echo"
    assert call.answer.status == 200, call.answer.body
    check_receipt(chain, call.answer, call.consumer, call.tx, "GET", "/paid?q=1")
    assert chain.balance(call.consumer.public_key) == FUNDS - PRICE - FEE
    retry = respond(Client().get("/paid?q=1", headers={"PAYMENT-SIGNATURE": call.header}))
    assert (retry.status, retry.body) == (200, call.answer.body)
    assert retry.headers["content-type"] == "application/json"


@pytest.mark.parametrize(("content_type", "body", "form", "files"), BODY_FORMS)
def test_the_view_still_reads_the_body_it_was_charged_for(
    chain: Chain, content_type: str, body: bytes, form: dict[str, str], files: dict[str, str]
) -> None:
    call = paid_call(chain, "POST", "/paid", data=body, content_type=content_type)
    assert call.answer.status == 200, call.answer.body
    digest = hashlib.sha256(body).hexdigest()
    assert call.answer.json() == {"sha256": digest, "form": form, "files": files}
    check_receipt(chain, call.answer, call.consumer, call.tx, "POST", "/paid", body)


def test_http404_in_a_paid_view_is_djangos_404_and_not_charged(chain: Chain) -> None:
    call = paid_call(chain, "GET", "/missing")
    assert call.answer.status == 404
    assert "payment-response" not in call.answer.headers  # the view raised: no answer of its own
    not_charged(chain, call)


def test_a_view_without_a_response_fails_like_django_says_and_is_not_charged(
    chain: Chain,
) -> None:
    consumer = chain.consumer()
    tx, header = chain.payment(consumer, respond(Client().get("/none")))
    with pytest.raises(ValueError, match="didn't return an HttpResponse object"):
        Client().get("/none", headers={"PAYMENT-SIGNATURE": header})
    assert not chain.applied(tx.txid)
    assert chain.balance(consumer.public_key) == FUNDS


def test_a_template_response_is_rendered_settled_and_replayed(chain: Chain) -> None:
    call = paid_call(chain, "GET", "/templated?name=ada")
    assert (call.answer.status, call.answer.body) == (200, b"hello ada")
    check_receipt(chain, call.answer, call.consumer, call.tx, "GET", "/templated?name=ada")
    retry = respond(Client().get("/templated?name=ada", headers={"PAYMENT-SIGNATURE": call.header}))
    assert (retry.status, retry.body) == (200, b"hello ada")


def test_each_process_builds_its_own_charger(chain: Chain) -> None:
    parent = runtime.get_charger()
    assert runtime.get_charger() is parent
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            child = runtime.get_charger()
            code = 0 if child is not parent and runtime.get_charger() is child else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert runtime.get_charger() is parent


@pytest.mark.parametrize(
    ("path", "query", "target"),
    [
        ("/caf\u00e9", "q=%C3%A9", "/caf%C3%A9?q=%C3%A9"),
        ("/caf\u00e9", "q=\u00e9", "/caf%C3%A9?q=%C3%A9"),
        ("/a b/c", "", "/a%20b/c"),
        ("/paid", "x=1&y=2", "/paid?x=1&y=2"),
    ],
)
def test_wsgi_and_asgi_requests_bind_one_resource(path: str, query: str, target: str) -> None:
    """Requests as the servers' specs build them (Django's test factories do not, for
    non-ASCII paths): PEP 3333 hands the path's bytes as latin-1, ASGI the decoded text."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": query.encode().decode("latin-1"),
        "wsgi.input": io.BytesIO(),
    }
    assert wsgi_target(environ) == target  # what the wsgi adapter binds for the same request
    wsgi = WSGIRequest(environ)
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
    asgi = ASGIRequest({**scope, "headers": [], "root_path": ""}, io.BytesIO())
    assert request_target(wsgi) == request_target(asgi) == target


def test_a_request_no_payment_can_name_is_400_malformed(chain: Chain) -> None:
    """A target past the binding's 2048 bytes cannot be paid for: a typed 400, no crash."""
    answer = respond(Client().get("/paid?x=" + "a" * 3000))
    body = rejection(answer, 400, "malformed")
    assert body["accepts"] == []


def test_a_host_django_refuses_is_djangos_400_before_any_payment(chain: Chain) -> None:
    consumer = chain.consumer()
    tx, header = chain.payment(consumer, respond(Client().get("/paid")))
    client = Client(raise_request_exception=False)
    answer = client.get("/paid", headers={"PAYMENT-SIGNATURE": header}, HTTP_HOST="evil.example")
    assert answer.status_code == 400
    assert not chain.applied(tx.txid)
    # Nothing was held: the payment still works from an allowed host.
    assert Client().get("/paid", headers={"PAYMENT-SIGNATURE": header}).status_code == 200

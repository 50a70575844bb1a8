"""Shared builders of the payment tests: payments a client would make, providers as processes.

The providers are real: the example WSGI app (``fontana.payments.wsgi``) on a
thread-per-request wsgiref server in a subprocess (``payments_server.py``),
on a real SQLite file or PostgreSQL database, called over HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from ledger_helpers import CHAIN_ID, create_ledger, key, make_genesis, pub
from nacl.signing import SigningKey

from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.ledger import Ledger
from fontana.models import Genesis, OutPoint, Transaction, TxKind, TxOutput
from fontana.models.payment import PaymentBinding
from fontana.payments.x402 import (
    PAYMENT_SIGNATURE,
    PaymentPayload,
    PaymentRequirement,
    decode_payment_required,
    encode_header,
)
from fontana.testing.processes import ServerProcess

SERVER = Path(__file__).resolve().parent / "payments_server.py"
#: Consumers funded by :func:`payments_genesis`, one allocation each (output index = position).
CONSUMERS = tuple(key(20 + n) for n in range(40))
FUNDS = 1_000_000


def payments_genesis(chain_id: str = CHAIN_ID) -> Genesis:
    """A genesis on the wall clock funding every consumer with one UTXO."""
    return make_genesis(
        [(pub(k), FUNDS) for k in CONSUMERS], chain_id=chain_id, genesis_time_ms=now_ms()
    )


def consumer_utxo(n: int, genesis: Genesis) -> OutPoint:
    return OutPoint(genesis.hash, n)


def payment(
    requirement: PaymentRequirement,
    inputs: Sequence[tuple[OutPoint, int]],
    signer: SigningKey,
    *,
    expiry_ms: int | None = None,
    fee: int | None = None,
    binding: PaymentBinding | None = None,
    outputs: Sequence[tuple[bytes, int]] | None = None,
    kind: TxKind = TxKind.PAYMENT,
    genesis_hash: bytes | None = None,
    chain_id: str | None = None,
) -> Transaction:
    """The transaction a client builds for ``requirement``, change back to ``signer``.

    Every keyword breaks one thing on purpose (a test of a rejection).
    """
    pay_to = _decode(requirement.pay_to)
    fee = requirement.min_fee if fee is None else fee
    if binding is None:
        binding = PaymentBinding(
            pay_to=pay_to,
            amount=requirement.amount,
            method=requirement.method,
            resource=requirement.resource,
        )
    if outputs is None:
        change = sum(amount for _, amount in inputs) - requirement.amount - fee
        outputs = [(pay_to, requirement.amount)] + ([(pub(signer), change)] if change else [])
    tx = Transaction(
        kind=kind,
        chain_id=chain_id or requirement.network.removeprefix("fontana:"),
        inputs=tuple(op for op, _ in inputs),
        outputs=tuple(TxOutput(owner, amount) for owner, amount in outputs),
        fee=fee,
        expiry_ms=now_ms() + 50_000 if expiry_ms is None else expiry_ms,
        payload_hash=binding.payload_hash,
    )
    return tx.sign(signer, genesis_hash or requirement.genesis_hash)


def _decode(address: str) -> bytes:
    from fontana.address import decode_address

    return decode_address(address)


def payment_header(requirement: PaymentRequirement, tx: Transaction, **accepted: Any) -> str:
    """``PAYMENT-SIGNATURE`` for ``tx``, the accepted entry changed by ``accepted``."""
    return encode_header(PaymentPayload(attrs.evolve(requirement, **accepted), tx))


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str,
    target: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    """One HTTP request on a fresh connection (wsgiref speaks HTTP/1.0)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(method, target, body=body or None, headers=dict(headers or {}))
        answer = conn.getresponse()
        return Response(answer.status, dict(answer.getheaders()), answer.read())
    finally:
        conn.close()


def requirement_of(response: Response) -> PaymentRequirement:
    """The fontana ``accepts`` entry of a 402 (from its header)."""
    header = response.header("PAYMENT-REQUIRED")
    assert header is not None, response
    (accept,) = decode_payment_required(header).accepts
    return accept


def pay(
    base_url: str,
    target: str,
    inputs: Sequence[tuple[OutPoint, int]],
    signer: SigningKey,
    *,
    method: str = "GET",
    body: bytes = b"",
) -> tuple[Response, str]:
    """Ask, pay with ``inputs``, and return the paid answer and the payment header."""
    challenge = call(base_url, target, method=method, body=body)
    assert challenge.status == 402, challenge
    requirement = requirement_of(challenge)
    header = payment_header(requirement, payment(requirement, inputs, signer))
    return call(
        base_url, target, method=method, body=body, headers={PAYMENT_SIGNATURE: header}
    ), header


@attrs.define
class Provider:
    """A provider process serving the example app; ``url`` is ``http://127.0.0.1:<port>``."""

    server: ServerProcess
    url: str

    @property
    def process(self) -> subprocess.Popen[str]:
        return self.server.process

    def stop(self) -> str:
        """Stop it and return what it wrote to stderr."""
        return self.server.stop(sig=signal.SIGTERM)[1]


def provider_env(home: Path, storage_url: str, **charge: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {"FONTANA_HOME": str(home), "FONTANA_STORAGE_URL": storage_url}
    env |= {f"FONTANA_CHARGE_{k.upper()}": v for k, v in charge.items()}
    return env


@contextmanager
def provider(env: Mapping[str, str]) -> Iterator[Provider]:
    """A provider process; its stderr must hold no traceback when it stops."""
    server = ServerProcess([sys.executable, str(SERVER)], env)
    line = server.first_line
    if not line.startswith("listening on "):
        raise AssertionError(f"the provider did not start: {line!r} {server.stop()[1]}")
    running = Provider(server, f"http://127.0.0.1:{int(line.split()[-1])}")
    try:
        yield running
    finally:
        err = running.stop()
    assert err.count("Traceback") == err.count(RAISED), err


#: What the example's ``/v1/fail?how=raise`` raises: the one traceback a provider may log.
RAISED = "RuntimeError: the example's failing endpoint raised, as asked"


def init_chain(storage_url: str, home: Path, genesis: Genesis) -> Ledger:
    """The ledger at block 0 of ``genesis``, and the provider's key ``default`` in ``home``."""
    from fontana.wallet import create_key

    ledger = create_ledger(storage_url, home, genesis, now_ms)
    create_key(home)
    return ledger


def provider_address(home: Path, name: str = "default") -> str:
    from fontana.wallet import key_info

    return encode_address(key_info(home, name).public_key)

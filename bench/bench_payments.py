"""Paid-call overhead: one endpoint with and without charging, on one real HTTP server.

Run by hand: ``python bench/bench_payments.py [--calls N] [--clients N] [--flask]
[--profile] [--postgres]``. Each backend (SQLite, and with ``--postgres`` a
throwaway local PostgreSQL cluster started with fsync on) gets a fresh ledger
whose genesis funds one consumer with one UTXO per paid call; every payment
is built and signed up front, as the SDK does (one UTXO each, change back),
so only the provider's side is measured. Every figure is measured in the same
run and printed next to its baseline:

* **commit floor**: p50/p99 of the smallest durable write on the ledger's own
  database and settings (``BEGIN``, one upsert, ``COMMIT``, through a raw
  connection of the storage's pool), and of the same write through
  ``storage.write()``. A paid call commits twice (hold, settle): twice the
  floor is what the database alone costs.
* **in-process**: ``Charger.charge`` of a paid call against the view alone
  (no HTTP), and the payment path in stages (x402 decoding, hold, receipt
  signing, settle, the ``PAYMENT-RESPONSE`` header). ``--profile`` also runs
  the paid path under cProfile and prints the top functions.
* **HTTP overhead**: ``GET /paid`` (the built-in ``wsgi`` adapter's
  ``charge(charger, utia=...)`` around a tiny WSGI app) and ``GET /free`` (the
  same app, unwrapped) on one ``fontana.node.server`` threaded server, called
  in interleaved pairs from one client process over one keep-alive
  connection; the overhead is each pair's paid minus free latency (p50, p99),
  against the 0.39 ms p99 target of issue 8. ``--flask`` adds the same pair
  through the Flask adapter.
* **throughput**: paid and free calls/s with 1 client process and with
  ``--clients`` processes (one keep-alive connection each).

The stdlib server answers one request per connection; the bench's handler
keeps connections open (HTTP/1.1, one buffered write per response) so TCP
set-up is not measured. Latencies are wall-clock on a shared, noisy machine:
compare the figures of one run with each other, not across machines.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import math
import multiprocessing
import pstats
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from wsgiref.simple_server import ServerHandler

from nacl.signing import SigningKey

from fontana.address import decode_address
from fontana.clock import now_ms
from fontana.config import load_settings
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import UTXO, Allocation, Genesis, Receipt, SignedReceipt
from fontana.models.payment import PaymentBinding, request_hash
from fontana.node.server import _Handler, make_server
from fontana.payments.backends import LedgerBackend
from fontana.payments.charger import Charger, PaidRequest, ViewResponse
from fontana.payments.wsgi import charge
from fontana.payments.x402 import (
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PAYMENT_SIGNATURE,
    PaymentPayload,
    PaymentRequirement,
    decode_payment_payload,
    decode_payment_required,
    encode_header,
    settle_response,
)
from fontana.sdk.transactions import build_payment
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.storage.base import Storage

CHAIN = "fontana-bench"
PROVIDER = SigningKey(b"\x11" * 32)
CONSUMER = SigningKey(b"\x22" * 32)
SEQUENCER = SigningKey(b"\xee" * 32)
PRICE = 1_000
FUNDS = 10_000
#: Payments are signed up front, well before they are spent: a long window.
MAX_TIMEOUT_S = 900
TARGET_P99_MS = 0.39
BODY = b'{"ok":true}'
JSON = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]

Job = tuple[str, str | None]  # path, PAYMENT-SIGNATURE (None: free)


# --- statistics -----------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(ns: float) -> str:
    return f"{ns / 1e6:7.3f}"


def row(label: str, values: Sequence[float], extra: str = "") -> str:
    return f"  {label:38} p50 {ms(pct(values, 0.5))} ms  p99 {ms(pct(values, 0.99))} ms{extra}"


# --- the deployment ------------------------------------------------------------------


@contextmanager
def deployment(url: str | None, allocations: int) -> Iterator[Ledger]:
    """A fresh ledger (default settings) whose genesis gives the consumer ``allocations`` UTXOs."""
    with tempfile.TemporaryDirectory(prefix="fontana-bench-") as tmp:
        settings = load_settings(environ={"FONTANA_HOME": tmp}, cwd=Path(tmp), plugin_sections={})
        storage = open_storage(settings, url)
        genesis = Genesis(
            chain_id=CHAIN,
            genesis_time_ms=now_ms(),
            sequencer=bytes(SEQUENCER.verify_key),
            da_namespace=b"fontanabch",
            block_time_ms=6_000,
            min_fee=1,
            l1_confirmations=1,
            allocations=(Allocation(bytes(CONSUMER.verify_key), FUNDS),) * allocations,
        )
        initialize(storage, PythonSMTProvider(), genesis)
        try:
            yield Ledger.load(storage, PythonSMTProvider())
        finally:
            storage.close()


class Wallet:
    """The consumer's genesis UTXOs, one per payment, signed as the SDK signs them."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.used = 0

    def pay(self, req: PaymentRequirement, count: int) -> list[str]:
        """``count`` ``PAYMENT-SIGNATURE`` headers for ``req``, each on its own UTXO."""
        binding = PaymentBinding(decode_address(req.pay_to), req.amount, req.method, req.resource)
        expiry = now_ms() + req.max_timeout_s * 1000
        owner = bytes(CONSUMER.verify_key)
        headers = []
        for n in range(self.used, self.used + count):
            utxo = UTXO(owner, FUNDS, self.genesis.hash, n)
            tx = build_payment(
                binding, [utxo], req.min_fee, expiry, CHAIN, CONSUMER, self.genesis.hash
            )
            headers.append(encode_header(PaymentPayload(req, tx)))
        self.used += count
        return headers


def commit_floor(storage: Storage, count: int) -> tuple[list[int], list[int]]:
    """Latencies of the smallest durable write: raw on a pooled connection, and via a session."""
    engine = storage.engine  # type: ignore[attr-defined]
    sqlite = engine.dialect.name == "sqlite"
    upsert = storage.raw_sql(  # type: ignore[attr-defined]
        "INSERT INTO fontana_meta (key, value) VALUES ('bench.floor', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    raw = []
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        for n in range(count):
            start = time.perf_counter_ns()
            if sqlite:  # the storage runs SQLite in autocommit mode and begins itself
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(upsert, (str(n),))
                cur.execute("COMMIT")
            else:
                cur.execute(upsert, (str(n),))
                conn.commit()
            raw.append(time.perf_counter_ns() - start)
        cur.close()
    finally:
        conn.close()
    session = []
    for n in range(count):
        start = time.perf_counter_ns()
        with storage.write() as s:
            s.set_meta("bench.floor", str(n))
        session.append(time.perf_counter_ns() - start)
    return raw, session


# --- in-process -----------------------------------------------------------------------


def paid_request(target: str, header: str | None) -> PaidRequest:
    return PaidRequest(
        method="GET",
        target=target,
        url=f"http://bench.local{target}",
        body=b"",
        header=lambda name: header if name == PAYMENT_SIGNATURE else None,
    )


def view() -> ViewResponse:
    return ViewResponse(200, "application/json", BODY)


def in_process(charger: Charger, wallet: Wallet, count: int) -> tuple[list[int], list[int]]:
    """Interleaved ``Charger.charge`` of paid calls and calls of the bare view."""
    req = charger.requirement(paid_request("/inproc", None), PRICE)
    headers = wallet.pay(req, count)
    paid, free = [], []
    for header in headers:
        start = time.perf_counter_ns()
        charged = charger.charge(paid_request("/inproc", header), PRICE, view, lambda r: r)
        paid.append(time.perf_counter_ns() - start)
        if charged.reply is not None:
            raise SystemExit(f"in-process paid call refused: {charged.reply.body!r}")
        start = time.perf_counter_ns()
        view()
        free.append(time.perf_counter_ns() - start)
    return paid, free


def stages(charger: Charger, wallet: Wallet, count: int) -> dict[str, list[int]]:
    """The paid path's steps, each timed alone: what ``Charger.charge`` spends its time on."""
    backend = charger.backend
    req = charger.requirement(paid_request("/stages", None), PRICE)
    took: dict[str, list[int]] = {k: [] for k in ("decode", "hold", "receipt", "settle", "header")}
    for header in wallet.pay(req, count):
        t0 = time.perf_counter_ns()
        tx = decode_payment_payload(header).transaction
        t1 = time.perf_counter_ns()
        backend.hold(tx, tx.expiry_ms)
        t2 = time.perf_counter_ns()
        receipt = Receipt(
            version=1,
            chain_id=CHAIN,
            txid=tx.txid,
            payer=tx.witnesses[0].pubkey,
            payee=charger.payee,
            amount=PRICE,
            method="GET",
            resource="/stages",
            request_hash=request_hash("GET", "/stages", b""),
            issued_at_ms=now_ms(),
            expected_height=1,
        )
        signed = SignedReceipt.sign(receipt, charger.key, charger.genesis_hash)
        t3 = time.perf_counter_ns()
        backend.settle(tx, signed.to_bytes(), None)
        t4 = time.perf_counter_ns()
        encode_header(
            settle_response(
                txid=tx.txid,
                network=charger.network,
                payer=charger.pay_to,
                amount=PRICE,
                receipt=signed,
            )
        )
        t5 = time.perf_counter_ns()
        marks = (t0, t1, t2, t3, t4, t5)
        for n, name in enumerate(took):
            took[name].append(marks[n + 1] - marks[n])
    return took


def profile(charger: Charger, wallet: Wallet, count: int) -> str:
    req = charger.requirement(paid_request("/profiled", None), PRICE)
    requests = [paid_request("/profiled", h) for h in wallet.pay(req, count)]
    profiler = cProfile.Profile()
    profiler.enable()
    for request in requests:
        charger.charge(request, PRICE, view, lambda r: r)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    return out.getvalue()


# --- the HTTP server ------------------------------------------------------------------


class _KeepAliveServerHandler(ServerHandler):
    http_version = "1.1"


class KeepAliveHandler(_Handler):
    """The node server's handler, but serving many requests per connection (HTTP/1.1).

    Writes are buffered and flushed once per response (the stdlib writes the
    status line, each header block and the body separately).
    """

    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        while True:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or len(self.raw_requestline) > 65536:
                return
            if not self.parse_request():
                return
            handler = _KeepAliveServerHandler(
                self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
            )
            handler.request_handler = self  # type: ignore[attr-defined]
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
            self.wfile.flush()
            if self.close_connection:
                return


def tiny_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", list(JSON))
    return [BODY]


def flask_app(charger: Charger) -> Any:
    from flask import Flask
    from fontana_flask import charge as flask_charge

    app = Flask("bench")

    @app.get("/flask/free")
    def free() -> Any:
        return BODY, 200, {"Content-Type": "application/json"}

    @app.get("/flask/paid")
    @flask_charge(utia=PRICE, charger=charger)
    def paid() -> Any:
        return BODY, 200, {"Content-Type": "application/json"}

    return app


def router(charger: Charger, with_flask: bool) -> Callable[..., Iterable[bytes]]:
    paid = charge(charger, utia=PRICE)(tiny_app)
    flask = flask_app(charger) if with_flask else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/paid":
            return paid(environ, start_response)
        if flask is not None and path.startswith("/flask/"):
            return flask(environ, start_response)  # type: ignore[no-any-return]
        return tiny_app(environ, start_response)

    return app


@contextmanager
def serving(app: Callable[..., Iterable[bytes]]) -> Iterator[tuple[str, int]]:
    server = make_server(app, port=0)
    server.RequestHandlerClass = KeepAliveHandler
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[0], server.server_port
    finally:
        server.shutdown()
        server.server_close()


def challenge(address: tuple[str, int], path: str) -> PaymentRequirement:
    """The ``accepts`` entry of a real 402, as a client reads it."""
    conn = http.client.HTTPConnection(*address)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 402:
        raise SystemExit(f"GET {path} without payment answered {response.status}, not 402")
    return decode_payment_required(response.getheader(PAYMENT_REQUIRED)).accepts[0]


# --- clients (separate processes: the server's GIL is not theirs) ---------------------


def _client(address: tuple[str, int], pipe: Connection, barrier: Any) -> None:
    conn = http.client.HTTPConnection(*address)
    clock = time.perf_counter_ns  # CLOCK_MONOTONIC: comparable between processes
    while (jobs := pipe.recv()) is not None:
        conn.request("GET", "/free")  # opens the connection before the clock starts
        conn.getresponse().read()
        barrier.wait()
        latencies, failures = [], []
        begin = clock()
        for path, header in jobs:
            start = clock()
            conn.request("GET", path, headers={PAYMENT_SIGNATURE: header} if header else {})
            response = conn.getresponse()
            body = response.read()
            latencies.append(clock() - start)
            if response.status != 200 or (header and not response.getheader(PAYMENT_RESPONSE)):
                failures.append(f"{path}: {response.status} {body[:200]!r}")
        pipe.send((begin, clock(), latencies, failures))
    conn.close()


class Clients:
    """``count`` client processes, each with one keep-alive connection, started together."""

    def __init__(self, address: tuple[str, int], count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier = barrier = ctx.Barrier(count)  # kept: the children unpickle it later
        self.pipes: list[Connection] = []
        self.procs = []
        for _ in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_client, args=(address, theirs, barrier), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def run(self, jobs: Sequence[Job]) -> tuple[float, list[int]]:
        """Spread ``jobs`` over the clients; calls/s over the whole run, and every latency."""
        share = len(self.pipes)
        for n, pipe in enumerate(self.pipes):
            pipe.send(list(jobs[n::share]))
        results = [pipe.recv() for pipe in self.pipes]
        failures = [f for *_, fs in results for f in fs]
        if failures:
            raise SystemExit(f"{len(failures)} calls failed, e.g. {failures[0]}")
        elapsed = max(r[1] for r in results) - min(r[0] for r in results)
        return len(jobs) / (elapsed / 1e9), [lat for r in results for lat in r[2]]

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(10)


def overhead(
    clients: Clients, paid_path: str, free_path: str, headers: list[str]
) -> tuple[list[int], list[int], list[int]]:
    """Interleaved pairs of paid and free calls (alternating which goes first)."""
    jobs: list[Job] = []
    for n, header in enumerate(headers):
        pair: list[Job] = [(paid_path, header), (free_path, None)]
        jobs.extend(pair if n % 2 == 0 else pair[::-1])
    _, latencies = clients.run(jobs)
    paid, free = [], []
    for n in range(len(headers)):
        first, second = latencies[2 * n], latencies[2 * n + 1]
        p, f = (first, second) if n % 2 == 0 else (second, first)
        paid.append(p)
        free.append(f)
    return paid, free, [p - f for p, f in zip(paid, free, strict=True)]


# --- one backend ----------------------------------------------------------------------


def bench(label: str, url: str | None, args: argparse.Namespace) -> None:
    n, k = args.calls, args.clients
    phases = 5 + (1 if args.flask else 0) + (1 if args.profile else 0)
    print(f"\n== {label}: {n} calls per figure, {k} concurrent clients ==")
    with deployment(url, n * phases) as ledger:
        raw, session = commit_floor(ledger.storage, n)
        floor = pct(raw, 0.99)
        print("commit floor (BEGIN, one upsert, COMMIT):")
        print(row("raw connection", raw))
        print(row("storage.write() session", session))

        charger = Charger(LedgerBackend(ledger), PROVIDER, max_timeout_s=MAX_TIMEOUT_S)
        wallet = Wallet(ledger.genesis)
        paid, free = in_process(charger, wallet, n)
        cost = [p - f for p, f in zip(paid, free, strict=True)]
        print("in-process, no HTTP (Charger.charge vs the view alone):")
        print(row("view alone", free))
        print(row("paid (charge)", paid))
        print(row("payment path", cost, f"  = {pct(cost, 0.99) / floor:.1f}x floor p99"))
        print("payment path in stages:")
        for name, took in stages(charger, wallet, n).items():
            print(row(name, took))
        if args.profile:
            print(profile(charger, wallet, n))

        with serving(router(charger, args.flask)) as address:
            one = Clients(address, 1)
            many = Clients(address, k)
            try:
                wsgi_req = challenge(address, "/paid")
                p, f, diff = overhead(one, "/paid", "/free", wallet.pay(wsgi_req, n))
                print("HTTP, 1 client, keep-alive, interleaved pairs (wsgi adapter):")
                print(row("free GET /free", f))
                print(row("paid GET /paid", p))
                p99 = pct(diff, 0.99)
                print(
                    row(
                        "overhead (paid - free, per pair)",
                        diff,
                        f"  target p99 {TARGET_P99_MS} ms: {p99 / 1e6 / TARGET_P99_MS:.1f}x; "
                        f"{p99 / floor:.1f}x floor p99",
                    )
                )
                if args.flask:
                    flask_req = challenge(address, "/flask/paid")
                    headers = wallet.pay(flask_req, n)
                    p, f, diff = overhead(one, "/flask/paid", "/flask/free", headers)
                    print("HTTP, 1 client, Flask adapter:")
                    print(row("free GET /flask/free", f))
                    print(row("paid GET /flask/paid", p))
                    print(row("overhead (paid - free, per pair)", diff))
                print("throughput (calls/s):")
                for clients, count in ((one, 1), (many, k)):
                    free_rate, _ = clients.run([("/free", None)] * n)
                    paid_rate, _ = clients.run([("/paid", h) for h in wallet.pay(wsgi_req, n)])
                    print(
                        f"  {count:2} client(s): free {free_rate:7,.0f}/s, paid {paid_rate:7,.0f}/s"
                        f" = {paid_rate / free_rate:.0%} of free"
                    )
            finally:
                one.close()
                many.close()
        charger.close()
        earned = ledger.balance(bytes(PROVIDER.verify_key))
        calls = wallet.used
        if earned != PRICE * calls:
            raise SystemExit(f"the provider earned {earned} utia for {calls} paid calls")
        print(f"checked: the provider earned {earned:,} utia for {calls:,} settled calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2_000, help="calls per figure")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client processes")
    parser.add_argument("--flask", action="store_true", help="also through the Flask adapter")
    parser.add_argument("--profile", action="store_true", help="cProfile the paid path once")
    parser.add_argument(
        "--postgres", action="store_true", help="also on a throwaway local PostgreSQL (fsync on)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    args = parser.parse_args()
    if not args.no_sqlite:
        bench("sqlite (WAL, synchronous=full)", None, args)
    if args.postgres:
        from fontana.testing.pgcluster import PgCluster

        with PgCluster(fsync=True) as cluster:
            bench("postgresql (fsync on)", cluster.create_database("bench"), args)


if __name__ == "__main__":
    main()

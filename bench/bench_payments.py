"""Paid-call overhead: one endpoint with and without charging, on one real HTTP server.

Run by hand: ``python bench/bench_payments.py [--calls N] [--clients N] [--flask]
[--profile] [--postgres]``. Each backend (SQLite, and with ``--postgres`` a
throwaway local PostgreSQL cluster started with fsync on) gets a fresh ledger
whose genesis funds one consumer with one UTXO per paid call; every payment
is built and signed up front, as the SDK does (one UTXO each, change back),
so only the provider's side is measured. Every figure is measured in the same
run and printed next to its baseline:

* **commit floor**: the smallest durable write on the ledger's own database
  and settings: ``BEGIN``, one upsert, ``COMMIT`` on a raw connection of the
  storage's pool, and the same upsert through ``storage.write()``. It is
  measured interleaved with the calls it is compared with, so that the
  machine's noise hits both.
* **in-process**: ``Charger.charge`` of a paid call against the view alone
  (no HTTP), interleaved with both floor writes; the CPU time of a paid call
  (its thread's, user and system: Python, SQLite and the kernel's share of
  the writes, without the waits);
  and the payment path in stages (x402 decoding, hold, receipt signing,
  settle, the ``PAYMENT-RESPONSE`` header). ``--profile`` also runs the paid
  path under cProfile and prints the top functions.
* **HTTP overhead**: ``GET /paid`` (the built-in ``wsgi`` adapter's
  ``charge(charger, utia=...)`` around a tiny WSGI app), ``GET /free`` (the
  same app, unwrapped) and ``GET /commit`` (the same app after one raw floor
  commit) on one ``fontana.node.server`` threaded server, called in
  interleaved rounds (the order rotating) from one client process over one
  keep-alive connection. The overhead is each round's paid minus free
  latency (p50, p99), against the 0.39 ms p99 target of issue 8; commit minus
  free is the floor over the same path. ``--flask`` adds paid and free
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
def deployment(url: str | None, allocations: int, synchronous: str) -> Iterator[Ledger]:
    """A fresh ledger (default settings) whose genesis gives the consumer ``allocations`` UTXOs."""
    with tempfile.TemporaryDirectory(prefix="fontana-bench-") as tmp:
        environ = {"FONTANA_HOME": tmp, "FONTANA_STORAGE_SQLITE_SYNCHRONOUS": synchronous}
        settings = load_settings(environ=environ, cwd=Path(tmp), plugin_sections={})
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


class Floor:
    """The smallest durable write on the ledger's own database, pool and settings.

    ``raw``: ``BEGIN``, one upsert, ``COMMIT`` on a pooled DBAPI connection;
    ``session``: the same upsert through ``storage.write()``, as the ledger writes.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.engine = storage.engine  # type: ignore[attr-defined]
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.upsert = storage.raw_sql(  # type: ignore[attr-defined]
            "INSERT INTO fontana_meta (key, value) VALUES ('bench.floor', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        self.count = 0

    def raw(self) -> None:
        self.count += 1
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            if self.sqlite:  # the storage runs SQLite in autocommit mode and begins itself
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(self.upsert, (str(self.count),))
                cur.execute("COMMIT")
            else:
                cur.execute(self.upsert, (str(self.count),))
                conn.commit()
            cur.close()
        finally:
            conn.close()

    def session(self) -> None:
        self.count += 1
        with self.storage.write() as s:
            s.set_meta("bench.floor", str(self.count))


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


def in_process(charger: Charger, wallet: Wallet, floor: Floor, count: int) -> dict[str, list[int]]:
    """Interleaved: a raw commit, a session commit, the bare view, a paid ``Charger.charge``."""
    req = charger.requirement(paid_request("/inproc", None), PRICE)
    took: dict[str, list[int]] = {k: [] for k in ("raw", "session", "view", "paid", "cpu")}
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    for header in wallet.pay(req, count):
        start = clock()
        floor.raw()
        took["raw"].append(clock() - start)
        start = clock()
        floor.session()
        took["session"].append(clock() - start)
        start = clock()
        view()
        took["view"].append(clock() - start)
        start, start_cpu = clock(), cpu()
        charged = charger.charge(paid_request("/inproc", header), PRICE, view, lambda r: r)
        took["paid"].append(clock() - start)
        took["cpu"].append(cpu() - start_cpu)
        if charged.reply is not None:
            raise SystemExit(f"in-process paid call refused: {charged.reply.body!r}")
    return took


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
    timeout = 3_600  # a client's connection idles between the phases

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


def router(charger: Charger, floor: Floor, with_flask: bool) -> Callable[..., Iterable[bytes]]:
    """``/paid``: the tiny app under ``charge``; ``/commit``: it after one raw commit;
    ``/flask/...``: the Flask app; anything else: the tiny app."""
    paid = charge(charger, utia=PRICE)(tiny_app)
    flask = flask_app(charger) if with_flask else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/paid":
            return paid(environ, start_response)
        if path == "/commit":
            floor.raw()
            return tiny_app(environ, start_response)
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
        try:  # opens the connection before the clock starts
            conn.request("GET", "/free")
            conn.getresponse().read()
        except (http.client.RemoteDisconnected, ConnectionError):  # closed while idle
            conn.close()
            conn.request("GET", "/free")
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


def interleaved(
    clients: Clients, calls: dict[str, tuple[str, list[str] | None]], count: int
) -> dict[str, list[int]]:
    """``count`` rounds of one call of each kind, the kinds' order rotating between rounds.

    ``calls`` maps a name to a path and its ``PAYMENT-SIGNATURE`` headers (``None``: free).
    """
    names = list(calls)
    jobs: list[Job] = []
    order: list[str] = []
    for n in range(count):
        shift = n % len(names)
        for name in names[shift:] + names[:shift]:
            path, headers = calls[name]
            jobs.append((path, headers[n] if headers else None))
            order.append(name)
    _, latencies = clients.run(jobs)  # one client: in the order of the jobs
    took: dict[str, list[int]] = {name: [] for name in names}
    for name, latency in zip(order, latencies, strict=True):
        took[name].append(latency)
    return took


def minus(a: Sequence[int], b: Sequence[int]) -> list[int]:
    return [x - y for x, y in zip(a, b, strict=True)]


# --- one backend ----------------------------------------------------------------------


def bench(label: str, url: str | None, args: argparse.Namespace) -> None:
    n, k = args.calls, args.clients
    phases = 5 + (1 if args.flask else 0) + (1 if args.profile else 0)
    print(f"\n== {label}: {n} calls per figure, {k} concurrent clients ==")
    with deployment(url, n * phases, args.sqlite_synchronous) as ledger:
        floor = Floor(ledger.storage)
        charger = Charger(LedgerBackend(ledger), PROVIDER, max_timeout_s=MAX_TIMEOUT_S)
        wallet = Wallet(ledger.genesis)

        took = in_process(charger, wallet, floor, n)
        cost = minus(took["paid"], took["view"])
        print("in-process, no HTTP (interleaved):")
        print(row("floor: raw commit", took["raw"]))
        print(row("floor: storage.write() commit", took["session"]))
        print(row("view alone", took["view"]))
        print(row("paid: Charger.charge", took["paid"]))
        ratio = pct(cost, 0.5) / pct(took["raw"], 0.5)
        print(row("payment path (paid - view)", cost, f"  p50 = {ratio:.1f}x raw commit p50"))
        print(row("thread CPU of a paid call (user+sys)", took["cpu"]))
        print("payment path in stages (each timed alone):")
        for name, stage in stages(charger, wallet, n).items():
            print(row(name, stage))
        if args.profile:
            print(profile(charger, wallet, n))

        with serving(router(charger, floor, args.flask)) as address:
            one = Clients(address, 1)
            many = Clients(address, k)
            try:
                wsgi_req = challenge(address, "/paid")
                calls = {
                    "paid": ("/paid", wallet.pay(wsgi_req, n)),
                    "free": ("/free", None),
                    "commit": ("/commit", None),
                }
                took = interleaved(one, calls, n)
                diff = minus(took["paid"], took["free"])
                commit = minus(took["commit"], took["free"])
                print("HTTP, 1 client, keep-alive, interleaved (wsgi adapter):")
                print(row("free GET /free", took["free"]))
                print(row("paid GET /paid", took["paid"]))
                print(row("commit GET /commit (free + raw commit)", took["commit"]))
                print(row("floor: commit - free", commit))
                p99 = pct(diff, 0.99)
                print(
                    row(
                        "OVERHEAD: paid - free",
                        diff,
                        f"  p99 = {p99 / 1e6 / TARGET_P99_MS:.1f}x target ({TARGET_P99_MS} ms)",
                    )
                )
                if args.flask:
                    calls = {
                        "paid": ("/flask/paid", wallet.pay(challenge(address, "/flask/paid"), n)),
                        "free": ("/flask/free", None),
                    }
                    took = interleaved(one, calls, n)
                    print("HTTP, 1 client, keep-alive, interleaved (Flask adapter):")
                    print(row("free GET /flask/free", took["free"]))
                    print(row("paid GET /flask/paid", took["paid"]))
                    print(row("OVERHEAD: paid - free", minus(took["paid"], took["free"])))
                print("throughput (calls/s):")
                for clients, count in ((one, 1), (many, k)):
                    free_rate, _ = clients.run([("/free", None)] * n)
                    paid_rate, _ = clients.run([("/paid", h) for h in wallet.pay(wsgi_req, n)])
                    print(
                        f"  {count:2} client(s): free {free_rate:7,.0f}/s, paid {paid_rate:7,.0f}/s"
                        f" = {paid_rate / free_rate:.1%} of free"
                    )
            finally:
                one.close()
                many.close()
        charger.close()
        earned = ledger.balance(bytes(PROVIDER.verify_key))
        if earned != PRICE * wallet.used:
            raise SystemExit(f"the provider earned {earned} utia for {wallet.used} paid calls")
        print(f"checked: the provider earned {earned:,} utia for {wallet.used:,} settled calls")


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
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("full", "normal"),
        default="full",
        help="storage.sqlite_synchronous (normal: no fsync per commit, to see the CPU cost)",
    )
    args = parser.parse_args()
    if not args.no_sqlite:
        bench(f"sqlite (WAL, synchronous={args.sqlite_synchronous})", None, args)
    if args.postgres:
        from fontana.testing.pgcluster import PgCluster

        with PgCluster(fsync=True) as cluster:
            bench("postgresql (fsync on)", cluster.create_database("bench"), args)


if __name__ == "__main__":
    main()

"""Conformance suite for charging adapters: paid calls through real HTTP servers.

A framework plugin subclasses :class:`ChargingAdapterSuite` and names a WSGI app
(``app_module``, gunicorn's ``module:variable``, importable from ``app_dir``)
that serves the endpoints below. The suite runs that app under gunicorn in two
servers (``workers`` worker processes each) on one database, SQLite and
PostgreSQL both, pays with real signed transactions built here from the
challenge (independently of the SDK), and checks the answers, the receipts and
the ledger afterwards: balances, and which payments were applied.

The app's endpoints, each paid with :data:`PRICE` utia unless said; every
answer, paid or not, carries ``X-Worker-Pid``, the process that answered:

===================  =========================================================
``GET /paid``        ``{"run": <fresh random hex per view run>, "pid": <pid>}``
``POST /paid``       the same plus ``"sha256"`` of the body the view read and
                     ``"json"``, that body parsed (it must still be readable)
``GET /priced``      price ``int(request.args["utia"])`` (a price function);
                     answers like ``GET /paid``
``GET /raise``       raises ``RuntimeError``: the framework answers 500
``GET /fail``        answers ``500`` with ``{"error": "down"}``
``GET /stream``      a streamed answer: ``"chunk\\n"`` :data:`STREAM_CHUNKS` times
``GET /big``         :data:`BIG_BYTES` bytes of ``x``, past the response cache
``GET /gate?dir=D``  :func:`pass_gate`: records its run in directory ``D`` and
                     waits there until the test opens the gate; answers like
                     ``GET /paid``
===================  =========================================================

The built-in ``wsgi`` adapter serves them in :mod:`fontana.testing.charging_app`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import pytest
from nacl.signing import SigningKey

from fontana.address import decode_address, encode_address
from fontana.clock import now_ms
from fontana.config import load_settings
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import (
    Allocation,
    Genesis,
    OutPoint,
    SignedReceipt,
    Transaction,
    TxKind,
    TxOutput,
)
from fontana.models.payment import PaymentBinding, request_hash, verify_receipt
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing.requirements import require_external
from fontana.wallet import create_key

PRICE = 1500
FEE = 1
#: Each consumer's genesis outputs: ``UTXOS_PER_CONSUMER`` of ``ALLOCATION`` utia.
CONSUMERS = 32
UTXOS_PER_CONSUMER = 8
ALLOCATION = 50_000
WORKERS = 3
#: Copies of one payment sent at once, in each of ``UTXOS_PER_CONSUMER`` rounds per consumer.
SAME_PAYMENT_COPIES = 8
SAME_PAYMENT_CONSUMERS = 2
STREAM_CHUNKS = 1000
BIG_BYTES = 200_000
CHAIN_ID = "fontana-charging"
PROVIDER_KEY = "provider"
#: How long a server may take to boot, and a request to be answered: bounds, not measurements.
BOOT_DEADLINE_S = 120
REQUEST_TIMEOUT_S = 120
#: How long a ``/gate`` view waits for its gate at most, so a failed test frees the worker.
GATE_WAIT_S = 60

_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_BOOTED = re.compile(r"Booting worker with pid: (\d+)")


# --------------------------------------------------------------------------- HTTP


@attrs.frozen
class Answer:
    """One HTTP answer; header names lower-cased."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header_json(self, name: str) -> Any:
        """A base64 JSON header (``payment-required``, ``payment-response``), decoded."""
        return json.loads(base64.b64decode(self.headers[name], validate=True))

    @property
    def pid(self) -> int:
        return int(self.headers["x-worker-pid"])


@attrs.frozen
class Server:
    """One gunicorn master and its workers, serving the app on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def call(
        self, method: str, target: str, body: bytes = b"", headers: Mapping[str, str] = {}
    ) -> Answer:
        """One request on a new connection (so any worker may take it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request(method, target, body=body or None, headers=dict(headers))
            response = conn.getresponse()
            data = response.read()
            names = {k.lower(): v for k, v in response.getheaders()}
            return Answer(response.status, names, data)
        finally:
            conn.close()


def stop_servers(servers: Sequence[Server]) -> None:
    """Stop gunicorn masters (and so their workers): all asked at once, then each awaited."""
    running = [s for s in servers if s.process.poll() is None]
    for server in running:
        server.process.send_signal(signal.SIGTERM)
    for server in running:
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def start_servers(
    app_module: str,
    app_dir: Path,
    env: Mapping[str, str],
    cwd: Path,
    logs: Sequence[Path],
    workers: int = WORKERS,
) -> list[Server]:
    """One gunicorn per log, ``workers`` sync workers each, on free ports; started together,
    returned once every worker of each booted."""
    if not _has_module("gunicorn"):
        require_external("gunicorn")
    processes: list[subprocess.Popen[bytes]] = []
    for log in logs:
        argv = [
            sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", "127.0.0.1:0",
            "--pythonpath", str(app_dir), "--error-logfile", str(log), "--log-level", "info",
            "--timeout", str(REQUEST_TIMEOUT_S), "--graceful-timeout", "5", app_module,
        ]  # fmt: skip
        process = subprocess.Popen(
            argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
    deadline = time.monotonic() + BOOT_DEADLINE_S
    started: list[Server] = []
    for process, log in zip(processes, logs, strict=True):
        while True:
            text = log.read_text(errors="replace") if log.exists() else ""
            port = _LISTENING.search(text)
            if port and len(_BOOTED.findall(text)) >= workers:
                started.append(Server(process, int(port[1]), log))
                break
            if process.poll() is not None or time.monotonic() > deadline:
                for other in processes:
                    with contextlib.suppress(Exception):
                        other.kill()
                        other.wait()
                pytest.fail(f"gunicorn did not start {app_module}:\n{text[-4000:]}", pytrace=False)
            time.sleep(0.05)
    return started


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --------------------------------------------------------------------------- examples

_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)


def readme_blocks(readme: Path) -> list[str]:
    """The ``sh`` code blocks of a README, in order."""
    return [m[1] for m in _SH_BLOCK.finditer(readme.read_text())]


def run_readme_example(
    example: Path, workdir: Path, readme_port: int | Sequence[int], *, beside: Sequence[Path] = ()
) -> subprocess.CompletedProcess[str]:
    """Run an example's README as written: its first ``sh`` blocks serve, the next one calls.

    With one ``readme_port`` the first block serves it and the second calls;
    with several, block ``i`` serves port ``i`` and is started once the block
    before it listens (a terminal per server, opened in turn), and the block
    after them calls. The example, and the examples ``beside`` it whose apps
    its README serves too, are copied to ``workdir/examples/<name>`` (so what
    they create stays there) and run from ``workdir`` like from a clone's root;
    the only change is a free port for each README port. Returns the calling
    block's result, once every server is stopped.
    """
    import shutil

    readme_ports = [readme_port] if isinstance(readme_port, int) else list(readme_port)
    for source in (example, *beside):
        shutil.copytree(
            source,
            workdir / "examples" / source.name,
            ignore=shutil.ignore_patterns(".fontana", "genesis.json", "receipts", "__pycache__"),
        )
    ports = dict(zip(readme_ports, _free_ports(len(readme_ports)), strict=True))
    # One pass, so a free port never gets replaced again as if it were a README port.
    alternatives = "|".join(map(str, ports))
    address = re.compile(rf"127\.0\.0\.1:({alternatives})(?![0-9])")
    blocks = [
        address.sub(lambda m: f"127.0.0.1:{ports[int(m[1])]}", block)
        for block in readme_blocks(example / "README.md")[: len(ports) + 1]
    ]
    if len(blocks) != len(ports) + 1:
        pytest.fail(f"{example}/README.md needs {len(ports) + 1} sh blocks", pytrace=False)
    env = no_fontana_env()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with contextlib.ExitStack() as servers:
        for i, (serve, port) in enumerate(zip(blocks, ports.values(), strict=False)):
            log = workdir / ("provider.log" if i == 0 else f"provider-{i + 1}.log")
            with log.open("wb") as out:
                server = subprocess.Popen(
                    ["bash", "-euo", "pipefail", "-c", serve], cwd=workdir, env=env,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            servers.callback(_stop_session, server)
            _wait_for_port(port, server, log)
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", blocks[-1]], cwd=workdir, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=REQUEST_TIMEOUT_S,
        )  # fmt: skip


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (all held at once while chosen)."""
    import socket

    with contextlib.ExitStack() as probes:
        found = []
        for _ in range(count):
            probe = probes.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            found.append(probe.getsockname()[1])
        return found


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    """Stop a README block's shell and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + BOOT_DEADLINE_S
    while True:
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.connect(("127.0.0.1", port))
            return
        if process.poll() is not None or time.monotonic() > deadline:
            text = log.read_text(errors="replace")[-4000:]
            pytest.fail(f"the README's server did not start:\n{text}", pytrace=False)
        time.sleep(0.05)


# --------------------------------------------------------------------------- chain and wallets


def _key(seed: int) -> SigningKey:
    return SigningKey(hashlib.sha256(f"fontana charging suite key {seed}".encode()).digest())


@attrs.define
class Consumer:
    """A funded key and its genesis outputs not yet used by a test."""

    key: SigningKey
    unspent: list[OutPoint]

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def address(self) -> str:
        return encode_address(self.public_key)

    def take(self) -> OutPoint:
        return self.unspent.pop(0)


@attrs.define
class Chain:
    """A genesis on one database, the provider's home, and consumers handed out one per test."""

    genesis: Genesis
    url: str
    home: Path
    provider: bytes
    ledger: Ledger
    consumers: list[Consumer]

    def consumer(self) -> Consumer:
        """A consumer no other test of this class touched: its balance is this test's alone."""
        return self.consumers.pop(0)

    def balance(self, owner: bytes) -> int:
        return self.ledger.balance(owner)

    def applied(self, txid: bytes) -> bool:
        return self.ledger.transaction_status(txid).state != "unknown"

    def entry_count(self) -> int:
        """Rows of the ledger's entry log: one per applied transaction, whoever applied it."""
        import sqlalchemy as sa

        from fontana.storage import schema

        engine: sa.Engine = self.ledger.storage.engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(schema.entries)).scalar_one()
            )

    def payment(
        self,
        consumer: Consumer,
        challenge: Answer,
        *,
        method: str | None = None,
        resource: str | None = None,
        amount: int | None = None,
        fee: int = FEE,
        expiry_ms: int | None = None,
        source: OutPoint | None = None,
        pays: tuple[bytes, int] | None = None,
    ) -> tuple[Transaction, str]:
        """A payment for what ``challenge`` asks (or the overrides), and its header value.

        ``pays``: the transaction's payment output goes to this owner with this amount instead
        of the price to the payee, while its binding and ``accepted`` entry stay the same."""
        accepted = challenge.header_json("payment-required")["accepts"][0]
        pay_to = decode_address(accepted["payTo"])
        price = int(accepted["amount"]) if amount is None else amount
        binding = PaymentBinding(
            version=1,
            pay_to=pay_to,
            amount=price,
            method=method or accepted["extra"]["method"],
            resource=resource or accepted["extra"]["resource"],
        )
        owner, paid = (pay_to, price) if pays is None else pays
        change = ALLOCATION - paid - fee
        tx = Transaction(
            kind=TxKind.PAYMENT,
            chain_id=self.genesis.chain_id,
            inputs=(source or consumer.take(),),
            outputs=(TxOutput(owner, paid), TxOutput(consumer.public_key, change)),
            fee=fee,
            expiry_ms=now_ms() + 30_000 if expiry_ms is None else expiry_ms,
            payload_hash=binding.payload_hash,
        ).sign(consumer.key, self.genesis.hash)
        payload = {
            "x402Version": 2,
            "accepted": accepted,
            "payload": {"transaction": tx.to_bytes().hex()},
        }
        return tx, base64.b64encode(json.dumps(payload).encode()).decode("ascii")


def make_chain(url: str, home: Path) -> Chain:
    """A fresh chain on ``url``: consumers funded at genesis, the provider's key in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    provider = create_key(home, PROVIDER_KEY)
    keys = [_key(i) for i in range(CONSUMERS)]
    allocations = [
        Allocation(bytes(k.verify_key), ALLOCATION) for k in keys for _ in range(UTXOS_PER_CONSUMER)
    ]
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=now_ms(),
        sequencer=bytes(_key(-1).verify_key),
        da_namespace=b"\x00" * 9 + b"\x02",
        block_time_ms=6_000,
        min_fee=FEE,
        l1_confirmations=1,
        allocations=tuple(allocations),
    )
    settings = load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home)
    storage = open_storage(settings, url)
    initialize(storage, PythonSMTProvider(), genesis)
    ledger = Ledger.load(storage, PythonSMTProvider(), now_ms)
    consumers = [
        Consumer(
            k,
            [OutPoint(genesis.hash, i * UTXOS_PER_CONSUMER + j) for j in range(UTXOS_PER_CONSUMER)],
        )
        for i, k in enumerate(keys)
    ]
    return Chain(genesis, url, home, provider.public_key, ledger, consumers)


def server_env(chain: Chain, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a provider process: no developer's Fontana settings leak in."""
    env = no_fontana_env()
    env.update(
        FONTANA_HOME=str(chain.home),
        FONTANA_STORAGE_URL=chain.url,
        FONTANA_CHARGE_KEY_NAME=PROVIDER_KEY,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


# --------------------------------------------------------------------------- checks


def check_receipt(
    chain: Chain, answer: Answer, consumer: Consumer, tx: Transaction, method: str, resource: str,
    body: bytes = b"", amount: int = PRICE,
) -> SignedReceipt:  # fmt: skip
    """The answer's ``PAYMENT-RESPONSE``: success, and a receipt by the provider for this call."""
    settled = answer.header_json("payment-response")
    assert settled["success"] is True
    assert settled["transaction"] == tx.txid.hex()
    assert settled["network"] == f"fontana:{chain.genesis.chain_id}"
    assert settled["payer"] == consumer.address
    assert settled["amount"] == str(amount)
    signed = SignedReceipt.from_json(settled["extensions"]["fontana"]["receipt"])
    verify_receipt(signed, chain.genesis.hash)
    receipt = signed.receipt
    assert (receipt.txid, receipt.payer, receipt.payee) == (
        tx.txid,
        consumer.public_key,
        chain.provider,
    )
    assert (receipt.amount, receipt.method, receipt.resource) == (amount, method, resource)
    assert receipt.request_hash == request_hash(method, resource, body)
    return signed


def rejection(answer: Answer, status: int, codes: str | Sequence[str]) -> dict[str, Any]:
    """A rejection: ``status``, one of ``codes``, the same JSON in the body and the header."""
    wanted = {codes} if isinstance(codes, str) else set(codes)
    assert answer.status == status, (answer.status, answer.body[:500])
    body = answer.json()
    assert body["error"] in wanted, body
    assert body["x402Version"] == 2
    assert isinstance(body["message"], str) and body["message"]
    assert answer.header_json("payment-required") == body
    return body  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- in process
# What the Flask and Django plugins' in-process tests share: a paid call made
# through the framework's test client, and the request bodies a view must still read.


def no_fontana_env() -> dict[str, str]:
    """This process's environment without any ``FONTANA_*`` setting of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}


def isolate(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    """No developer config reaches the code under test: no ``FONTANA_*``, ``cwd`` as the
    working directory (so no ``fontana.toml`` of the developer's either)."""
    for name in list(os.environ):
        if name.startswith("FONTANA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(cwd)


@attrs.frozen
class PaidCall:
    """A challenge, then the same call paid by a fresh consumer."""

    challenge: Answer
    answer: Answer
    consumer: Consumer
    tx: Transaction
    header: str


def challenge_then_pay(chain: Chain, send: Callable[[Mapping[str, str]], Answer]) -> PaidCall:
    """``send(headers)`` makes the call: once bare for the challenge, once with the payment."""
    consumer = chain.consumer()
    challenge = send({})
    tx, header = chain.payment(consumer, challenge)
    answer = send({"PAYMENT-SIGNATURE": header})
    return PaidCall(challenge, answer, consumer, tx, header)


def not_charged(chain: Chain, call: PaidCall) -> None:
    """The call's payment was not applied and its consumer has all its genesis funds."""
    assert not chain.applied(call.tx.txid)
    assert chain.balance(call.consumer.public_key) == ALLOCATION * UTXOS_PER_CONSUMER


_MULTIPART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="up"; filename="u.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n"
)

#: ``(content_type, body, form, files)``: a body in each form a framework parses, with the
#: form fields and uploads (name -> text) the view must still read after the charge.
BODY_FORMS = [
    pytest.param("application/json", b'{"a": 1}', {}, {}, id="json"),
    pytest.param(
        "application/x-www-form-urlencoded", b"a=1&b=two", {"a": "1", "b": "two"}, {},
        id="urlencoded",
    ),
    pytest.param(
        "multipart/form-data; boundary=XyZ", _MULTIPART, {"note": "hi"}, {"up": "file body"},
        id="multipart",
    ),
]  # fmt: skip


def in_parallel(calls: Sequence[Callable[[], Answer]], threads: int = 8) -> list[Answer]:
    """Run the calls on ``threads`` threads, released together once all are queued."""
    go = threading.Event()

    def run(call: Callable[[], Answer]) -> Answer:
        go.wait()
        return call()

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run, call) for call in calls]
        go.set()
        return [f.result() for f in futures]


def pass_gate(directory: str) -> dict[str, Any]:
    """The view of ``GET /gate?dir=D``: record this run in ``D``, wait for ``D/open``.

    Each run leaves a file ``D/run-<run>``, so a test sees which views ran even
    when their answers were replaced by a refusal, and it holds the view in the
    middle of its call until the test opens the gate. ``D`` must exist.
    """
    gate = Gate(Path(directory))
    if not gate.path.is_dir():
        raise FileNotFoundError(f"no gate directory {directory!r}")
    run = secrets.token_hex(16)
    (gate.path / f"run-{run}").touch()
    deadline = time.monotonic() + GATE_WAIT_S
    while not gate.is_open():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gate {directory!r} was not opened")
        time.sleep(0.01)
    return {"run": run, "pid": os.getpid()}


@attrs.frozen
class Gate:
    """A directory the ``/gate`` views of a test record their runs in and wait on."""

    path: Path

    @property
    def target(self) -> str:
        return "/gate?dir=" + quote(str(self.path), safe="/")

    def is_open(self) -> bool:
        return (self.path / "open").exists()

    def open(self) -> None:
        (self.path / "open").touch()

    def close(self) -> None:
        (self.path / "open").unlink()

    def runs(self) -> list[str]:
        """The views that ran, by their ``run``."""
        return sorted(p.name.removeprefix("run-") for p in self.path.glob("run-*"))

    def wait_for(self, runs: int, call: Future[Answer]) -> None:
        """Until ``runs`` views ran or ``call`` has its answer (a rendezvous, not a timing)."""
        while len(self.runs()) < runs and not call.done():
            time.sleep(0.01)


# --------------------------------------------------------------------------- the suite


class ChargingAdapterSuite:
    """Paid calls through a framework's ``@charge`` on real servers; subclass and set the app."""

    #: gunicorn's ``module:variable`` (or ``module:factory()``) of the app under test.
    app_module: ClassVar[str]
    #: The directory ``app_module`` is imported from.
    app_dir: ClassVar[Path]
    #: More environment for the servers (``DJANGO_SETTINGS_MODULE``, ...).
    app_env: ClassVar[Mapping[str, str]] = {}
    #: Worker processes of each of the two servers.
    workers: ClassVar[int] = WORKERS
    #: True for an adapter that buffers every answer before it settles (the built-in
    #: ``wsgi`` adapter): a streamed answer is then kept for retries like any other.
    buffers_streams: ClassVar[bool] = False

    @pytest.fixture(scope="class", params=["sqlite", "postgresql"])
    @classmethod
    def chain(
        cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Chain]:
        """A chain on a fresh database of each backend, shared by the tests of one class."""
        base = tmp_path_factory.mktemp(f"charging-{request.param}")
        if request.param == "sqlite":
            url, drop = f"sqlite:///{base}/ledger.db", None
        else:
            from fontana.testing.pgcluster import unique_database_name

            cluster = request.getfixturevalue("pg_cluster")
            name = unique_database_name(f"charging{cls.__name__}")
            url, drop = cluster.create_database(name), lambda: cluster.drop_database(name)
        chain = make_chain(url, base / "provider-home")
        yield chain
        chain.ledger.storage.close()
        if drop is not None:
            drop()

    @pytest.fixture(scope="class")
    @classmethod
    def servers(cls, chain: Chain) -> Iterator[tuple[Server, Server]]:
        """Two gunicorn servers, ``workers`` processes each, on the chain's one database."""
        env = server_env(chain, cls.app_env)
        logs = [chain.home.parent / f"gunicorn-{name}.log" for name in ("a", "b")]
        started = start_servers(cls.app_module, cls.app_dir, env, chain.home, logs, cls.workers)
        try:
            yield started[0], started[1]
        finally:
            stop_servers(started)

    @pytest.fixture
    def server(self, servers: tuple[Server, Server]) -> Server:
        return servers[0]

    # -- the challenge -------------------------------------------------------

    def test_challenge_names_price_payee_and_call(self, chain: Chain, server: Server) -> None:
        target = "/paid?city=lisbon&note=caf%C3%A9"
        answer = server.call("GET", target)
        body = rejection(answer, 402, "payment_required")
        assert body["resource"]["url"].endswith(target)
        [accepted] = body["accepts"]
        assert accepted["scheme"] == "fontana"
        assert accepted["network"] == f"fontana:{chain.genesis.chain_id}"
        assert accepted["asset"] == "utia"
        assert accepted["amount"] == str(PRICE)
        assert accepted["payTo"] == encode_address(chain.provider)
        assert isinstance(accepted["maxTimeoutSeconds"], int) and accepted["maxTimeoutSeconds"] > 0
        extra = accepted["extra"]
        assert extra["genesisHash"] == chain.genesis.hash.hex()
        assert (extra["method"], extra["resource"]) == ("GET", target)

    def test_price_function_prices_each_request(self, chain: Chain, server: Server) -> None:
        consumer = chain.consumer()
        challenge = server.call("GET", "/priced?utia=777")
        rejection(challenge, 402, "payment_required")
        assert challenge.header_json("payment-required")["accepts"][0]["amount"] == "777"
        tx, header = chain.payment(consumer, challenge)
        answer = server.call("GET", "/priced?utia=777", headers={"PAYMENT-SIGNATURE": header})
        assert answer.status == 200, answer.body
        check_receipt(chain, answer, consumer, tx, "GET", "/priced?utia=777", amount=777)
        assert chain.balance(consumer.public_key) == ALLOCATION * UTXOS_PER_CONSUMER - 777 - FEE

    def test_malformed_payment_is_400_and_changes_nothing(
        self, chain: Chain, server: Server
    ) -> None:
        before = chain.balance(chain.provider)
        for header in (
            "not base64!",
            base64.b64encode(b"[1, 2").decode(),
            base64.b64encode(b"{}").decode(),
        ):
            rejection(
                server.call("GET", "/paid", headers={"PAYMENT-SIGNATURE": header}), 400, "malformed"
            )
        assert chain.balance(chain.provider) == before

    # -- paying --------------------------------------------------------------

    def test_paid_call_answers_with_a_verified_receipt(self, chain: Chain, server: Server) -> None:
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        challenge = server.call("GET", "/paid?n=1")
        tx, header = chain.payment(consumer, challenge)
        answer = server.call("GET", "/paid?n=1", headers={"PAYMENT-SIGNATURE": header})
        assert answer.status == 200, answer.body
        assert answer.json()["pid"] == answer.pid
        check_receipt(chain, answer, consumer, tx, "GET", "/paid?n=1")
        assert chain.applied(tx.txid)
        assert chain.balance(consumer.public_key) == ALLOCATION * UTXOS_PER_CONSUMER - PRICE - FEE
        assert chain.balance(chain.provider) == provider_before + PRICE

    def test_paid_post_body_reaches_the_view_and_the_receipt(
        self, chain: Chain, server: Server
    ) -> None:
        consumer = chain.consumer()
        body = json.dumps({"question": "how much?", "n": 42}).encode()
        headers = {"Content-Type": "application/json"}
        challenge = server.call("POST", "/paid", body, headers)
        tx, header = chain.payment(consumer, challenge)
        answer = server.call("POST", "/paid", body, {**headers, "PAYMENT-SIGNATURE": header})
        assert answer.status == 200, answer.body
        assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()
        assert answer.json()["json"] == {"question": "how much?", "n": 42}
        check_receipt(chain, answer, consumer, tx, "POST", "/paid", body)

    # -- holding -----------------------------------------------------------------

    def test_a_payment_is_held_while_its_view_runs(
        self, chain: Chain, servers: tuple[Server, Server], tmp_path: Path
    ) -> None:
        """While a paid view runs (``/gate`` waits for the test), a copy of its payment is
        ``payment_in_flight`` and another payment of the same input ``input_held``; neither
        runs a view, and nor does a call without a payment."""
        first_server, other_server = servers
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        gate = Gate(tmp_path)
        gate.open()
        challenge = first_server.call("GET", gate.target)
        rejection(challenge, 402, "payment_required")
        assert gate.runs() == [], "a call without a payment ran the view"
        gate.close()
        tx, header = chain.payment(consumer, challenge)
        signed = {"PAYMENT-SIGNATURE": header}
        other_challenge = other_server.call("GET", "/paid?gate=other")
        other, other_header = chain.payment(consumer, other_challenge, source=tx.inputs[0])
        with ThreadPoolExecutor(2) as pool:
            try:
                first = pool.submit(first_server.call, "GET", gate.target, headers=signed)
                gate.wait_for(1, first)
                assert len(gate.runs()) == 1, f"the paid view did not run: {first.result()}"
                spend = other_server.call(
                    "GET", "/paid?gate=other", headers={"PAYMENT-SIGNATURE": other_header}
                )
                rejection(spend, 402, "input_held")
                copy = pool.submit(other_server.call, "GET", gate.target, headers=signed)
                gate.wait_for(2, copy)
                assert len(gate.runs()) == 1, "a copy of a held payment ran the view again"
                rejection(copy.result(), 409, "payment_in_flight")
            finally:
                gate.open()
            answer = first.result()
        assert answer.status == 200, answer.body
        assert [answer.json()["run"]] == gate.runs()
        check_receipt(chain, answer, consumer, tx, "GET", gate.target)
        retry = other_server.call("GET", gate.target, headers=signed)
        assert (retry.status, retry.body) == (200, answer.body)
        assert chain.applied(tx.txid) and not chain.applied(other.txid)
        assert chain.balance(chain.provider) == provider_before + PRICE

    # -- failures are not charged ----------------------------------------------

    @pytest.mark.parametrize("target", ["/raise", "/fail"])
    def test_failed_view_is_not_charged(self, chain: Chain, server: Server, target: str) -> None:
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        funds, entries_before = chain.balance(consumer.public_key), chain.entry_count()
        tx, header = chain.payment(consumer, server.call("GET", target))
        for _ in range(2):  # a released payment is new again: the view runs again
            answer = server.call("GET", target, headers={"PAYMENT-SIGNATURE": header})
            assert answer.status == 500, answer.body
            if target == "/fail":
                assert answer.json() == {"error": "down"}
                settled = answer.header_json("payment-response")
                assert settled["success"] is False
                assert settled["errorReason"] == "view_failed"
        assert not chain.applied(tx.txid)
        assert chain.entry_count() == entries_before
        assert chain.balance(consumer.public_key) == funds
        assert chain.balance(chain.provider) == provider_before
        # The hold is gone now, not at expiry: the same output pays for another call at once.
        again, header = chain.payment(consumer, server.call("GET", "/paid"), source=tx.inputs[0])
        answer = server.call("GET", "/paid", headers={"PAYMENT-SIGNATURE": header})
        assert answer.status == 200, answer.body
        assert chain.applied(again.txid)

    # -- retries -------------------------------------------------------------

    def test_retry_gets_the_same_answer_and_receipt_from_another_process(
        self, chain: Chain, servers: tuple[Server, Server]
    ) -> None:
        first_server, other_server = servers
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        entries_before = chain.entry_count()
        tx, header = chain.payment(consumer, first_server.call("GET", "/paid?retry=1"))
        call = {"headers": {"PAYMENT-SIGNATURE": header}}
        first = first_server.call("GET", "/paid?retry=1", **call)
        assert first.status == 200, first.body
        check_receipt(chain, first, consumer, tx, "GET", "/paid?retry=1")
        retries = [
            first_server.call("GET", "/paid?retry=1", **call),
            other_server.call("GET", "/paid?retry=1", **call),
        ]
        for retry in retries:
            assert retry.status == 200, retry.body
            assert retry.body == first.body  # the stored answer: the view did not run again
            assert retry.header_json("payment-response") == first.header_json("payment-response")
        assert retries[1].pid != first.pid
        assert chain.entry_count() == entries_before + 1
        assert chain.balance(chain.provider) == provider_before + PRICE
        assert chain.balance(consumer.public_key) == ALLOCATION * UTXOS_PER_CONSUMER - PRICE - FEE

    @pytest.mark.parametrize("target", ["/stream", "/big"])
    def test_uncached_answer_retry_is_409_with_the_receipt(
        self, chain: Chain, servers: tuple[Server, Server], target: str
    ) -> None:
        """An answer too large to keep, or streamed: a retry gets its receipt, not the body.
        (An adapter that ``buffers_streams`` keeps the streamed one and answers it again.)"""
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        tx, header = chain.payment(consumer, servers[0].call("GET", target))
        first = servers[0].call("GET", target, headers={"PAYMENT-SIGNATURE": header})
        assert first.status == 200
        expected = b"chunk\n" * STREAM_CHUNKS if target == "/stream" else b"x" * BIG_BYTES
        assert first.body == expected
        receipt = check_receipt(chain, first, consumer, tx, "GET", target)
        for server in servers:
            retry = server.call("GET", target, headers={"PAYMENT-SIGNATURE": header})
            if target == "/stream" and self.buffers_streams:
                assert (retry.status, retry.body) == (200, expected)
                assert retry.header_json("payment-response") == first.header_json(
                    "payment-response"
                )
                continue
            assert retry.status == 409
            assert retry.json()["error"] == "already_settled"
            assert check_receipt(chain, retry, consumer, tx, "GET", target) == receipt
        assert chain.balance(chain.provider) == provider_before + PRICE

    # -- binding and expiry ------------------------------------------------------

    def test_a_payment_short_of_the_price_or_to_another_payee_is_rejected(
        self, chain: Chain, server: Server
    ) -> None:
        """The transaction itself must pay the payee the price: a binding and an ``accepted``
        entry that say so are not enough."""
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        funds, entries_before = chain.balance(consumer.public_key), chain.entry_count()
        challenge = server.call("GET", "/paid?short=1")
        elsewhere = bytes(_key(10_000).verify_key)
        for pays in ((chain.provider, PRICE - 1), (elsewhere, PRICE)):
            tx, header = chain.payment(consumer, challenge, pays=pays)
            answer = server.call("GET", "/paid?short=1", headers={"PAYMENT-SIGNATURE": header})
            rejection(answer, 402, "wrong_amount")
            assert not chain.applied(tx.txid)
        assert chain.entry_count() == entries_before
        assert chain.balance(consumer.public_key) == funds
        assert chain.balance(chain.provider) == provider_before

    def test_replay_to_another_resource_or_method_is_rejected(
        self, chain: Chain, server: Server
    ) -> None:
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        funds = chain.balance(consumer.public_key)
        tx, header = chain.payment(consumer, server.call("GET", "/paid?item=1"))
        signature = {"PAYMENT-SIGNATURE": header}
        rejection(server.call("GET", "/paid?item=2", headers=signature), 402, "binding_mismatch")
        rejection(server.call("POST", "/paid?item=1", headers=signature), 402, "binding_mismatch")
        rejection(
            server.call("GET", "/priced?utia=1500", headers=signature), 402, "binding_mismatch"
        )
        assert not chain.applied(tx.txid)
        assert chain.balance(consumer.public_key) == funds
        assert chain.balance(chain.provider) == provider_before
        # Nothing was held either: the payment still works where it was meant to.
        answer = server.call("GET", "/paid?item=1", headers=signature)
        assert answer.status == 200, answer.body

    @pytest.mark.parametrize(
        ("expires_in_ms", "code"),
        [(-1, "expired"), (1_000, "expiry_too_soon"), (86_400_000, "expiry_too_far")],
    )
    def test_payment_outside_its_window_is_rejected(
        self, chain: Chain, server: Server, expires_in_ms: int, code: str
    ) -> None:
        """Expired, too close to expiry to run the view (the default window is 5 s), or
        holding its inputs too long (``maxTimeoutSeconds``, 60 s by default)."""
        consumer = chain.consumer()
        funds, entries_before = chain.balance(consumer.public_key), chain.entry_count()
        challenge = server.call("GET", "/paid")
        tx, header = chain.payment(consumer, challenge, expiry_ms=now_ms() + expires_in_ms)
        answer = server.call("GET", "/paid", headers={"PAYMENT-SIGNATURE": header})
        rejection(answer, 402, code)
        assert not chain.applied(tx.txid)
        assert chain.entry_count() == entries_before
        assert chain.balance(consumer.public_key) == funds
        # Nothing is held: the same output pays a payment inside its window at once.
        again, header = chain.payment(consumer, challenge, source=tx.inputs[0])
        assert server.call("GET", "/paid", headers={"PAYMENT-SIGNATURE": header}).status == 200
        assert chain.applied(again.txid)

    # -- concurrency -----------------------------------------------------------

    def test_concurrent_distinct_payments_are_each_charged_once(
        self, chain: Chain, servers: tuple[Server, Server]
    ) -> None:
        consumers = [chain.consumer() for _ in range(4)]
        provider_before, entries_before = chain.balance(chain.provider), chain.entry_count()
        challenge = servers[0].call("GET", "/paid?many=1")
        payments = [
            chain.payment(c, challenge) for c in consumers for _ in range(UTXOS_PER_CONSUMER)
        ]
        calls = [
            (
                lambda s=servers[i % 2], h=header: s.call(
                    "GET", "/paid?many=1", headers={"PAYMENT-SIGNATURE": h}
                )
            )
            for i, (_, header) in enumerate(payments)
        ]
        answers = in_parallel(calls)
        assert [a.status for a in answers] == [200] * len(payments)
        runs = {a.json()["run"] for a in answers}
        assert len(runs) == len(payments)  # every view ran once
        assert len({a.pid for a in answers}) > 1
        for (tx, _), answer in zip(payments, answers, strict=True):
            assert answer.header_json("payment-response")["transaction"] == tx.txid.hex()
            assert chain.applied(tx.txid)
        assert chain.entry_count() == entries_before + len(payments)
        assert chain.balance(chain.provider) == provider_before + PRICE * len(payments)
        for c in consumers:
            assert chain.balance(c.public_key) == UTXOS_PER_CONSUMER * (ALLOCATION - PRICE - FEE)

    def test_concurrent_double_spends_settle_exactly_one(
        self, chain: Chain, servers: tuple[Server, Server]
    ) -> None:
        consumer, provider_before = chain.consumer(), chain.balance(chain.provider)
        entries_before = chain.entry_count()
        challenge_a = servers[0].call("GET", "/paid?side=a")
        challenge_b = servers[0].call("GET", "/paid?side=b")
        pairs = []
        for _ in range(UTXOS_PER_CONSUMER):
            source = consumer.take()
            pairs.append((
                chain.payment(consumer, challenge_a, source=source),
                chain.payment(consumer, challenge_b, source=source),
            ))  # fmt: skip
        calls = []
        for i, ((_, header_a), (_, header_b)) in enumerate(pairs):
            calls.append(
                lambda h=header_a, s=servers[i % 2]: s.call(
                    "GET", "/paid?side=a", headers={"PAYMENT-SIGNATURE": h}
                )
            )
            calls.append(
                lambda h=header_b, s=servers[(i + 1) % 2]: s.call(
                    "GET", "/paid?side=b", headers={"PAYMENT-SIGNATURE": h}
                )
            )
        answers = in_parallel(calls)
        for i, ((tx_a, _), (tx_b, _)) in enumerate(pairs):
            answer_a, answer_b = answers[2 * i], answers[2 * i + 1]
            assert sorted([answer_a.status, answer_b.status]) == [200, 402], (
                answer_a.body,
                answer_b.body,
            )
            loser = answer_a if answer_a.status == 402 else answer_b
            rejection(loser, 402, ("input_held", "input_spent"))
            assert chain.applied(tx_a.txid) != chain.applied(tx_b.txid)
            assert chain.applied(tx_a.txid) == (answer_a.status == 200)
        assert chain.entry_count() == entries_before + len(pairs)
        assert chain.balance(chain.provider) == provider_before + PRICE * len(pairs)
        assert chain.balance(consumer.public_key) == len(pairs) * (ALLOCATION - PRICE - FEE)

    def test_one_payment_sent_many_times_at_once_runs_the_view_once(
        self, chain: Chain, servers: tuple[Server, Server]
    ) -> None:
        """Copies of one payment race each other: while one runs the view the others are
        ``payment_in_flight``, after it settles they get its answer; never a rejection of
        the payment itself. Many rounds, since each race is won differently."""
        consumers = [chain.consumer() for _ in range(SAME_PAYMENT_CONSUMERS)]
        provider_before, entries_before = chain.balance(chain.provider), chain.entry_count()
        challenge = servers[0].call("GET", "/paid?same=1")
        rounds = 0
        for consumer in consumers:
            for _ in range(UTXOS_PER_CONSUMER):
                tx, header = chain.payment(consumer, challenge)
                signed = {"PAYMENT-SIGNATURE": header}
                answers = in_parallel(
                    [
                        (
                            lambda s=servers[i % 2], h=signed: s.call(
                                "GET", "/paid?same=1", headers=h
                            )
                        )
                        for i in range(SAME_PAYMENT_COPIES)
                    ]
                )
                served = [a for a in answers if a.status == 200]
                for answer in answers:
                    if answer.status != 200:
                        assert answer.status == 409, (rounds, answer.status, answer.body[:300])
                        assert answer.json()["error"] == "payment_in_flight", answer.body[:300]
                assert served, [a.status for a in answers]
                assert len({a.json()["run"] for a in served}) == 1
                assert all(
                    a.header_json("payment-response") == served[0].header_json("payment-response")
                    for a in served
                )
                retry = servers[1].call("GET", "/paid?same=1", headers=signed)
                assert (retry.status, retry.body) == (200, served[0].body)
                assert chain.applied(tx.txid)
                rounds += 1
        assert chain.entry_count() == entries_before + rounds
        assert chain.balance(chain.provider) == provider_before + PRICE * rounds
        for consumer in consumers:
            assert chain.balance(consumer.public_key) == UTXOS_PER_CONSUMER * (
                ALLOCATION - PRICE - FEE
            )

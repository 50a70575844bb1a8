"""The devnet's paid calls: a provider, a node API and a consumer, all real and on loopback.

The provider serves a charging adapter's ``example_app`` (Flask's when
fontana-flask is installed, else the built-in WSGI one) through the threaded
HTTP server ``fontana serve`` uses, taking payments through the devnet's own
ledger. The consumer is :class:`fontana.sdk.Client`: it learns prices from the
402 challenges, reads its UTXOs from the node API, pays within a budget and
checks each provisional receipt. As blocks reach DA, every paid call's final
receipt (signed header, inclusion proof, DA reference) is fetched and verified
offline and against the blob on DA, the way a consumer would audit a provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs

from fontana.errors import FontanaError
from fontana.interfaces import DAReference
from fontana.models.payment import verify_final_receipt
from fontana.receipts import verify_final_receipt_blob

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import DALayer
    from fontana.ledger import Ledger
    from fontana.models import Genesis
    from fontana.node.server import NodeServer
    from fontana.payments.charger import Charger
    from fontana.wallet import Wallet

#: What the consumer calls, in turn: (method, path, body). The last one fails on purpose.
CALLS: Final = (
    ("GET", "/v1/quote", None),
    ("POST", "/v1/echo", b'{"hello":"fontana"}'),
    ("GET", "/v1/words?n=5", None),
    ("GET", "/v1/fail", None),
)
#: The consumer's limits: enough for the example's prices, never a runaway.
PER_CALL: Final = 25_000
PER_DAY: Final = 2_000_000


def choose_adapter(name: str) -> str:
    """``auto``: Flask's adapter when its plugin is installed, else the built-in ``wsgi``."""
    from fontana.plugins import get_host

    registry = get_host().backends("charging")
    if name != "auto":
        registry.resolve(name)  # a clear error naming what is installed
        return name
    return "flask" if "flask" in registry.names() else "wsgi"


@attrs.define
class PaidCall:
    method: str
    path: str
    txid: bytes
    amount: int
    final: bool = False


class PaidCalls:
    """Runs the provider and the node, makes the calls, and audits their final receipts."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        genesis: Genesis,
        da: DALayer,
        settings: Settings,
        provider: Wallet,
        consumer: Wallet,
        adapter: str,
        max_calls: int | None,
        say: Callable[[str], None],
    ) -> None:
        self.ledger, self.genesis, self.da = ledger, genesis, da
        self.settings, self.provider, self.consumer = settings, provider, consumer
        self.adapter = choose_adapter(adapter)
        self.max_calls = max_calls
        self.say = say
        self.calls: list[PaidCall] = []
        self.failed_free = 0
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._servers: list[tuple[NodeServer, threading.Thread]] = []
        self._charger: Charger | None = None
        self.node_url = self.provider_url = ""

    def start(self) -> None:
        from fontana.node.app import NodeApp
        from fontana.payments.backends import LedgerBackend
        from fontana.payments.charger import Charger
        from fontana.plugins import get_host

        self.node_url = self._serve(NodeApp(self.ledger))
        self._charger = Charger(
            LedgerBackend(self.ledger), self.provider.signing_key, node_url=self.node_url
        )
        factory = get_host().backends("charging").resolve(self.adapter).factory
        example = getattr(factory(self.settings), "example_app", None)
        if example is None:
            raise FontanaError(
                f"the {self.adapter!r} charging adapter has no example_app to serve",
                code="devnet_adapter",
            )
        self.provider_url = self._serve(example(self._charger))
        self.say(f"node API {self.node_url} (OpenAPI at {self.node_url}/openapi.json)")
        self.say(f"provider {self.provider_url} ({self.adapter} example app, paid to provider)")

    def _serve(self, app: Any) -> str:
        from fontana.node.server import make_server

        server = make_server(app, "127.0.0.1", 0, 16)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        thread.start()
        self._servers.append((server, thread))
        return str(server.url)

    def stop(self) -> None:
        for server, thread in reversed(self._servers):
            server.shutdown()
            thread.join()
            server.server_close()
        if self._charger is not None:
            self._charger.close()

    def run(self, stop: threading.Event, gap_s: float, done: Callable[[], None]) -> None:
        """Call the provider's API in turn until stopped, or ``max_calls`` were made
        (then ``done()``)."""
        from fontana.sdk import Budget, Client

        made = 0
        with Client(
            self.consumer, self.node_url, budget=Budget(per_call=PER_CALL, per_day=PER_DAY)
        ) as client:
            while not stop.wait(gap_s):
                if self.max_calls is not None and made >= self.max_calls:
                    done()
                    return
                method, path, body = CALLS[made % len(CALLS)]
                made += 1
                self._call(client, method, path, body)

    def _call(self, client: Any, method: str, path: str, body: bytes | None) -> None:
        started = time.perf_counter()
        try:
            paid = client.request(method, self.provider_url + path, data=body)
        except FontanaError as exc:
            self.say(f"paid call {method} {path} refused: {exc.code}: {exc.message}")
            return
        ms = (time.perf_counter() - started) * 1000
        status = paid.response.status_code
        if paid.receipt is None:
            self.failed_free += 1
            self.say(f"call {method} {path}: {status}, failed: nothing charged ({ms:.1f} ms)")
            return
        receipt = paid.receipt.receipt
        with self._lock:
            self.calls.append(PaidCall(method, path, receipt.txid, receipt.amount))
        self.say(
            f"paid call {method} {path}: {status}, {receipt.amount} utia, receipt "
            f"{receipt.id.hex()[:16]}…, expected in block {receipt.expected_height} "
            f"(402, payment, answer: {ms:.1f} ms)"
        )

    def audit(self) -> None:
        """Verify the final receipts of the paid calls whose blocks are on DA now."""
        with self._lock:
            waiting = [c for c in self.calls if not c.final]
        for call in waiting:
            final = self.ledger.final_receipt(call.txid)
            if final is None:
                continue
            call.final = True
            try:
                verify_final_receipt(final, self.genesis)
                blob = self.da.get(
                    DAReference(final.da_height, final.da_commitment, final.da_namespace)
                )
                if blob is None:
                    raise FontanaError("its blob is not on DA", code="bad_receipt")
                verify_final_receipt_blob(final, blob, self.genesis)
            except FontanaError as exc:
                self.problems.append(f"final receipt of {call.txid.hex()}: {exc.message}")
                self.say(f"final receipt of {call.method} {call.path} FAILED: {exc.message}")
                continue
            self.say(
                f"final receipt verified: {call.method} {call.path} in block "
                f"{final.header.header.height}, on DA at height {final.da_height} "
                "(header signature, inclusion proof, blob)"
            )

    def check(self) -> list[str]:
        """After the last block is on DA: every paid call has a verified final receipt,
        and the provider holds exactly what it was paid."""
        self.audit()
        problems = list(self.problems)
        missing = [c for c in self.calls if not c.final]
        if missing:
            problems.append(f"{len(missing)} paid calls have no final receipt")
        earned = sum(c.amount for c in self.calls)
        balance = self.ledger.balance(self.provider.public_key)
        if balance != earned:
            problems.append(f"the provider holds {balance} utia, but was paid {earned}")
        self.say(
            f"paid calls: {len(self.calls)} settled ({earned} utia to the provider, which "
            f"holds {balance}), {self.failed_free} failed calls charged nothing, "
            f"{len(self.calls) - len(missing)} final receipts verified"
        )
        return problems

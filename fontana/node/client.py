"""``NodeClient``: the node API from Python, with the ledger's own types and errors.

A rejection comes back as the same :class:`~fontana.errors.RejectedError`
subclass the ledger raises (``InputSpentError``, ``ExpiredError``...), so code
written against a :class:`~fontana.ledger.Ledger` handles a node the same way.
Failures to reach the node are :class:`NodeUnavailableError`; an answer that is
not the documented API (a hostile or broken node, a proxy's error page) is
:class:`NodeResponseError`. Everything the node answers is decoded strictly.

Each call opens its own connection: a request that failed in flight is never
sent again behind the caller's back (a hold is not safe to repeat blindly).
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

import attrs

from fontana import strict_json
from fontana.address import encode_address
from fontana.errors import EncodingError, FontanaError
from fontana.interfaces import DAReference
from fontana.ledger import ApplyResult, CachedResponse, HoldResult, SettledPayment
from fontana.models import UTXO, Block, Genesis, OutPoint, Transaction
from fontana.models._base import json_fields, json_hex, json_int, json_str, json_u64
from fontana.models.codec import CHAIN_ID
from fontana.node.errors import (
    NodeResponseError,
    NodeUnavailableError,
    NotFoundError,
    error_from_code,
)

if TYPE_CHECKING:
    from fontana.models import FinalReceipt

#: The largest answer read: a block at the DA blob limit, as JSON, with room to spare.
MAX_RESPONSE: Final = 64 << 20
DEFAULT_TIMEOUT_S: Final = 10.0

T = TypeVar("T")


@attrs.frozen
class NodeStatus:
    chain_id: str
    genesis_hash: bytes
    latest_height: int
    latest_hash: bytes
    state_root: bytes
    #: The height of the block being collected: a payment applied now lands in it or later.
    open_height: int
    #: The highest block on DA (0 while only genesis is).
    posted_height: int
    min_fee: int
    supply: int
    time_ms: int
    #: A providers-only node: it keeps paid responses and releases holds.
    private: bool
    version: str


@attrs.frozen
class TransactionInfo:
    """``unknown``, ``pending``, ``sealed`` (with its block) or ``on_da`` (and where)."""

    state: str
    seq: int | None
    block_height: int | None
    da: DAReference | None


@attrs.frozen
class NodeBlock:
    block: Block
    da: DAReference | None


@attrs.frozen
class UtxoProof:
    """A state proof of one output at ``height``; ``value_hash`` is None for non-inclusion."""

    height: int
    state_root: bytes
    key: bytes
    value_hash: bytes | None
    utxo: UTXO | None
    proof: bytes


def _da(value: Any) -> DAReference | None:
    if value is None:
        return None
    d = json_fields(value, "da", ("height", "commitment", "namespace"))
    return DAReference(
        json_u64(d["height"], "da.height"),
        json_hex(d["commitment"], "da.commitment"),
        json_hex(d["namespace"], "da.namespace", 10),
    )


def _optional_u64(value: Any, field: str) -> int | None:
    return None if value is None else json_u64(value, field)


def _applied(d: Any, txid: bytes) -> ApplyResult:
    result = ApplyResult(
        json_hex(d["txid"], "txid", 32),
        json_u64(d["seq"], "seq"),
        json_u64(d["fee"], "fee"),
        d["already_applied"] is True,
    )
    if result.txid != txid:
        raise EncodingError(f"the node names another txid ({result.txid.hex()})")
    return result


def _settled(d: Any) -> SettledPayment:
    response = d["response"]
    if response is not None:
        response = CachedResponse(
            json_int(response["status"], 16, "response.status"),
            json_str(response["content_type"], "response.content_type"),
            json_hex(response["body"], "response.body"),
        )
    return SettledPayment(
        json_hex(d["txid"], "txid", 32), json_hex(d["receipt"], "receipt"), response
    )


def _held(d: Any, txid: bytes) -> HoldResult:
    if d["state"] not in ("held", "settled"):
        raise EncodingError(f"hold state {d['state']!r:.40} is not one the API documents")
    result = HoldResult(
        d["state"],
        json_hex(d["txid"], "txid", 32),
        json_u64(d["until_ms"], "until_ms"),
        None if d["settled"] is None else _settled(d["settled"]),
    )
    if result.txid != txid or (result.settled is not None and result.settled.txid != txid):
        raise EncodingError("the node names another txid")
    return result


class NodeClient:
    """The node API at ``url`` (``http://host:port``, or ``https://...``, with any path prefix)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EncodingError(f"node URL {url[:100]!r}: expected http://host:port or https://...")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise EncodingError(f"node URL {url[:100]!r}: no query, fragment or credentials")
        try:
            port = parts.port
        except ValueError:
            raise EncodingError(f"node URL {url[:100]!r}: the port is not a number") from None
        self.url = url.rstrip("/")
        #: One TLS context for every connection (loading the CA store is not free).
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._host = parts.hostname
        self._port = port
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"NodeClient({self.url!r})"

    # -- the deployment, read once (what a paying wallet needs: fontana.sdk) ----------

    @cached_property
    def _deployment(self) -> NodeStatus:
        return self.status()

    @property
    def chain_id(self) -> str:
        return self._deployment.chain_id

    @property
    def genesis_hash(self) -> bytes:
        return self._deployment.genesis_hash

    @property
    def min_fee(self) -> int:
        return self._deployment.min_fee

    # -- transport ----------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._tls
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON of a 200 answer; the typed error of any other."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            conn.request(method, self._prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read(MAX_RESPONSE + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise NodeUnavailableError(f"{self.url}: {exc or type(exc).__name__}") from None
        finally:
            conn.close()
        if len(raw) > MAX_RESPONSE:
            raise NodeResponseError(f"{self.url}: an answer above {MAX_RESPONSE} bytes")
        try:
            answer = strict_json.loads(raw, "the body")
        except EncodingError as exc:
            raise NodeResponseError(
                f"{self.url}{path}: HTTP {response.status}, {exc.message}"
            ) from None
        if response.status == 200:
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("code"), str)
            or not isinstance(error.get("message"), str)
        ):
            raise NodeResponseError(f"{self.url}{path}: HTTP {response.status}, not an API error")
        raise error_from_code(error["code"], error["message"])

    def _call(self, path: str, parse: Callable[[Any], T], body: Any = None) -> T:
        """GET ``path`` (POST ``body`` if given) and ``parse`` the answer, strictly."""
        answer = self.request("GET" if body is None else "POST", path, body)
        try:
            return parse(answer)
        except (EncodingError, KeyError, TypeError, AttributeError) as exc:
            message = exc.message if isinstance(exc, FontanaError) else repr(exc)
            raise NodeResponseError(f"{self.url}{path}: unexpected answer: {message}") from None

    # -- reads --------------------------------------------------------------------

    def status(self) -> NodeStatus:
        def parse(d: Any) -> NodeStatus:
            latest = d["latest_block"]
            return NodeStatus(
                chain_id=CHAIN_ID.from_json(d["chain_id"], "chain_id"),
                genesis_hash=json_hex(d["genesis_hash"], "genesis_hash", 32),
                latest_height=json_u64(latest["height"], "latest_block.height"),
                latest_hash=json_hex(latest["hash"], "latest_block.hash", 32),
                state_root=json_hex(latest["state_root"], "latest_block.state_root", 32),
                open_height=json_u64(d["open_height"], "open_height"),
                posted_height=json_u64(d["posted_height"], "posted_height"),
                min_fee=json_u64(d["min_fee"], "min_fee"),
                supply=json_u64(d["supply"], "supply"),
                time_ms=json_u64(d["time_ms"], "time_ms"),
                private=d["private"] is True,
                version=json_str(d["version"], "version"),
            )

        return self._call("/v1/status", parse)

    def genesis(self) -> Genesis:
        """The node's genesis, checked against the hash the node names for it."""

        def parse(d: Any) -> Genesis:
            genesis = Genesis.from_json(d["genesis"])
            if genesis.hash != json_hex(d["genesis_hash"], "genesis_hash", 32):
                raise EncodingError("the genesis does not hash to the genesis_hash given with it")
            return genesis

        return self._call("/v1/genesis", parse)

    def balance(self, address: bytes) -> int:
        path = f"/v1/addresses/{encode_address(address)}/balance"
        return self._call(path, lambda d: json_u64(d["balance"], "balance"))

    def utxos(self, address: bytes, limit: int | None = None) -> list[UTXO]:
        """Unspent outputs of ``address``, oldest first: ``limit`` of them, at most 1000."""
        query = "" if limit is None else f"?limit={limit}"
        path = f"/v1/addresses/{encode_address(address)}/utxos{query}"
        return self._call(path, lambda d: [UTXO.from_json(u, "utxo") for u in d["utxos"]])

    def submit(self, tx: Transaction) -> ApplyResult:
        """Apply a transfer, split or withdrawal burn, as ``Ledger.apply_transaction``."""

        body = {"transaction": tx.to_bytes().hex()}
        return self._call("/v1/transactions", lambda d: _applied(d, tx.txid), body)

    def transaction(self, txid: bytes) -> TransactionInfo:
        def parse(d: Any) -> TransactionInfo:
            if d["state"] not in ("unknown", "pending", "sealed", "on_da"):
                raise EncodingError(f"state {d['state']!r:.40} is not one the API documents")
            return TransactionInfo(
                d["state"],
                _optional_u64(d["seq"], "seq"),
                _optional_u64(d["block_height"], "block_height"),
                _da(d["da"]),
            )

        return self._call(f"/v1/transactions/{txid.hex()}", parse)

    def block(self, height: int) -> NodeBlock:
        """The block at ``height`` (``NotFoundError`` beyond the tip)."""

        def parse(d: Any) -> NodeBlock:
            block = Block.from_json(d["block"])
            if block.header.header.height != height:
                raise EncodingError(f"asked for block {height}, got {block.header.header.height}")
            return NodeBlock(block, _da(d["da"]))

        return self._call(f"/v1/blocks/{height}", parse)

    def proof(self, outpoint: OutPoint, height: int | None = None) -> UtxoProof:
        """A proof of ``outpoint`` in the state root of block ``height`` (default: latest)."""
        query = "" if height is None else f"?height={height}"
        path = f"/v1/proofs/utxos/{outpoint.txid.hex()}/{outpoint.index}{query}"

        def parse(d: Any) -> UtxoProof:
            value = d["value_hash"]
            utxo = None if d["utxo"] is None else UTXO.from_json(d["utxo"], "utxo")
            return UtxoProof(
                json_u64(d["height"], "height"),
                json_hex(d["state_root"], "state_root", 32),
                json_hex(d["key"], "key", 32),
                None if value is None else json_hex(value, "value_hash", 32),
                utxo,
                json_hex(d["proof"], "proof"),
            )

        return self._call(path, parse)

    # -- payments (a provider's calls, docs/node.md) -----------------------------------

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        """Hold the payment's inputs until ``until_ms``, as ``Ledger.hold``."""
        body = {"transaction": tx.to_bytes().hex(), "until_ms": str(until_ms)}
        return self._call("/v1/payments/hold", lambda d: _held(d, tx.txid), body)

    def settle(
        self, tx: Transaction, receipt: bytes, response: CachedResponse | None = None
    ) -> ApplyResult:
        """Apply the payment with its payee's receipt, as ``Ledger.settle``; a public node
        keeps no ``response``."""
        body = {
            "transaction": tx.to_bytes().hex(),
            "receipt": receipt.hex(),
            "response": None
            if response is None
            else {
                "status": response.status,
                "content_type": response.content_type,
                "body": response.body.hex(),
            },
        }
        return self._call("/v1/payments/settle", lambda d: _applied(d, tx.txid), body)

    def release(self, txid: bytes) -> bool:
        """Drop the holds of ``txid`` (a private node's call); ``False`` if none was live."""

        def parse(d: Any) -> bool:
            if json_hex(d["txid"], "txid", 32) != txid:
                raise EncodingError("the node names another txid")
            return d["released"] is True

        return self._call("/v1/payments/release", parse, {"txid": txid.hex()})

    def settled(self, txid: bytes) -> SettledPayment | None:
        """The receipt (and, from a private node, the cached response) of a settled payment."""
        try:
            return self._call(f"/v1/payments/{txid.hex()}", _settled)
        except NotFoundError:
            return None

    def final_receipt(self, txid: bytes) -> FinalReceipt | None:
        """The final receipt of a settled payment once its block is on DA, else ``None``."""
        from fontana.models import FinalReceipt

        def parse(d: Any) -> FinalReceipt:
            final = FinalReceipt.from_json(d["final_receipt"])
            if final.receipt.receipt.txid != txid:
                raise EncodingError("the node names another txid")
            return final

        try:
            return self._call(f"/v1/receipts/{txid.hex()}", parse)
        except NotFoundError:
            return None

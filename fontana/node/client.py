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
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import attrs

from fontana.address import encode_address
from fontana.errors import EncodingError, FontanaError
from fontana.interfaces import DAReference
from fontana.ledger import ApplyResult
from fontana.models import UTXO, Block, Genesis, OutPoint, Transaction
from fontana.models._base import json_fields, json_hex, json_u64
from fontana.node.errors import NodeResponseError, NodeUnavailableError, error_from_code

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
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"NodeClient({self.url!r})"

    # -- transport ----------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=ssl.create_default_context()
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
            answer = json.loads(raw)
        except (ValueError, RecursionError):
            raise NodeResponseError(
                f"{self.url}{path}: HTTP {response.status} without a JSON body"
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

    def _get(self, path: str, parse: Callable[[Any], T], body: Any = None) -> T:
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
                chain_id=d["chain_id"],
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
                version=str(d["version"]),
            )

        return self._get("/v1/status", parse)

    def genesis(self) -> Genesis:
        """The node's genesis, checked against the hash the node names for it."""

        def parse(d: Any) -> Genesis:
            genesis = Genesis.from_json(d["genesis"])
            if genesis.hash != json_hex(d["genesis_hash"], "genesis_hash", 32):
                raise EncodingError("the genesis does not hash to the genesis_hash given with it")
            return genesis

        return self._get("/v1/genesis", parse)

    def balance(self, address: bytes) -> int:
        path = f"/v1/addresses/{encode_address(address)}/balance"
        return self._get(path, lambda d: json_u64(d["balance"], "balance"))

    def utxos(self, address: bytes, limit: int | None = None) -> list[UTXO]:
        """Unspent outputs of ``address``, oldest first: ``limit`` of them, at most 1000."""
        query = "" if limit is None else f"?limit={limit}"
        path = f"/v1/addresses/{encode_address(address)}/utxos{query}"
        return self._get(path, lambda d: [UTXO.from_json(u, "utxo") for u in d["utxos"]])

    def submit(self, tx: Transaction) -> ApplyResult:
        """Apply a transfer, split or withdrawal burn, as ``Ledger.apply_transaction``."""

        def parse(d: Any) -> ApplyResult:
            result = ApplyResult(
                json_hex(d["txid"], "txid", 32),
                json_u64(d["seq"], "seq"),
                json_u64(d["fee"], "fee"),
                bool(d["already_applied"]),
            )
            if result.txid != tx.txid:
                raise EncodingError("the node names another txid")
            return result

        return self._get("/v1/transactions", parse, {"transaction": tx.to_bytes().hex()})

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

        return self._get(f"/v1/transactions/{txid.hex()}", parse)

    def block(self, height: int) -> NodeBlock:
        """The block at ``height`` (``NotFoundError`` beyond the tip)."""

        def parse(d: Any) -> NodeBlock:
            block = Block.from_json(d["block"])
            if block.header.header.height != height:
                raise EncodingError(f"asked for block {height}, got {block.header.header.height}")
            return NodeBlock(block, _da(d["da"]))

        return self._get(f"/v1/blocks/{height}", parse)

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

        return self._get(path, parse)

"""A local stand-in for celestia-node's JSON-RPC API, for development and tests.

It speaks the WebSocket JSON-RPC 2.0 dialect the real node speaks (positional
params, base64 bytes, the node's error texts) for the blob, header and state
calls a rollup needs, computes real share commitments with pycelestia's native
code, seals a block on a clock and keeps blocks in SQLite across restarts.

``devnode.InjectFault`` makes the next calls of a method fail, stall, drop the
connection, or include a blob and still report failure, so a poster's
crash-safety can be tested against what a real network does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import attrs
from celestia._celestia import types as native
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from fontana_celestia.devstore import Block, DevStore, StoredBlob
from fontana_celestia.headers import extended_header
from fontana_celestia.namespace import NAMESPACE_SIZE

log = logging.getLogger(__name__)

#: The blob data limit of Celestia networks before v6.
DEFAULT_MAX_BLOB_SIZE = 1_973_786
DEFAULT_FAULT_ERROR = "timed out waiting for tx to be included in a block"
_MAX_MESSAGE = 64 * 1024 * 1024
_RPC_ERROR = 1  # go-jsonrpc's code for an error a method returned
_PARSE_ERROR, _NO_METHOD, _INTERNAL_ERROR = -32700, -32601, -32603
_WRITE_METHODS = frozenset({"blob.Submit", "devnode.InjectFault", "devnode.ClearFaults"})


class RPCError(Exception):
    """An error answer; ``str(self)`` is the message a client sees."""

    def __init__(self, message: str, code: int = _RPC_ERROR) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen
class DevNodeConfig:
    host: str = "127.0.0.1"
    port: int = 26658
    data_dir: Path = Path(".celestia-devnode")
    block_time_ms: int = 1000
    auth_token: str | None = None
    max_blob_size: int = DEFAULT_MAX_BLOB_SIZE
    balance_utia: int = 1_000_000_000_000


@attrs.define
class Fault:
    """What happens to the next ``count`` calls of ``method``."""

    method: str
    count: int = 1
    #: Answer this celestia-node error text instead of the result.
    error: str | None = None
    #: Wait this long before answering.
    delay_ms: int = 0
    #: Do the call (a submit includes its blob), then fail anyway.
    include_then_fail: bool = False
    #: Cut the TCP connection instead of answering.
    drop: bool = False

    @classmethod
    def from_wire(cls, raw: Any) -> Fault:
        if not isinstance(raw, dict) or not isinstance(raw.get("method"), str):
            raise ValueError("expected an object with a 'method'")
        checks = {"count": int, "error": (str, type(None)), "delay_ms": int}
        checks |= {"include_then_fail": bool, "drop": bool}
        for key, value in raw.items():
            if key != "method" and (key not in checks or not isinstance(value, checks[key])):
                raise ValueError(f"bad fault field {key!r}")
        fault = cls(**raw)
        if fault.count < 1 or fault.delay_ms < 0:
            raise ValueError("count must be >= 1 and delay_ms >= 0")
        return fault


@attrs.define
class _Pending:
    blobs: list[StoredBlob]
    included: asyncio.Future[int]


class DevNode:
    """The server; ``await start()``, then ``await stop()``, all on one event loop."""

    def __init__(self, config: DevNodeConfig) -> None:
        self.config = config
        self._store: DevStore | None = None
        self._faults: list[Fault] = []
        self._pending: list[_Pending] = []
        self._sealed: asyncio.Future[Block] | None = None
        self._server: Server | None = None
        self._clock: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._methods: dict[str, Callable[[list[Any]], Awaitable[Any]]] = {
            "blob.Submit": self._blob_submit,
            "blob.Get": self._blob_get,
            "blob.GetAll": self._blob_get_all,
            "header.LocalHead": self._header_head,
            "header.NetworkHead": self._header_head,
            "header.GetByHeight": self._header_get_by_height,
            "header.WaitForHeight": self._header_wait_for_height,
            "state.Balance": self._state_balance,
            "devnode.InjectFault": self._inject_fault,
            "devnode.ClearFaults": self._clear_faults,
        }

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """What to put in ``da.url``."""
        return f"celestia+ws://{self.config.host}:{self.port}"

    @property
    def store(self) -> DevStore:
        assert self._store is not None, "not started"
        return self._store

    async def start(self) -> None:
        self._store = DevStore(self.config.data_dir)  # opened on the thread that serves
        if self.store.head() is None:
            self._seal()
        self._sealed = asyncio.get_running_loop().create_future()
        self._clock = asyncio.create_task(self._tick())
        self._server = await serve(
            self._connection,
            self.config.host,
            self.config.port,
            process_request=self._check_token,
            max_size=_MAX_MESSAGE,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        tasks = [t for t in (self._clock, *self._calls) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.store.close()

    # --- block production ---------------------------------------------------------

    async def _tick(self) -> None:
        interval = self.config.block_time_ms / 1000
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += interval
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            self._seal()

    def _seal(self) -> None:
        pending, self._pending = self._pending, []
        block = self.store.append(time.time_ns(), [b for p in pending for b in p.blobs])
        for p in pending:
            if not p.included.done():
                p.included.set_result(block.height)
        if self._sealed is not None:
            sealed, self._sealed = self._sealed, asyncio.get_running_loop().create_future()
            sealed.set_result(block)

    def _head(self) -> Block:
        head = self.store.head()
        assert head is not None, "the first block is sealed at start"
        return head

    async def _wait_for(self, height: int) -> Block:
        while (head := self._head()).height < height:
            assert self._sealed is not None
            await asyncio.shield(self._sealed)
        return head if head.height == height else self._block(height)

    def _block(self, height: int) -> Block:
        block = self.store.block(height)
        if block is None:
            raise RPCError(f"header: not found: height {height}")
        return block

    # --- connections ---------------------------------------------------------------

    def _check_token(self, connection: ServerConnection, request: Request) -> Response | None:
        """A wrong token fails the handshake (HTTP 401), as go-jsonrpc's auth handler does."""
        given, token = request.headers.get("Authorization"), self.config.auth_token
        if given is not None and token is not None and given != f"Bearer {token}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "JWT verification failed\n")
        return None

    async def _connection(self, ws: ServerConnection) -> None:
        token = self.config.auth_token
        allowed = token is None or ws.request.headers.get("Authorization") == f"Bearer {token}"
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                task = asyncio.create_task(self._answer(ws, message, allowed))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)

    async def _answer(self, ws: ServerConnection, message: str | bytes, allowed: bool) -> None:
        request_id: Any = None
        try:
            request = json.loads(message)
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                raise RPCError("invalid request", _PARSE_ERROR)
            request_id = request.get("id")
            result = await self._dispatch(
                ws, request["method"], request.get("params") or [], allowed
            )
            answer: dict[str, Any] = {"result": result}
        except RPCError as exc:
            answer = {"error": {"code": exc.code, "message": str(exc)}}
        except json.JSONDecodeError as exc:
            answer = {"error": {"code": _PARSE_ERROR, "message": f"parse error: {exc}"}}
        except _Dropped:
            ws.transport.abort()
            return
        except Exception as exc:  # a dev-node bug: answer it rather than leave the caller hanging
            log.exception("dev node failed on %r", message[:200])
            answer = {"error": {"code": _INTERNAL_ERROR, "message": f"internal error: {exc!r}"}}
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, **answer}))

    async def _dispatch(self, ws: ServerConnection, method: str, params: Any, allowed: bool) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise RPCError(f"method '{method}' not found", _NO_METHOD)
        if not allowed:
            need = "write" if method in _WRITE_METHODS else "read"
            raise RPCError(f"missing permission to invoke '{method}' (need '{need}')")
        if not isinstance(params, list):
            raise RPCError(f"unmarshaling params for '{method}': expected a list", _PARSE_ERROR)
        fault = self._take_fault(method)
        if fault is None:
            return await handler(params)
        if not fault.include_then_fail:
            await asyncio.sleep(fault.delay_ms / 1000)
            if fault.drop:
                raise _Dropped
            if fault.error is not None:
                raise RPCError(fault.error)
            return await handler(params)
        await handler(params)
        await asyncio.sleep(fault.delay_ms / 1000)
        if fault.drop:
            raise _Dropped
        raise RPCError(fault.error or DEFAULT_FAULT_ERROR)

    # --- faults --------------------------------------------------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method:
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _inject_fault(self, params: list[Any]) -> int:
        try:
            fault = Fault.from_wire(_param(params, 0, "fault"))
        except (TypeError, ValueError) as exc:
            raise RPCError(
                f"unmarshaling params for 'devnode.InjectFault': {exc}", _PARSE_ERROR
            ) from None
        self._faults.append(fault)
        return sum(f.count for f in self._faults)

    async def _clear_faults(self, params: list[Any]) -> int:
        cleared, self._faults = sum(f.count for f in self._faults), []
        return cleared

    # --- celestia-node methods --------------------------------------------------------

    async def _blob_submit(self, params: list[Any]) -> int:
        raw_blobs = _param(params, 0, "blobs")
        if not isinstance(raw_blobs, list) or not raw_blobs:
            raise RPCError("no blobs")
        blobs = [self._parse_blob(raw) for raw in raw_blobs]
        if sum(len(b.data) for b in blobs) > self.config.max_blob_size:
            raise RPCError("blob: over size limit")
        pending = _Pending(blobs, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        return await asyncio.shield(pending.included)

    def _parse_blob(self, raw: Any) -> StoredBlob:
        if not isinstance(raw, dict):
            raise RPCError("unmarshaling params for 'blob.Submit': blob is not an object")
        namespace = _namespace(raw.get("namespace"))
        data = _bytes(raw.get("data"), "data")
        if not data:
            raise RPCError("zero blob size")
        signer = _bytes(raw["signer"], "signer") if raw.get("signer") else None
        expected = native.normalize_blob(namespace, data, signer)
        given = raw.get("commitment")
        if given is not None and _bytes(given, "commitment") != expected["commitment"]:
            raise RPCError("blob: invalid commitment")
        return StoredBlob(
            namespace, data, bytes(expected["commitment"]), expected["share_version"], signer
        )

    async def _blob_get(self, params: list[Any]) -> dict[str, Any]:
        height = await self._readable_height(params)
        namespace = _namespace(_param(params, 1, "namespace"))
        commitment = _bytes(_param(params, 2, "commitment"), "commitment")
        for blob in self.store.blobs_at(height, namespace):
            if blob.commitment == commitment:
                return _blob_json(blob)
        raise RPCError("blob: not found")

    async def _blob_get_all(self, params: list[Any]) -> list[dict[str, Any]]:
        height = await self._readable_height(params)
        namespaces = _param(params, 1, "namespaces")
        if not isinstance(namespaces, list) or not namespaces:
            raise RPCError("unmarshaling params for 'blob.GetAll': expected namespaces")
        return [
            _blob_json(blob)
            for ns in namespaces
            for blob in self.store.blobs_at(height, _namespace(ns))
        ]

    async def _header_head(self, params: list[Any]) -> dict[str, Any]:
        return self._header(self._head())

    async def _header_get_by_height(self, params: list[Any]) -> dict[str, Any]:
        return self._header(await self._wait_for(await self._readable_height(params)))

    async def _header_wait_for_height(self, params: list[Any]) -> dict[str, Any]:
        height = _height(_param(params, 0, "height"))
        return self._header(await self._wait_for(height))

    async def _state_balance(self, params: list[Any]) -> dict[str, str]:
        return {"denom": "utia", "amount": str(self.config.balance_utia)}

    async def _readable_height(self, params: list[Any]) -> int:
        """celestia-node waits for the next height and refuses the ones after it."""
        height = _height(_param(params, 0, "height"))
        head = self._head().height
        if height > head + 1:
            raise RPCError(
                "header: given height is from the future: "
                f"networkHeight: {head}, requestedHeight: {height}"
            )
        await self._wait_for(height)
        return height

    def _header(self, block: Block) -> dict[str, Any]:
        previous = self.store.block(block.height - 1)
        return extended_header(block, previous.hash if previous else bytes(32))


class _Dropped(Exception):
    """A fault asked for the connection to be cut."""


def _param(params: list[Any], index: int, name: str) -> Any:
    if index >= len(params):
        raise RPCError(f"unmarshaling params: missing {name}", _PARSE_ERROR)
    return params[index]


def _height(raw: Any) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise RPCError("unmarshaling params: height is not an integer", _PARSE_ERROR)
    if raw < 1:
        raise RPCError("height must be bigger than zero")
    return raw


def _bytes(raw: Any, name: str) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise RPCError(f"unmarshaling params: {name} is not base64", _PARSE_ERROR) from None


def _namespace(raw: Any) -> bytes:
    namespace = _bytes(raw, "namespace")
    if len(namespace) != NAMESPACE_SIZE:
        raise RPCError("invalid namespace length")
    if namespace[0] != 0 or any(namespace[1:19]):
        raise RPCError("unsupported namespace version or id")
    if not any(namespace[19:28]):
        raise RPCError("reserved namespace")
    return namespace


def _blob_json(blob: StoredBlob) -> dict[str, Any]:
    return {
        "namespace": base64.b64encode(blob.namespace).decode(),
        "data": base64.b64encode(blob.data).decode(),
        "share_version": blob.share_version,
        "commitment": base64.b64encode(blob.commitment).decode(),
        "index": blob.share_index,
        "signer": base64.b64encode(blob.signer).decode() if blob.signer else None,
    }


def run(config: DevNodeConfig) -> None:
    """Serve until SIGINT or SIGTERM; print the URL first, for people and scripts."""

    async def main() -> None:
        node = DevNode(config)
        await node.start()
        print(node.url, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await node.stop()

    asyncio.run(main())

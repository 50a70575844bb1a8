"""One WebSocket to celestia-node, driven by pycelestia's JSON-RPC executor and NodeAPI.

pycelestia 0.1.7 opens its socket with websockets' default 1 MiB message
limit, which a 1.9 MB blob (2.5 MB in base64) exceeds, and it leaves calls
waiting until their timeout when the node closes the socket cleanly. So the
socket is opened here, with a limit sized for whole blocks, and a closed socket
fails pending calls at once; requests, responses and types remain pycelestia's.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from _jsonrpc import RPC
from _jsonrpc.abc import Transport
from celestia.node_api import Client, JSONEncoder, NodeAPI
from websockets.asyncio.client import ClientConnection, connect

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Largest JSON-RPC message accepted: a ``blob.GetAll`` of a full block, in base64.
MAX_MESSAGE = 64 * 1024 * 1024


class _Transport(Transport):
    """Hands pycelestia's executor a socket to send on and its known error texts."""

    def __init__(self, ws: ClientConnection, errors_map: Mapping[str, type[Exception]]) -> None:
        self._ws = ws
        self._errors_map = dict(errors_map)

    @property
    def errors_map(self) -> dict[str, type[Exception]]:
        return self._errors_map

    async def send(self, message: str) -> None:
        await self._ws.send(message)


class Session:
    """An open connection; ``closed`` turns true once the socket is gone for good."""

    def __init__(self, ws: ClientConnection, api: NodeAPI, listener: asyncio.Task[None]) -> None:
        self._ws = ws
        self.api = api
        self._listener = listener

    @classmethod
    async def open(cls, url: str, auth_token: str | None, timeout: float) -> Session:
        """Connect to ``url`` (``ws://`` or ``wss://``) and start reading responses."""
        headers = [("Authorization", f"Bearer {auth_token}")] if auth_token else []
        ws = await connect(
            url, additional_headers=headers, max_size=MAX_MESSAGE, open_timeout=timeout
        )
        transport = _Transport(ws, Client(url).errors_map)
        rpc = RPC(transport, JSONEncoder, timeout)
        listener = asyncio.create_task(_listen(ws, transport))
        return cls(ws, NodeAPI(rpc), listener)

    @property
    def closed(self) -> bool:
        return self._listener.done()

    async def close(self) -> None:
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener


async def _listen(ws: ClientConnection, transport: Transport) -> None:
    """Feed responses to the executor; when the socket ends, fail whatever still waits."""
    error: Exception | None = None
    try:
        async for message in ws:
            with contextlib.suppress(asyncio.InvalidStateError):  # answer after a timeout
                transport.on_message(message)
    except Exception as exc:
        error = exc
    with contextlib.suppress(asyncio.InvalidStateError):
        transport.on_close(error)

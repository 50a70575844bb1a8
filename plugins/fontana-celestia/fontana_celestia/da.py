"""``CelestiaDA``: the synchronous DALayer the core calls from plain threads.

The WebSocket client is asynchronous, so each layer owns one event loop on a
daemon thread and one long-lived connection, reopened after the node goes away;
any number of threads may call it at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from celestia._celestia import types as native
from celestia.node_api import NodeAPI
from celestia.types.blob import Blob
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from fontana.errors import BlobTooLargeError, DAError, DAFatalError, DARetryableError
from fontana.interfaces import DAReference
from fontana_celestia.errors import from_node_text
from fontana_celestia.namespace import full_namespace, v0_namespace
from fontana_celestia.session import Session
from fontana_celestia.settings import DEFAULT_MAX_BLOB_SIZE

T = TypeVar("T")

_SCHEMES = {"celestia": "ws", "celestia+ws": "ws", "celestia+wss": "wss", "ws": "ws", "wss": "wss"}


def websocket_url(url: str) -> str:
    """``celestia+ws://h:p`` (or ``celestia://``) -> ``ws://h:p``; ``celestia+wss`` -> ``wss``."""
    parts = urlsplit(url)
    scheme = _SCHEMES.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise DAFatalError(f"not a celestia-node URL: {url!r} (try celestia+ws://host:26658)")
    return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


class CelestiaDA:
    """Blobs of one namespace on Celestia, through celestia-node's JSON-RPC API."""

    def __init__(
        self,
        url: str,
        namespace: bytes,
        *,
        auth_token: str | None = None,
        timeout_ms: int = 60_000,
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
    ) -> None:
        self.url = websocket_url(url)
        self.namespace = v0_namespace(namespace)
        self.max_blob_size = max_blob_size
        self._auth_token = auth_token
        self._timeout = timeout_ms / 1000
        self._session: Session | None = None
        self._connecting = asyncio.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fontana-celestia", daemon=True
        )
        self._thread.start()

    # --- DALayer --------------------------------------------------------------

    def submit(self, blob: bytes) -> DAReference:
        """Post ``blob`` and wait until celestia-node reports its inclusion height."""
        if len(blob) > self.max_blob_size:
            raise BlobTooLargeError(
                f"blob of {len(blob)} bytes exceeds celestia.max_blob_size {self.max_blob_size}"
            )

        async def call(api: NodeAPI) -> DAReference:
            result = await api.blob.submit(Blob(self.namespace, blob))
            return DAReference(result.height, bytes(result.commitments[0]), self.namespace)

        return self._run(call)

    def commitment(self, blob: bytes) -> bytes:
        """The share commitment celestia-node will compute, by the same native code."""
        return bytes(native.normalize_blob(self.namespace, blob, None)["commitment"])

    def get(self, ref: DAReference) -> bytes | None:
        """The blob at ``ref``; ``None`` for a reference into another namespace."""
        try:
            if full_namespace(ref.namespace) != self.namespace:
                return None
        except DAFatalError:  # not a namespace at all: certainly not ours
            return None

        async def call(api: NodeAPI) -> bytes | None:
            found = await api.blob.get(ref.height, self.namespace, ref.commitment)
            return None if found is None else bytes(found.data)

        return self._run(call)

    def list_at(self, height: int) -> Sequence[tuple[DAReference, bytes]]:
        async def call(api: NodeAPI) -> list[tuple[DAReference, bytes]]:
            blobs = await api.blob.get_all(height, self.namespace)
            return [
                (DAReference(height, bytes(b.commitment), self.namespace), bytes(b.data))
                for b in blobs
            ]

        return self._run(call)

    def head_height(self) -> int:
        async def call(api: NodeAPI) -> int:
            return int((await api.header.local_head()).header.height)

        return self._run(call)

    def close(self) -> None:
        """Close the connection and stop the loop thread; later calls fail."""
        if self._loop.is_closed():
            return
        if self._session is not None:
            asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result()
            self._session = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    # --- plumbing ---------------------------------------------------------------

    def _run(self, call: Callable[[NodeAPI], Awaitable[T]]) -> T:
        if self._loop.is_closed():
            raise DAFatalError("this Celestia DA layer is closed")
        return asyncio.run_coroutine_threadsafe(self._call(call), self._loop).result()

    async def _call(self, call: Callable[[NodeAPI], Awaitable[T]]) -> T:
        try:
            try:
                return await call((await self._open()).api)
            except ConnectionClosed:
                # The node closed the socket before this send noticed: the request
                # never left, so one more try on a fresh socket is always safe.
                await self._drop()
                return await call((await self._open()).api)
        except DAError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    async def _open(self) -> Session:
        async with self._connecting:
            if self._session is None or self._session.closed:
                self._session = await Session.open(self.url, self._auth_token, self._timeout)
            return self._session

    async def _drop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _translate(exc: Exception) -> DAError:
    """Classify what pycelestia or the socket raised."""
    if isinstance(exc, ConnectionError) and len(exc.args) == 2 and hasattr(exc.args[1], "body"):
        return from_node_text(str(exc.args[1].body.get("message", "")))  # a JSON-RPC error
    if isinstance(exc, ValueError):
        return from_node_text(str(exc))  # pycelestia's errors_map, or a malformed answer
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return DAFatalError(f"celestia-node refused the auth token (HTTP {status})")
        if status >= 500:
            return DARetryableError(f"celestia-node unavailable (HTTP {status})")
        return DAFatalError(f"celestia-node refused the connection (HTTP {status})")
    if isinstance(exc, OSError | TimeoutError | InvalidHandshake | ConnectionClosed):
        return DARetryableError(f"celestia-node unreachable: {exc!r}")
    return DAFatalError(f"unexpected failure talking to celestia-node: {exc!r}")

"""Run the dev node on a background thread for tests: ``with DevNode(tmp_path) as node: ...``.

The node listens on a free loopback port that stays the same across
``stop()``/``start()``, so a restart looks to clients like a node restart.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from websockets.sync.client import connect

from fontana_celestia.devnode import DEFAULT_MAX_BLOB_SIZE, DevNodeConfig
from fontana_celestia.devnode import DevNode as _Server


class DevNode:
    """A dev node in this process; ``url`` is for ``da.url``, ``ws_url`` for raw clients."""

    def __init__(
        self,
        data_dir: Path,
        *,
        block_time_ms: int = 100,
        auth_token: str | None = None,
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
    ) -> None:
        self.config = DevNodeConfig(
            host="127.0.0.1",
            port=0,
            data_dir=data_dir,
            block_time_ms=block_time_ms,
            auth_token=auth_token,
            max_blob_size=max_blob_size,
        )
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"celestia+ws://127.0.0.1:{self.config.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.config.port}"

    def start(self) -> DevNode:
        """Start serving; the first start picks the port, later ones reuse it."""
        loop = asyncio.new_event_loop()
        self._loop, self._server = loop, _Server(self.config)
        self._thread = threading.Thread(
            target=loop.run_forever, name="celestia-devnode", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._server.start(), loop).result(timeout=10)
        if self.config.port == 0:
            self.config = attrs.evolve(self.config, port=self._server.port)
        return self

    def stop(self) -> None:
        """Stop serving and close the chain's files; blocks already sealed persist."""
        if self._server is None or self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._server = self._loop = self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def inject_fault(
        self,
        method: str = "blob.Submit",
        *,
        count: int = 1,
        error: str | None = None,
        delay_ms: int = 0,
        include_then_fail: bool = False,
        drop: bool = False,
    ) -> int:
        """Queue a fault through ``devnode.InjectFault``; return the faulted calls queued."""
        fault = {"method": method, "count": count, "error": error, "delay_ms": delay_ms}
        fault |= {"include_then_fail": include_then_fail, "drop": drop}
        return int(self.call("devnode.InjectFault", fault))

    def call(self, method: str, *params: Any) -> Any:
        """One raw JSON-RPC call over a fresh WebSocket; an error answer raises RuntimeError."""
        token = self.config.auth_token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with connect(self.ws_url, additional_headers=headers, max_size=None) as ws:
            request_id = str(uuid.uuid4())
            ws.send(
                json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            )
            answer = json.loads(ws.recv(timeout=30))
        if "error" in answer:
            raise RuntimeError(answer["error"]["message"])
        return answer["result"]

    def __enter__(self) -> DevNode:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

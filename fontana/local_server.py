"""Servers a Fontana process starts for itself on loopback (the devnet's EVM node, a test's
PostgreSQL): their shared lifecycle and diagnostics.

Each keeps its files in a temporary directory it owns, is used as a context manager,
and quotes the end of its log when it fails, because the log is the only place that
says why a server did not come up.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

HOST = "127.0.0.1"


class LocalServer:
    """A server started on demand; ``start``, ``stop`` and ``log_path`` are the subclass's."""

    #: The server's noun in messages about its log ("node", "server").
    noun: ClassVar[str] = "server"

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` of the log, for error messages; never raises."""
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):  # no log yet, or not started
            return f"(no {self.noun} log)"
        return "\n".join(text.splitlines()[-lines:]) or f"({self.noun} log is empty)"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port() -> int:
    """A loopback port free right now; the caller retries if it is taken before use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port

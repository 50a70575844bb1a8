"""Server processes for tests: the first stdout line says where they listen, and their
output is drained while they run.

A server whose stderr is a pipe nobody reads blocks on its next log line once
the pipe's buffer (64 KiB) is full, and a server that logs every request fills
it within a test module: the requests then hang until their client gives up.
So both pipes are read by threads from the start, and what the server wrote is
handed back when it stops.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO


class ServerProcess:
    """A started server: ``first_line`` is its first line of stdout ('' if it exited)."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
    ) -> None:
        self.process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.first_line = self.process.stdout.readline()
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=_drain, args=(self.process.stdout, self._out), daemon=True),
            threading.Thread(target=_drain, args=(self.process.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def stop(self, timeout: float = 30, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal it (if it still runs), wait, and return its exit code and its stderr."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        for reader in self._readers:
            reader.join(timeout=timeout)
        return code, "".join(self._err)


def _drain(pipe: IO[str], into: list[str]) -> None:
    with pipe:
        for line in pipe:
            into.append(line)

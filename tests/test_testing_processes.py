"""``fontana.testing.processes``: a chatty server never blocks on a pipe nobody reads."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from fontana.testing.processes import ServerProcess

CHATTY = """
import sys, pathlib, time
print("ready", flush=True)
for n in range(20_000):  # about 1.2 MB: far past a pipe's 64 KiB buffer
    print(f"request {n:06d} logged", file=sys.stderr, flush=True)
pathlib.Path(sys.argv[1]).write_text("done")
time.sleep(600)
"""


def test_a_server_that_logs_more_than_a_pipe_holds_keeps_running(tmp_path: Path) -> None:
    done = tmp_path / "done"
    server = ServerProcess([sys.executable, "-c", CHATTY, str(done)], dict(os.environ))
    assert server.first_line == "ready\n"
    try:
        for _ in range(6000):  # a blocked writer never gets here; the bound only ends the test
            if done.exists() or server.process.poll() is not None:
                break
            time.sleep(0.01)
        assert done.exists(), "the server blocked writing its log"
    finally:
        code, stderr = server.stop()
    assert code != 0  # stopped by the signal
    assert stderr.count("logged\n") == 20_000

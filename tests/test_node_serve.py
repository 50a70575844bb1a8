"""``fontana serve`` as a command: its ready line, its failures, and the same app under gunicorn."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ledger_helpers import ALICE, create_ledger, make_genesis, pub
from node_helpers import node_env

from fontana.clock import now_ms
from fontana.errors import EncodingError, RejectedError
from fontana.node import NodeClient
from fontana.node.errors import _error_classes, http_status
from fontana.testing.node import serve_node
from fontana.testing.requirements import require_external


def fontana(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fontana", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def chain_env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = create_ledger(url, tmp_path / "home", make_genesis(genesis_time_ms=now_ms()), now_ms)
    ledger.storage.close()
    return node_env(tmp_path / "home", url)


def test_the_ready_line_and_a_clean_stop(tmp_path: Path) -> None:
    env = chain_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fontana", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.split(" on ")[1].split(";")[0]
    assert line.startswith("serving chain fontana-test") and "OpenAPI at" in line
    assert NodeClient(url).balance(pub(ALICE)) == 1_000_000
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()
    assert proc.stderr is not None and proc.stderr.read() == ""
    proc.stderr.close()


def test_a_private_node_says_so(tmp_path: Path) -> None:
    with serve_node(chain_env(tmp_path), "--private") as node:
        assert NodeClient(node.url).status().private is True


def test_a_port_in_use(tmp_path: Path) -> None:
    env = chain_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = fontana("serve", "--port", port, "--json", env=env)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "listen_failed"
    result = fontana("serve", "--host", "256.1.1.1", "--port", "0", env=env)
    assert result.returncode == 1 and "error[listen_failed]" in result.stderr


def test_a_database_without_genesis(tmp_path: Path) -> None:
    env = node_env(tmp_path / "home", f"sqlite:///{tmp_path}/empty.db")
    result = fontana("serve", "--port", "0", env=env)
    assert result.returncode != 0 and "error[not_initialized]" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_options(tmp_path: Path) -> None:
    env = chain_env(tmp_path)
    for args in (["--port", "65536"], ["--port", "-1"], ["--threads", "0"], ["--port", "８０"]):
        result = fontana("serve", *args, env=env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, args


def test_every_error_code_has_its_documented_status() -> None:
    """docs/node.md, Errors: the status of every code the node or the ledger raises."""
    import fontana.node.client
    import fontana.smt  # noqa: F401  (VersionError)

    documented = {
        404: {"not_found", "not_final"},
        409: {"input_spent", "input_held", "payment_in_flight", "already_settled"}
        | {"duplicate_in_batch"},
        410: {"smt_version"},
        422: {"bad_receipt"},
        503: {"storage_unavailable", "not_initialized"},
    }
    for code, cls in _error_classes().items():
        status = http_status(cls("m"))
        expected = next((s for s, codes in documented.items() if code in codes), None)
        if expected is None and issubclass(cls, EncodingError):
            expected = 400
        elif expected is None and issubclass(cls, RejectedError):
            expected = 422
        if expected is not None:
            assert status == expected, code


def test_under_gunicorn(tmp_path: Path) -> None:
    """The documented production set-up: the same app, several gunicorn workers."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        require_external("gunicorn (pip install gunicorn)")
    env = chain_env(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "fontana.node:create_app(private=True)"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "Booting worker" in line:
                break
        client = NodeClient(f"http://127.0.0.1:{port}")
        status = client.status()
        assert status.private is True and client.balance(pub(ALICE)) == 1_000_000
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

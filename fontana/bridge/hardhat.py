"""A local EVM JSON-RPC node on loopback: hardhat 2 from ``contracts/node_modules``.

Used by ``fontana devnet --l1 evm`` and by the tests' fixtures (``fontana.testing.evm``).
Imports are stdlib only. The hardhat package is installed by ``npm ci --prefix contracts``.
Hardhat insists on a local installation next to its config file, so the node runs in a temp
dir holding a minimal config and a ``node_modules`` link; its home-directory files go there
too.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fontana.local_server import HOST, LocalServer, free_port

__all__ = [
    "CHAIN_ID",
    "CONTRACTS_DIR_ENV",
    "MNEMONIC",
    "HardhatNode",
    "HardhatNodeError",
    "find_contracts_dir",
    "find_hardhat",
    "rpc",
]

CONTRACTS_DIR_ENV = "FONTANA_CONTRACTS_DIR"
CHAIN_ID = 31337
#: hardhat's 20 funded accounts come from this public test mnemonic (their keys are public).
MNEMONIC = "test test test test test test test test test test test junk"
_CONFIG = """module.exports = {{
  networks: {{ hardhat: {{ chainId: {chain_id}, accounts: {{ mnemonic: "{mnemonic}" }} }} }},
}};
"""


class HardhatNodeError(RuntimeError):
    """The node could not be started or did not answer."""


def find_contracts_dir() -> Path | None:
    """The repository's ``contracts/`` (``$FONTANA_CONTRACTS_DIR`` wins), or None."""
    explicit = os.environ.get(CONTRACTS_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit)
    here = Path(__file__).resolve().parents[2] / "contracts"
    return here if (here / "package.json").is_file() else None


def find_hardhat() -> Path | None:
    """The locally installed hardhat executable, when node and the npm modules are there."""
    contracts = find_contracts_dir()
    if contracts is None or shutil.which("node") is None:
        return None
    hardhat = contracts / "node_modules" / ".bin" / "hardhat"
    return hardhat if os.access(hardhat, os.X_OK) else None


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 10.0) -> Any:
    """One JSON-RPC call over HTTP (stdlib only); raises HardhatNodeError on an error answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise HardhatNodeError(f"{method}: {answer['error']}")
    return answer["result"]


class HardhatNode(LocalServer):
    """``hardhat node`` on a free loopback port in a temp dir; a context manager.

    Automining: every transaction is mined in its own block at once. ``mine(n)`` adds
    empty blocks (confirmations); ``snapshot()``/``revert(id)`` isolate tests.
    """

    noun = "node"

    def __init__(
        self,
        hardhat: Path | str | None = None,
        *,
        chain_id: int = CHAIN_ID,
        start_attempts: int = 3,
        timeout: float = 90.0,
    ) -> None:
        self._hardhat_arg = Path(hardhat) if hardhat is not None else None
        self.chain_id = chain_id
        self._start_attempts = start_attempts
        self._timeout = timeout
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise HardhatNodeError("node is not running")
        return f"http://{HOST}:{self._port}"

    @property
    def log_path(self) -> Path:
        if self._dir is None:
            raise HardhatNodeError("node is not started")
        return self._dir / "hardhat.log"



    def start(self) -> HardhatNode:
        """Start the node and wait until it answers; on failure nothing is left behind."""
        if self._dir is not None:
            raise HardhatNodeError("node already started")
        hardhat = self._hardhat_arg or find_hardhat()
        if hardhat is None:
            raise HardhatNodeError("no hardhat found: run `npm ci --prefix contracts`")
        self._dir = Path(tempfile.mkdtemp(prefix="fontana-evm-"))
        atexit.register(self.stop)
        try:
            (self._dir / "hardhat.config.js").write_text(
                _CONFIG.format(chain_id=self.chain_id, mnemonic=MNEMONIC)
            )
            # Hardhat refuses a config whose directory cannot resolve hardhat itself.
            (self._dir / "node_modules").symlink_to(Path(hardhat).absolute().parent.parent)
            last: HardhatNodeError | None = None
            for _ in range(max(1, self._start_attempts)):
                try:
                    self._launch(Path(hardhat))
                    return self
                except HardhatNodeError as exc:
                    last = exc
                    self._kill()
            assert last is not None
            raise last
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the node and remove its temp dir. Safe to call twice."""
        if self._dir is None:
            return
        atexit.unregister(self.stop)
        try:
            self._kill()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- chain control (hardhat's own RPC methods)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return rpc(self.url, method, params)

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks at once."""
        self.rpc("hardhat_mine", [hex(blocks)])

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if self.rpc("evm_revert", [snapshot_id]) is not True:
            raise HardhatNodeError(f"evm_revert {snapshot_id} failed")

    # -- internals

    def _env(self) -> dict[str, str]:
        assert self._dir is not None
        home = self._dir / "home"
        home.mkdir(exist_ok=True)
        return {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
            "NO_COLOR": "1",
        }

    def _launch(self, hardhat: Path) -> None:
        assert self._dir is not None
        port = free_port()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [str(hardhat), "node", "--hostname", HOST, "--port", str(port)],
                cwd=self._dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends node's children too
            )
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HardhatNodeError(
                    f"hardhat exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            try:
                chain_id = int(rpc(url, "eth_chainId", timeout=2.0), 16)
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.1)
                continue
            if chain_id != self.chain_id:  # another node took the port meanwhile
                raise HardhatNodeError(f"port {port} answers with chain id {chain_id}")
            self._port = port
            return
        raise HardhatNodeError(f"hardhat did not answer in {self._timeout}s:\n{self.log_tail()}")

    def _kill(self) -> None:
        proc, self._proc, self._port = self._proc, None, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass



# --------------------------------------------------------------------------- pytest fixtures

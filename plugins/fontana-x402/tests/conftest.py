"""A real provider (Fontana's example app in its own process) on a fresh SQLite ledger."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from nacl.signing import SigningKey

from fontana.address import decode_address
from fontana.clock import now_ms
from fontana.config import load_settings
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import Allocation, Genesis
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.testing.processes import ServerProcess
from fontana.testing.requirements import require_external
from fontana.wallet import create_key

SERVER = Path(__file__).resolve().parent / "x402_provider.py"
#: Consumers, one UTXO of FUNDS each.
CONSUMERS = tuple(SigningKey(bytes([70 + n]) * 32) for n in range(6))
FUNDS = 1_000_000


@attrs.frozen
class Chain:
    ledger: Ledger
    genesis: Genesis
    url: str
    pay_to: bytes


@pytest.fixture(params=["flask", "wsgi"])
def chain(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Chain]:
    """A ledger and a provider process serving the example API with the given adapter."""
    adapter = request.param
    if adapter == "flask" and importlib.util.find_spec("fontana_flask") is None:
        require_external("fontana-flask (pip install -e plugins/fontana-flask)")
    home = tmp_path / "provider"
    home.mkdir()
    provider_key = create_key(home)
    url = f"sqlite:///{tmp_path}/ledger.db"
    genesis = Genesis(
        chain_id="fontana-x402",
        genesis_time_ms=now_ms(),
        sequencer=bytes(SigningKey(b"\x09" * 32).verify_key),
        da_namespace=b"\x00" * 9 + b"\x02",
        block_time_ms=6_000,
        min_fee=1,
        l1_confirmations=1,
        allocations=tuple(Allocation(bytes(k.verify_key), FUNDS) for k in CONSUMERS),
    )
    settings = load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home)
    storage = open_storage(settings, url)
    initialize(storage, PythonSMTProvider(), genesis)
    ledger = Ledger.load(storage, PythonSMTProvider())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTANA_")}
    env |= {"FONTANA_HOME": str(home), "FONTANA_STORAGE_URL": url}
    server = ServerProcess([sys.executable, str(SERVER), adapter], env)
    line = server.first_line
    try:
        assert line.startswith("listening on "), server.stop()[1]
        yield Chain(
            ledger,
            genesis,
            f"http://127.0.0.1:{int(line.split()[-1])}",
            decode_address(provider_key.address),
        )
    finally:
        _, err = server.stop()
        ledger.storage.close()
    assert "Traceback" not in err, err

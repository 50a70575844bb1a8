"""The dev node answers pycelestia's stock client with the shapes celestia-node uses."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from celestia.node_api import Client
from celestia.types.blob import Blob
from fontana_celestia.devstore import share_count
from fontana_celestia.namespace import v0_namespace
from fontana_celestia.testing import DevNode
from websockets.sync.client import connect

NS = v0_namespace(b"fontanatst")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _wire_blob(data: bytes) -> dict[str, object]:
    blob = Blob(NS, data)
    return {
        "namespace": _b64(NS),
        "data": _b64(data),
        "share_version": 0,
        "commitment": _b64(bytes(blob.commitment)),
        "index": None,
        "signer": None,
    }


def test_stock_client_reads_headers_blobs_and_balance(devnode: DevNode) -> None:
    async def session() -> None:
        async with Client(devnode.ws_url).connect() as api:
            submitted = await api.blob.submit(Blob(NS, b"one"), Blob(NS, b"two" * 300))
            height = submitted.height
            blobs = await api.blob.get_all(height, NS)
            assert [bytes(b.data) for b in blobs] == [b"one", b"two" * 300]
            assert [b.index for b in blobs] == [1, 2]  # share 0 holds the blob transactions
            assert tuple(b.commitment for b in blobs) == submitted.commitments
            got = await api.blob.get(height, NS, submitted.commitments[1])
            assert got is not None and bytes(got.data) == b"two" * 300
            assert await api.blob.get(height, NS, b"\x00" * 32) is None

            local, network = await api.header.local_head(), await api.header.network_head()
            assert int(local.header.height) >= height
            assert int(network.header.height) >= int(local.header.height)
            header = await api.header.get_by_height(height)
            assert header.header.height == str(height) == header.commit.height
            previous = await api.header.get_by_height(height - 1)
            assert header.header.last_block_id.hash == previous.commit.block_id.hash
            assert header.header.time.endswith("Z") and len(header.dah.row_roots) == 2
            waited = await api.header.wait_for_height(int(local.header.height) + 2)
            assert int(waited.header.height) == int(local.header.height) + 2

            balance = await api.state.balance()
            assert balance.denom == "utia" and balance.amount > 0

    asyncio.run(session())


def test_heights_advance_on_the_clock(tmp_path: Path) -> None:
    with DevNode(tmp_path, block_time_ms=50) as node:
        first = int(node.call("header.LocalHead")["header"]["height"])
        node.call("header.WaitForHeight", first + 3)
        assert int(node.call("header.LocalHead")["header"]["height"]) >= first + 3


def test_heights_and_blobs_persist_across_restarts(tmp_path: Path) -> None:
    node = DevNode(tmp_path)
    with node:
        height = node.call("blob.Submit", [_wire_blob(b"kept")], {})
    with node:
        assert node.config.port != 0
        assert int(node.call("header.LocalHead")["header"]["height"]) >= height
        [blob] = node.call("blob.GetAll", height, [_b64(NS)])
        assert blob["data"] == _b64(b"kept")


def test_node_computes_and_checks_commitments(devnode: DevNode) -> None:
    wire = _wire_blob(b"data")
    height = devnode.call("blob.Submit", [wire], {})
    [stored] = devnode.call("blob.GetAll", height, [_b64(NS)])
    assert stored["commitment"] == wire["commitment"]
    with pytest.raises(RuntimeError, match="blob: invalid commitment"):
        devnode.call("blob.Submit", [{**wire, "commitment": _b64(bytes(32))}], {})


@pytest.mark.parametrize(
    ("namespace", "error"),
    [
        (b"\x00" * 10, "invalid namespace length"),
        (b"\x01" + bytes(18) + b"fontanatst", "unsupported namespace version"),
        (bytes(28) + b"\x05", "reserved namespace"),
    ],
)
def test_bad_namespaces_are_refused(devnode: DevNode, namespace: bytes, error: str) -> None:
    with pytest.raises(RuntimeError, match=error):
        devnode.call("blob.Submit", [{**_wire_blob(b"x"), "namespace": _b64(namespace)}], {})


@pytest.mark.parametrize(
    ("method", "params", "error"),
    [
        ("blob.Submit", [[{**_wire_blob(b"x"), "data": ""}], {}], "zero blob size"),
        ("blob.Submit", [[], {}], "no blobs"),
        ("blob.Get", [0, "", ""], "height must be bigger than zero"),
        ("blob.GetAll", ["1", []], "unmarshaling params"),
        ("share.GetEDS", [1], "method 'share.GetEDS' not found"),
        ("devnode.InjectFault", [{"method": "blob.Submit", "count": 0}], "count must be >= 1"),
        ("devnode.InjectFault", [{"method": "blob.Submit", "eror": "x"}], "bad fault field"),
    ],
)
def test_malformed_calls_get_node_errors(
    devnode: DevNode, method: str, params: list[object], error: str
) -> None:
    with pytest.raises(RuntimeError, match=error):
        devnode.call(method, *params)


def test_faults_can_be_cleared(devnode: DevNode) -> None:
    devnode.inject_fault("header.LocalHead", count=3, error="boom")
    assert devnode.call("devnode.ClearFaults") == 3
    assert devnode.call("header.LocalHead")["header"]["height"]


def test_delay_fault_still_answers(devnode: DevNode) -> None:
    devnode.inject_fault("state.Balance", delay_ms=200)
    assert devnode.call("state.Balance")["denom"] == "utia"


def test_bad_token_fails_the_handshake(tmp_path: Path) -> None:
    with DevNode(tmp_path, auth_token="t") as node:
        with pytest.raises(Exception, match="HTTP 401"):
            connect(node.ws_url, additional_headers={"Authorization": "Bearer nope"})
        with connect(node.ws_url) as ws:
            ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "blob.Submit", "params": []}))
            answer = json.loads(ws.recv(timeout=5))
        assert (
            answer["error"]["message"]
            == "missing permission to invoke 'blob.Submit' (need 'write')"
        )
        assert node.call("state.Balance")["denom"] == "utia"


@pytest.mark.parametrize(("size", "shares"), [(1, 1), (478, 1), (479, 2), (960, 2), (961, 3)])
def test_share_count(size: int, shares: int) -> None:
    assert share_count(size) == shares

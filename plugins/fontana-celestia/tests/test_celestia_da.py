"""CelestiaDA through pycelestia's client against the dev node over a loopback WebSocket."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from fontana_celestia.da import CelestiaDA, websocket_url
from fontana_celestia.namespace import v0_namespace
from fontana_celestia.testing import DevNode

from fontana.errors import BlobTooLargeError, DAError, DAFatalError, DARetryableError
from fontana.interfaces import DALayer, DAReference


def find(da: CelestiaDA, blob: bytes, start: int) -> DAReference | None:
    """Where ``blob`` landed at or after ``start``, looked up as a recovering poster does."""
    commitment = da.commitment(blob)
    for height in range(start, da.head_height() + 1):
        for ref, data in da.list_at(height):
            if ref.commitment == commitment:
                assert data == blob
                return ref
    return None


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_is_a_da_layer(da: CelestiaDA) -> None:
    assert isinstance(da, DALayer)
    assert da.max_blob_size == 1_900_000


def test_submit_get_list_and_head(da: CelestiaDA, namespace: bytes) -> None:
    first, second = b"block one", os.urandom(5000)
    ref = da.submit(first)
    ref2 = da.submit(second)
    assert ref.namespace == v0_namespace(namespace) == bytes(19) + namespace
    assert (ref.commitment, ref2.commitment) == (da.commitment(first), da.commitment(second))
    assert ref2.height > ref.height >= 2
    assert da.get(ref) == first
    assert da.get(ref2) == second
    assert da.list_at(ref.height) == [(ref, first)]
    assert da.list_at(1) == []
    assert da.head_height() >= ref2.height


def test_blobs_of_one_height_come_back_in_order(da: CelestiaDA) -> None:
    blobs = [b"%d" % i * 100 for i in range(4)]
    refs: list[DAReference] = []
    threads = [threading.Thread(target=lambda b=b: refs.append(da.submit(b))) for b in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.commitment for r in refs) == sorted(da.commitment(b) for b in blobs)
    listed = [item for h in sorted({r.height for r in refs}) for item in da.list_at(h)]
    assert sorted(data for _, data in listed) == sorted(blobs)


def test_missing_blob_reads_as_none(da: CelestiaDA) -> None:
    ref = da.submit(b"present")
    assert da.get(DAReference(ref.height, da.commitment(b"absent"), ref.namespace)) is None
    assert da.get(DAReference(ref.height - 1, ref.commitment, ref.namespace)) is None


def test_reference_with_short_namespace_is_accepted(da: CelestiaDA, namespace: bytes) -> None:
    ref = da.submit(b"short ns")
    assert da.get(DAReference(ref.height, ref.commitment, namespace)) == b"short ns"


def test_blob_of_another_namespace_is_not_listed(devnode: DevNode, da: CelestiaDA) -> None:
    other = CelestiaDA(devnode.url, b"othernmspc", timeout_ms=10_000)
    try:
        ref = other.submit(b"not ours")
        assert da.list_at(ref.height) == []
        assert da.get(DAReference(ref.height, ref.commitment, da.namespace)) is None
    finally:
        other.close()


def test_height_from_the_future_is_retryable(da: CelestiaDA) -> None:
    with pytest.raises(DARetryableError, match="from the future"):
        da.list_at(da.head_height() + 1000)


def test_next_height_is_awaited(da: CelestiaDA) -> None:
    assert da.list_at(da.head_height() + 1) == []


def test_oversize_blob_is_refused_before_any_network_call() -> None:
    da = CelestiaDA(f"celestia+ws://127.0.0.1:{closed_port()}", b"fontanatst", max_blob_size=10)
    try:
        with pytest.raises(BlobTooLargeError, match="max_blob_size 10"):
            da.submit(b"x" * 11)
        with pytest.raises(DARetryableError):  # the same layer does reach for the network
            da.submit(b"x" * 10)
    finally:
        da.close()


def test_oversize_blob_is_refused_by_the_node(tmp_path: Path) -> None:
    with DevNode(tmp_path, max_blob_size=1000) as node:
        da = CelestiaDA(node.url, b"fontanatst")
        try:
            with pytest.raises(BlobTooLargeError, match="blob: over size limit"):
                da.submit(b"x" * 1001)
            assert da.get(da.submit(b"x" * 1000)) == b"x" * 1000
        finally:
            da.close()


def test_blob_near_the_size_limit_round_trips(da: CelestiaDA) -> None:
    blob = os.urandom(da.max_blob_size)
    ref = da.submit(blob)
    assert da.get(ref) == blob
    assert da.list_at(ref.height) == [(ref, blob)]


def test_auth_token_is_required(tmp_path: Path) -> None:
    with DevNode(tmp_path, auth_token="s3cret") as node:
        anonymous = CelestiaDA(node.url, b"fontanatst")
        wrong = CelestiaDA(node.url, b"fontanatst", auth_token="guess")
        right = CelestiaDA(node.url, b"fontanatst", auth_token="s3cret")
        try:
            with pytest.raises(DAFatalError, match="missing permission"):
                anonymous.head_height()
            with pytest.raises(DAFatalError, match="HTTP 401"):
                wrong.submit(b"blob")
            assert right.get(right.submit(b"blob")) == b"blob"
        finally:
            for layer in (anonymous, wrong, right):
                layer.close()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tx already in mempool", DARetryableError),
        ("timed out waiting for tx to be included in a block", DARetryableError),
        (
            "account sequence mismatch, expected 7, got 6: incorrect account sequence",
            DARetryableError,
        ),
        ("header: given height is from the future: networkHeight: 3", DARetryableError),
        ("blob: over size limit", BlobTooLargeError),
        ("invalid namespace length", DAFatalError),
        ("reserved namespace", DAFatalError),
        ("insufficient funds: spendable balance 0utia", DAFatalError),
        ("something no one has seen before", DAFatalError),
    ],
)
def test_node_errors_map_to_error_classes(
    devnode: DevNode, da: CelestiaDA, text: str, error: type[DAError]
) -> None:
    devnode.inject_fault("blob.Submit", error=text)
    with pytest.raises(DAError) as caught:
        da.submit(b"faulted")
    assert type(caught.value) is error
    assert text.lower() in caught.value.message.lower()
    assert da.get(da.submit(b"after the fault")) == b"after the fault"


def test_fault_applies_to_the_next_count_calls(devnode: DevNode, da: CelestiaDA) -> None:
    assert devnode.inject_fault("header.LocalHead", count=2, error="tx already in mempool") == 2
    for _ in range(2):
        with pytest.raises(DARetryableError):
            da.head_height()
    assert da.head_height() >= 1


def test_include_then_fail_leaves_the_blob_findable(devnode: DevNode, da: CelestiaDA) -> None:
    start = da.head_height()
    blob = b"posted but not acknowledged"
    devnode.inject_fault(include_then_fail=True)
    with pytest.raises(DARetryableError, match="timed out waiting for tx"):
        da.submit(blob)
    ref = find(da, blob, start)
    assert ref is not None and da.get(ref) == blob


def test_client_timeout_after_inclusion_is_retryable_and_blob_is_there(devnode: DevNode) -> None:
    da = CelestiaDA(devnode.url, b"fontanatst", timeout_ms=300)
    try:
        start = da.head_height()
        devnode.inject_fault(include_then_fail=True, delay_ms=1000)
        with pytest.raises(DARetryableError):
            da.submit(b"slow ack")
        assert find(da, b"slow ack", start) is not None
    finally:
        da.close()


def test_dropped_connection_is_retryable_then_reconnects(devnode: DevNode, da: CelestiaDA) -> None:
    start = da.head_height()
    devnode.inject_fault(include_then_fail=True, drop=True)
    with pytest.raises(DARetryableError, match="transport closed"):
        da.submit(b"cut off")
    assert find(da, b"cut off", start) is not None
    devnode.inject_fault(drop=True)
    with pytest.raises(DARetryableError):
        da.submit(b"never sent")
    assert find(da, b"never sent", start) is None


def test_refused_connection_is_retryable() -> None:
    da = CelestiaDA(f"celestia+ws://127.0.0.1:{closed_port()}", b"fontanatst")
    try:
        with pytest.raises(DARetryableError, match="unreachable"):
            da.head_height()
    finally:
        da.close()


def test_blobs_survive_a_dev_node_restart(devnode: DevNode, da: CelestiaDA) -> None:
    ref = da.submit(b"durable")
    devnode.restart()
    assert da.get(ref) == b"durable"  # the same layer reconnects by itself
    assert da.head_height() >= ref.height
    later = da.submit(b"after restart")
    assert later.height > ref.height
    assert da.list_at(ref.height) == [(ref, b"durable")]


def test_commitment_is_local_and_matches_the_node(da: CelestiaDA) -> None:
    blob = os.urandom(3000)
    expected = da.commitment(blob)
    assert len(expected) == 32
    assert da.submit(blob).commitment == expected


@pytest.mark.parametrize("bad", [b"short", b"x" * 11, bytes(9) + b"\x01"])
def test_bad_namespace_is_fatal(bad: bytes) -> None:
    with pytest.raises(DAFatalError, match="bad namespace"):
        CelestiaDA("celestia+ws://127.0.0.1:1", bad)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("celestia+ws://node:26658", "ws://node:26658"),
        ("celestia+wss://node.example:443", "wss://node.example:443"),
        ("celestia://127.0.0.1:26658", "ws://127.0.0.1:26658"),
    ],
)
def test_websocket_url(url: str, expected: str) -> None:
    assert websocket_url(url) == expected


@pytest.mark.parametrize("url", ["http://node:26658", "celestia+ws://", "celestia"])
def test_bad_url_is_fatal(url: str) -> None:
    with pytest.raises(DAFatalError, match="not a celestia-node URL"):
        websocket_url(url)


def test_close_is_idempotent_and_final(da: CelestiaDA) -> None:
    da.head_height()
    da.close()
    da.close()
    with pytest.raises(DAFatalError, match="closed"):
        da.head_height()

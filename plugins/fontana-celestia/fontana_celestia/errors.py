"""Turn celestia-node's error texts into Fontana's retryable/fatal DA errors.

celestia-node reports failures as free text in JSON-RPC errors, so matching on
known fragments is the only contract there is. Unknown texts are fatal: a
permanent error (no funds, a bad namespace, a new node rule) taken for a
passing one would be retried quietly forever, while a fatal one alerts the
operator at once. Nothing is lost either way: the poster finds a blob an
earlier attempt did post by its commitment before posting it again.
"""

from __future__ import annotations

from fontana.errors import BlobTooLargeError, DAError, DAFatalError, DARetryableError

#: Fragments of passing failures: mempool or sequencing races, slow inclusion, a lagging node.
RETRYABLE_TEXTS = (
    "tx already in mempool",
    "timed out waiting for tx to be included in a block",
    "incorrect account sequence",
    "given height is from the future",
    "mempool is full",
    "context deadline exceeded",
)
#: Fragments that mean the blob (or its transaction) is too big for the network.
TOO_LARGE_TEXTS = ("blob: over size limit", "tx too large")


def from_node_text(text: str) -> DAError:
    """The error for one celestia-node error message."""
    lowered = text.lower()
    message = f"celestia-node: {text}"
    if any(fragment in lowered for fragment in TOO_LARGE_TEXTS):
        return BlobTooLargeError(message)
    if any(fragment in lowered for fragment in RETRYABLE_TEXTS):
        return DARetryableError(message)
    return DAFatalError(message)

"""The route table: every endpoint once, with what its OpenAPI operation documents.

Routing is exact: a path matches a template only segment by segment, literal
segments before ``{values}``; each value is parsed by its declared parser before
the view runs. ``/openapi.json`` is built from this same table (``openapi.py``),
and a test calls every operation it documents on a running server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from fontana.errors import EncodingError
from fontana.node import payments, views
from fontana.node.request import parse_address, parse_height, parse_index, parse_txid, parse_u64
from fontana.node.views import MAX_UTXOS, Call, Node, Reply

View = Callable[[Node, Call], Reply]


@attrs.frozen
class Param:
    """A path or query value: how it is parsed and what OpenAPI says of it."""

    parse: Callable[[str], Any]
    schema: str
    description: str


def _limit(text: str) -> int:
    value = parse_u64(text, "limit")
    if not 1 <= value <= MAX_UTXOS:
        raise EncodingError(f"limit {value} is not in 1..{MAX_UTXOS}")
    return value


PATH_PARAMS: Final[Mapping[str, Param]] = {
    "address": Param(parse_address, "Address", "an fnt1... address"),
    "txid": Param(parse_txid, "Hex32", "a txid (or any entry id): 64 lower-case hex digits"),
    "height": Param(parse_height, "Height", "a block height in decimal"),
    "index": Param(parse_index, "U16", "an output index, 0..65535"),
}


@attrs.frozen
class Route:
    method: str
    path: str
    view: View
    summary: str
    #: Schema of the 200 answer, and of the request body (POST).
    ok: str
    body: str | None = None
    query: Mapping[str, Param] = attrs.field(factory=dict)
    #: Error statuses this route answers beyond those every route may (400, 500, 503).
    errors: tuple[int, ...] = ()
    tag: str = "ledger"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.split("/")[1:])

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(s[1:-1] for s in self.segments if s.startswith("{"))


_HEIGHT_QUERY: Final = Param(
    parse_height, "Height", "the block height to prove at (default: the latest block)"
)
_LIMIT_QUERY: Final = Param(_limit, "Limit", f"at most this many (1..{MAX_UTXOS}, the default)")

ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "GET",
        "/v1/status",
        views.status,
        "The chain, its latest block, the open block, how far DA has it, the node's clock",
        "Status",
    ),
    Route(
        "GET",
        "/v1/genesis",
        views.genesis,
        "The genesis this node's ledger was created from",
        "GenesisReply",
    ),
    Route(
        "GET",
        "/v1/addresses/{address}/balance",
        views.balance,
        "Spendable balance of an address",
        "Balance",
    ),
    Route(
        "GET",
        "/v1/addresses/{address}/utxos",
        views.utxos,
        "Unspent outputs of an address, oldest first",
        "UtxoList",
        query={"limit": _LIMIT_QUERY},
    ),
    Route(
        "POST",
        "/v1/transactions",
        views.submit,
        "Apply a signed transfer, split or withdrawal burn (payments go to their provider)",
        "Submitted",
        body="SubmitRequest",
        errors=(409, 411, 413, 415, 422),
    ),
    Route(
        "GET",
        "/v1/transactions/{txid}",
        views.transaction,
        "Where a transaction (or any entry) is: unknown, pending, sealed, or on DA",
        "TransactionStatus",
    ),
    Route(
        "GET",
        "/v1/blocks/{height}",
        views.block,
        "A block, with where it sits on DA",
        "BlockReply",
        errors=(404,),
    ),
    Route(
        "GET",
        "/v1/proofs/utxos/{txid}/{index}",
        views.utxo_proof,
        "Inclusion or non-inclusion proof of an output in the state root of a block",
        "UtxoProof",
        query={"height": _HEIGHT_QUERY},
        errors=(404, 410),
    ),
    Route(
        "POST",
        "/v1/payments/hold",
        payments.hold,
        "Hold a payment's inputs while its provider serves the call (docs/payments.md, 1.1)",
        "HoldResult",
        body="HoldRequest",
        errors=(409, 411, 413, 415, 422),
        tag="payments",
    ),
    Route(
        "POST",
        "/v1/payments/settle",
        payments.settle,
        "Apply a payment with its payee's receipt for the call it is bound to",
        "Submitted",
        body="SettleRequest",
        errors=(409, 411, 413, 415, 422),
        tag="payments",
    ),
    Route(
        "POST",
        "/v1/payments/release",
        payments.release,
        "Drop a payment's holds: its call failed (private nodes only)",
        "Released",
        body="ReleaseRequest",
        errors=(403, 411, 413, 415),
        tag="payments",
    ),
    Route(
        "GET",
        "/v1/payments/{txid}",
        payments.settled,
        "A settled payment's receipt (and, from a private node, its cached response)",
        "SettledPayment",
        errors=(404,),
        tag="payments",
    ),
    Route(
        "GET",
        "/v1/receipts/{txid}",
        payments.final_receipt,
        "The final receipt of a settled payment once its block is on DA",
        "FinalReceiptReply",
        errors=(404,),
        tag="payments",
    ),
)


def match(routes: tuple[Route, ...], segments: tuple[str, ...]) -> tuple[Route, ...]:
    """The routes of the most specific template that ``segments`` fit (empty if none)."""
    best: tuple[Route, ...] = ()
    best_literals = -1
    for route in routes:
        template = route.segments
        if len(template) != len(segments):
            continue
        literals = 0
        for want, got in zip(template, segments, strict=True):
            if want.startswith("{"):
                if not got:
                    break
            elif want != got:
                break
            else:
                literals += 1
        else:
            if literals > best_literals:
                best, best_literals = (route,), literals
            elif literals == best_literals and route.segments == best[0].segments:
                best = (*best, route)
    return best

"""The payment endpoints (a provider's hold, settle, release) and final receipts.

Who may call what (docs/node.md, *Who can call what*): the node holds no
secrets, so every check is on signatures. A hold needs a payment its payer
signed; a settle stores a receipt only if the payment's payee signed it, for
the very call the payment is bound to. Paid responses and releasing holds are
a *private* node's (``fontana serve --private``, reachable by providers only):
anyone knowing a txid could read a stored response, and a payer who could
release its own hold could spend the input again while the provider serves.
"""

from __future__ import annotations

from typing import Any, Final

from fontana.errors import EncodingError, ReceiptError
from fontana.ledger.holds import CachedResponse, HoldResult, SettledPayment
from fontana.models import PaymentBinding, SignedReceipt, Transaction, TxKind, verify_receipt
from fontana.models._base import json_fields, json_hex, json_int, json_str, json_u64
from fontana.node.errors import NotFinalError, NotFoundError, RequestError, WrongKindError
from fontana.node.request import transaction_field
from fontana.node.views import Call, Node, Reply, applied_json

#: The largest response body a private node keeps for retries (the charger's default cache).
MAX_CACHED_BODY: Final = 64 * 1024
#: A settle's request: a transaction, a receipt and a cached response (hex doubles it).
MAX_SETTLE_BODY: Final = 256 * 1024


def _payment(value: Any) -> Transaction:
    tx = transaction_field(value, "transaction")
    if tx.kind != TxKind.PAYMENT:
        raise WrongKindError(
            f"a {tx.kind.name.lower()} is not a payment: submit it to /v1/transactions"
        )
    return tx


def check_receipt(node: Node, tx: Transaction, signed: SignedReceipt) -> None:
    """The receipt is the payee's, for this payment and the call it is bound to.

    The payee is the ``pay_to`` of the payment's binding, which the payer
    signed (as ``payload_hash``): so only the provider the payer meant to pay
    can settle it, and only with a receipt naming the call that was paid for.
    """
    r = signed.receipt
    ledger = node.ledger
    if r.chain_id != ledger.chain_id:
        raise ReceiptError(
            f"receipt.chain_id: {r.chain_id!r} is not this chain's {ledger.chain_id!r}",
            check="receipt_chain",
        )
    if r.txid != tx.txid:
        raise ReceiptError(
            f"receipt.txid: {r.txid.hex()} is not the payment {tx.txid.hex()}", check="txid"
        )
    binding = PaymentBinding(r.payee, r.amount, r.method, r.resource)
    if binding.payload_hash != tx.payload_hash:
        raise ReceiptError(
            "receipt: payee, amount, method and resource are not the call the payment is "
            "bound to (its payload_hash)",
            check="binding",
        )
    paid = sum(o.amount for o in tx.outputs if o.owner == r.payee)
    if paid != r.amount:
        raise ReceiptError(
            f"receipt.amount: the payment pays the payee {paid} utia, not {r.amount}",
            check="amount",
        )
    if r.payer not in {w.pubkey for w in tx.witnesses}:
        raise ReceiptError("receipt.payer: did not sign the payment", check="payer")
    verify_receipt(signed, ledger.genesis_hash)


def _response(value: Any) -> CachedResponse | None:
    if value is None:
        return None
    d = json_fields(value, "response", ("status", "content_type", "body"))
    body = json_hex(d["body"], "response.body")
    if len(body) > MAX_CACHED_BODY:
        raise EncodingError(
            f"response.body: {len(body)} bytes; a node keeps at most {MAX_CACHED_BODY}"
        )
    return CachedResponse(
        json_int(d["status"], 16, "response.status"),
        json_str(d["content_type"], "response.content_type"),
        body,
    )


def settled_json(settled: SettledPayment, private: bool) -> dict[str, Any]:
    """A settled payment; its response only from a private node."""
    response = settled.response if private else None
    return {
        "txid": settled.txid.hex(),
        "receipt": settled.receipt.hex(),
        "response": None
        if response is None
        else {
            "status": response.status,
            "content_type": response.content_type,
            "body": response.body.hex(),
        },
    }


def _hold_json(result: HoldResult, private: bool) -> dict[str, Any]:
    return {
        "state": result.state,
        "txid": result.txid.hex(),
        "until_ms": str(result.until_ms),
        "settled": None if result.settled is None else settled_json(result.settled, private),
    }


def hold(node: Node, call: Call) -> Reply:
    body = call.body("transaction", "until_ms")
    tx = _payment(body["transaction"])
    until_ms = json_u64(body["until_ms"], "until_ms")
    return 200, _hold_json(node.ledger.hold(tx, until_ms), node.private)


def settle(node: Node, call: Call) -> Reply:
    body = call.body("transaction", "receipt", "response", limit=MAX_SETTLE_BODY)
    tx = _payment(body["transaction"])
    receipt = json_hex(body["receipt"], "receipt")
    check_receipt(node, tx, SignedReceipt.from_bytes(receipt))
    response = _response(body["response"])
    return 200, applied_json(node.ledger.settle(tx, receipt, response if node.private else None))


def release(node: Node, call: Call) -> Reply:
    if not node.private:
        raise RequestError(
            "a public node releases no holds (they end at their expiry); a private node "
            "(fontana serve --private), reachable by providers only, does",
            code="private_only",
            status=403,
        )
    txid = json_hex(call.body("txid")["txid"], "txid", 32)
    return 200, {"txid": txid.hex(), "released": node.ledger.release(txid)}


def settled(node: Node, call: Call) -> Reply:
    txid: bytes = call.params["txid"]
    found = node.ledger.settled(txid)
    if found is None:
        raise NotFoundError(f"no settled payment {txid.hex()}")
    return 200, settled_json(found, node.private)


def final_receipt(node: Node, call: Call) -> Reply:
    txid: bytes = call.params["txid"]
    final = node.ledger.final_receipt(txid)
    if final is None:
        if node.ledger.settled(txid) is None:
            raise NotFoundError(f"no settled payment {txid.hex()}")
        raise NotFinalError(f"payment {txid.hex()} is settled; its block is not on DA yet")
    return 200, {"txid": txid.hex(), "final_receipt": final.to_json()}

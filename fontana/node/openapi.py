"""The OpenAPI 3.1 document of the node API, built from the route table it describes.

Schemas are JSON Schema 2020-12. Values follow the JSON forms of
``docs/protocol.md``: u64 values (amounts, heights, times) are decimal strings,
bytes are lower-case hex, accounts are ``fnt1...`` addresses. The models'
own JSON forms (a transaction, block, genesis, receipt) are described there,
field by field; here they are objects that point to it.
"""

from __future__ import annotations

from typing import Any, Final

from fontana import __version__
from fontana.node.payments import MAX_SETTLE_BODY
from fontana.node.request import MAX_BODY, MAX_JSON_DEPTH
from fontana.node.routes import PATH_PARAMS, Route
from fontana.node.views import MAX_UTXOS

OPENAPI_VERSION: Final = "3.1.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": required,
        "required": list(required),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _nullable(name: str) -> dict[str, Any]:
    return {"oneOf": [_ref(name), {"type": "null"}]}


def _model(name: str) -> dict[str, Any]:
    return {"type": "object", "description": f"the JSON form of {name} (docs/protocol.md, 5)"}


SCHEMAS: Final[dict[str, Any]] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                    "message": {"type": "string"},
                }
            )
        },
        "every failure; `code` is stable and machine-readable (docs/node.md, Errors)",
    ),
    "OpenAPI": {"type": "object", "description": "an OpenAPI 3.1 document"},
    "U64": {"type": "string", "pattern": "^(0|[1-9][0-9]{0,19})$", "description": "u64, decimal"},
    "U16": {"type": "integer", "minimum": 0, "maximum": 65535},
    "Height": {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
    "Limit": {"type": "integer", "minimum": 1, "maximum": MAX_UTXOS},
    "Hex": {"type": "string", "pattern": "^([0-9a-f]{2})*$"},
    "Hex32": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "Address": {"type": "string", "pattern": "^fnt1[02-9ac-hj-np-z]{58}$"},
    "Transaction": {
        "oneOf": [_ref("Hex"), _model("Transaction")],
        "description": "a signed transaction: hex of its canonical bytes, or its JSON form",
    },
    "DAReference": _object(
        {"height": _ref("U64"), "commitment": _ref("Hex"), "namespace": _ref("Hex")},
        "where a block's blob sits on the DA layer",
    ),
    "Status": _object(
        {
            "chain_id": {"type": "string"},
            "genesis_hash": _ref("Hex32"),
            "sequencer": _ref("Address"),
            "da_namespace": _ref("Hex"),
            "min_fee": _ref("U64"),
            "block_time_ms": {"type": "integer"},
            "latest_block": _object(
                {
                    "height": _ref("U64"),
                    "hash": _ref("Hex32"),
                    "state_root": _ref("Hex32"),
                    "timestamp_ms": _ref("U64"),
                    "tx_count": {"type": "integer"},
                }
            ),
            "open_height": _ref("U64"),
            "posted_height": _ref("U64"),
            "supply": _ref("U64"),
            "time_ms": _ref("U64"),
            "private": {
                "type": "boolean",
                "description": "a providers-only node: keeps paid responses, releases holds",
            },
            "version": {"type": "string"},
        }
    ),
    "GenesisReply": _object({"genesis_hash": _ref("Hex32"), "genesis": _model("Genesis")}),
    "Balance": _object({"address": _ref("Address"), "balance": _ref("U64")}),
    "Utxo": _object(
        {
            "owner": _ref("Address"),
            "amount": _ref("U64"),
            "txid": _ref("Hex32"),
            "index": _ref("U16"),
        }
    ),
    "UtxoList": _object(
        {
            "address": _ref("Address"),
            "utxos": {"type": "array", "items": _ref("Utxo")},
            "more": {"type": "boolean", "description": "whether the limit left some out"},
        }
    ),
    "SubmitRequest": _object({"transaction": _ref("Transaction")}),
    "Submitted": _object(
        {
            "txid": _ref("Hex32"),
            "seq": _ref("U64"),
            "fee": _ref("U64"),
            "already_applied": {
                "type": "boolean",
                "description": "a resubmission; nothing changed",
            },
        }
    ),
    "TransactionStatus": _object(
        {
            "txid": _ref("Hex32"),
            "state": {"enum": ["unknown", "pending", "sealed", "on_da"]},
            "seq": _nullable("U64"),
            "block_height": _nullable("U64"),
            "da": _nullable("DAReference"),
        }
    ),
    "BlockReply": _object(
        {
            "height": _ref("U64"),
            "hash": _ref("Hex32"),
            "da": _nullable("DAReference"),
            "block": _model("Block"),
        }
    ),
    "UtxoProof": _object(
        {
            "txid": _ref("Hex32"),
            "index": _ref("U16"),
            "height": _ref("U64"),
            "state_root": _ref("Hex32"),
            "key": _ref("Hex32"),
            "value_hash": _nullable("Hex32"),
            "utxo": _nullable("Utxo"),
            "proof": _ref("Hex"),
        },
        "value_hash and utxo are null for a non-inclusion proof (docs/smt.md)",
    ),
    "CachedResponse": _object(
        {
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "content_type": {"type": "string"},
            "body": _ref("Hex"),
        },
        "a paid call's response, kept for retries by private nodes only",
    ),
    "SettledPayment": _object(
        {
            "txid": _ref("Hex32"),
            "receipt": {**_ref("Hex"), "description": "the canonical SignedReceipt"},
            "response": _nullable("CachedResponse"),
        }
    ),
    "HoldRequest": _object({"transaction": _ref("Transaction"), "until_ms": _ref("U64")}),
    "HoldResult": _object(
        {
            "state": {"enum": ["held", "settled"]},
            "txid": _ref("Hex32"),
            "until_ms": _ref("U64"),
            "settled": _nullable("SettledPayment"),
        },
        "held until until_ms, or settled before (then until_ms is 0)",
    ),
    "SettleRequest": _object(
        {
            "transaction": _ref("Transaction"),
            "receipt": {**_ref("Hex"), "description": "the canonical SignedReceipt"},
            "response": _nullable("CachedResponse"),
        }
    ),
    "ReleaseRequest": _object({"txid": _ref("Hex32")}),
    "Released": _object(
        {"txid": _ref("Hex32"), "released": {"type": "boolean", "description": "a hold was live"}}
    ),
    "FinalReceiptReply": _object({"txid": _ref("Hex32"), "final_receipt": _model("FinalReceipt")}),
}

_ERRORS: Final = {
    400: "malformed request: bad JSON, hex, address, number or unknown key (code says which)",
    403: "a public node's refusal of a private node's call (docs/node.md)",
    404: "no such route or resource",
    405: "the path exists, the method does not (see Allow)",
    409: "conflicts with the ledger's state: input spent or held, payment in flight",
    410: "the state at that height is pruned",
    411: "a POST without Content-Length",
    413: f"body above the endpoint's limit ({MAX_BODY} bytes; {MAX_SETTLE_BODY} for a settle)",
    415: "body not application/json",
    422: "refused by the ledger's rules (code says which)",
    500: "internal error (logged by the node; nothing is exposed)",
    503: "the ledger's database is unavailable; retry later",
}


def _operation(route: Route) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": PATH_PARAMS[name].description,
            "schema": _ref(PATH_PARAMS[name].schema),
        }
        for name in route.params
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": p.description,
            "schema": _ref(p.schema),
        }
        for name, p in route.query.items()
    ]
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": _ref(route.ok)}}}
    }
    for status in sorted({400, 500, 503, *route.errors}):
        responses[str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    operation: dict[str, Any] = {
        "operationId": route.view.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    return operation


def build_document(routes: tuple[Route, ...], schemas: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document of ``routes``; ``schemas`` holds every schema they name."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Fontana node API",
            "version": __version__,
            "description": (
                "Reads of the ledger, transaction submission, and the payment calls of "
                "providers that reach the ledger through a node (docs/node.md). Request "
                f"bodies: at most {MAX_BODY} bytes of UTF-8 JSON, nested at most "
                f"{MAX_JSON_DEPTH} deep, with exactly the documented keys."
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }

"""The node API's own errors, the HTTP status of every error code, and the way back.

The server answers every failure as ``{"error": {"code", "message"}}`` with the
status :func:`http_status` gives; :func:`error_from_code` turns the code back
into the same :class:`~fontana.errors.FontanaError` subclass on the client, so
a caller of :class:`~fontana.node.client.NodeClient` catches exactly what it
would catch calling the ledger directly.
"""

from __future__ import annotations

from typing import Final

from fontana.errors import EncodingError, FontanaError, RejectedError, StorageError


class RequestError(EncodingError):
    """An HTTP request the API cannot take: its status says why (too large, wrong type...)."""

    status: int = 400

    def __init__(
        self, message: str, *, code: str, status: int, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        #: Headers the answer carries (``Allow`` of a 405).
        self.headers = headers


class NotFoundError(FontanaError, LookupError):
    """No such route, block, receipt or settled payment."""

    code = "not_found"


class NotFinalError(NotFoundError):
    """The payment is settled, but the block that holds it is not on DA yet."""

    code = "not_final"


class WrongKindError(RejectedError):
    """A payment sent to ``/v1/transactions``, or another kind sent to ``/v1/payments``."""

    code = "wrong_kind"


class NodeError(FontanaError):
    """The node could not be asked, or answered something that is not the API."""

    code = "node_error"
    exit_code = 69  # EX_UNAVAILABLE


class NodeUnavailableError(NodeError):
    """Connection refused, reset or timed out; the request may or may not have arrived."""

    code = "node_unavailable"


class NodeResponseError(NodeError):
    """The answer is not what the API documents (not JSON, wrong shape, too large)."""

    code = "bad_node_response"


#: Codes whose status is not their class's (below). Codes of other parts are named
#: here by text so the node needs none of their modules to answer them.
_STATUS_BY_CODE: Final = {
    "not_found": 404,
    "not_final": 404,
    "input_spent": 409,
    "input_held": 409,
    "payment_in_flight": 409,
    "already_settled": 409,
    "duplicate_in_batch": 409,
    "bad_receipt": 422,
    "smt_version": 410,
    "not_initialized": 503,
}


def http_status(exc: FontanaError) -> int:
    """The status of an error: 400 malformed, 409 conflicting state, 422 refused, 503 down."""
    if isinstance(exc, RequestError):
        return exc.status
    status = _STATUS_BY_CODE.get(exc.code)
    if status is not None:
        return status
    if isinstance(exc, EncodingError):
        return 400
    if isinstance(exc, RejectedError):
        return 422
    if isinstance(exc, StorageError):
        return 503
    return 500


def _error_classes() -> dict[str, type[FontanaError]]:
    """Every loaded error class by the code it declares, bases before subclasses."""
    found: dict[str, type[FontanaError]] = {}
    queue: list[type[FontanaError]] = [FontanaError]
    while queue:
        cls = queue.pop(0)
        if "code" in cls.__dict__ and cls is not RequestError:
            found.setdefault(cls.code, cls)
        queue.extend(cls.__subclasses__())
    return found


def error_from_code(code: str, message: str) -> FontanaError:
    """The typed error the server raised for ``code`` (a plain FontanaError if unknown here)."""
    import fontana.smt  # noqa: F401  (registers VersionError, whose code proofs may answer)

    cls = _error_classes().get(code)
    try:
        exc = cls(message) if cls is not None else FontanaError(message, code=code)
    except TypeError:  # a subclass with its own constructor
        exc = FontanaError(message, code=code)
    exc.code = code
    return exc

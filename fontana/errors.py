"""Typed errors with stable machine-readable codes.

Every error a user can trigger is a ``FontanaError`` subclass carrying a
``code`` (stable across releases, used in HTTP bodies and ``--json`` output)
and an ``exit_code`` for the CLI. Rejections never change state.
"""

from __future__ import annotations


class FontanaError(Exception):
    """Base of every error Fontana raises on purpose."""

    code: str = "error"
    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# --- configuration and plugins -------------------------------------------


class ConfigError(FontanaError):
    """A configuration value is missing, malformed or out of range."""

    code = "config_invalid"
    exit_code = 78  # EX_CONFIG


class UnknownBackendError(ConfigError):
    """No installed plugin provides the requested backend."""

    code = "unknown_backend"


class PluginError(FontanaError):
    """A plugin failed to load or raised inside a hook (strict mode only)."""

    code = "plugin_error"


# --- encodings ------------------------------------------------------------


class EncodingError(FontanaError, ValueError):
    """Bytes or JSON that are not in the one canonical form."""

    code = "malformed"
    exit_code = 65  # EX_DATAERR


class AddressError(EncodingError):
    """A text address with a bad prefix, checksum or length."""

    code = "bad_address"


class AmountError(EncodingError):
    """An amount that is not a positive integer number of utia in range."""

    code = "bad_amount"


# --- wallet ---------------------------------------------------------------


class WalletError(FontanaError):
    code = "wallet_error"


class KeyExistsError(WalletError):
    code = "key_exists"


class KeyNotFoundError(WalletError):
    code = "key_not_found"


class KeyFileCorruptError(WalletError):
    code = "key_corrupt"


class KeyFilePermissionError(WalletError):
    code = "key_permissions"


class WrongPassphraseError(WalletError):
    code = "wrong_passphrase"


# --- storage --------------------------------------------------------------


class StorageError(FontanaError):
    code = "storage_error"


class NotInitializedError(StorageError):
    code = "not_initialized"


class SchemaVersionError(StorageError):
    """The database was written by a newer (or unknown) schema version."""

    code = "schema_version"


class DuplicateError(StorageError):
    """A record with the same identity exists already."""

    code = "duplicate"


class StorageUnavailableError(StorageError):
    """The database failed underneath: unreachable, refused, a disk or lock failure."""

    code = "storage_unavailable"
    exit_code = 69  # EX_UNAVAILABLE


# --- data availability ------------------------------------------------------


class DAError(FontanaError):
    """A DA layer refused or failed an operation."""

    code = "da_error"

    #: Whether trying the same call again later can succeed.
    retryable: bool = False


class DARetryableError(DAError):
    """A passing failure: timeout, mempool congestion, node briefly unavailable."""

    code = "da_retryable"
    retryable = True


class DAFatalError(DAError):
    """A failure that repeating the same call cannot fix (bad auth, bad namespace)."""

    code = "da_fatal"


class BlobTooLargeError(DAFatalError):
    """The blob exceeds the layer's size limit; the block must be cut smaller."""

    code = "blob_too_large"


# --- the L1 (vault chain) ---------------------------------------------------


class L1Error(FontanaError):
    """An L1 node refused or failed a request, or answered what no node should."""

    code = "l1_error"

    #: Whether the same request later can succeed; the watcher retries those.
    retryable: bool = False


class L1UnavailableError(L1Error):
    """The L1 node cannot be reached or timed out; the watcher backs off and retries."""

    code = "l1_unavailable"
    exit_code = 69  # EX_UNAVAILABLE
    retryable = True


class L1MismatchError(L1Error):
    """The ledger follows another L1 or vault than the one configured now."""

    code = "l1_mismatch"
    exit_code = 78  # EX_CONFIG


# --- ledger rejections (codes are part of the public API) -----------------


class RejectedError(FontanaError):
    """The ledger refused a state change; nothing was written."""

    code = "rejected"
    exit_code = 2


class BadSignatureError(RejectedError):
    code = "bad_signature"


class UnknownInputError(RejectedError):
    code = "unknown_input"


class InputSpentError(RejectedError):
    code = "input_spent"


class InsufficientFundsError(RejectedError):
    code = "insufficient_funds"


class WrongChainError(RejectedError):
    code = "wrong_chain"


class ExpiredError(RejectedError):
    code = "expired"


class FeeTooLowError(RejectedError):
    code = "fee_too_low"


class ValueMismatchError(RejectedError):
    """Inputs do not equal outputs plus fee (plus any burn)."""

    code = "value_mismatch"


class DepositConflictError(RejectedError):
    """The same L1 event arrives again with different contents."""

    code = "deposit_conflict"


class UnknownWithdrawalError(RejectedError):
    """A withdrawal event names a burn the ledger never saw."""

    code = "unknown_withdrawal"


class AmountOverflowError(RejectedError):
    """A sum of amounts beyond what the ledger can hold (2**63 - 1 utia)."""

    code = "amount_overflow"


class DuplicateInBatchError(RejectedError):
    """A transaction repeated within one batch: the first copy is judged, the others refused."""

    code = "duplicate_in_batch"


class OutOfRangeError(RejectedError):
    """A u64 field (time, L1 block, DA height...) beyond the 2**63 - 1 the ledger stores."""

    code = "out_of_range"


class InputHeldError(RejectedError):
    """An input is held by another payment in flight (a paid call being served) until it
    settles, is released or its hold expires."""

    code = "input_held"


class PaymentInFlightError(RejectedError):
    """This very payment is held already: a call it pays for is being served; retry later."""

    code = "payment_in_flight"


class AlreadySettledError(RejectedError):
    """The payment was applied outside a paid call (submitted directly): it buys no call."""

    code = "already_settled"


class ReceiptMismatchError(RejectedError):
    """A receipt handed to ``settle`` does not decode or is not for the payment settled."""

    code = "receipt_mismatch"


class RecoveryError(FontanaError):
    """Data on DA does not rebuild the chain it claims; the message names the height."""

    code = "recovery_mismatch"


class ReceiptError(FontanaError):
    """A receipt that decoded but does not verify; ``check`` names the check that failed."""

    code = "bad_receipt"
    exit_code = 65  # EX_DATAERR

    def __init__(self, message: str, *, check: str = "") -> None:
        super().__init__(message)
        #: The failed check: one of docs/protocol.md, section 4, "Verifying receipts".
        self.check = check


# --- chain set-up -----------------------------------------------------------


class GenesisError(FontanaError):
    code = "genesis_invalid"
    exit_code = 65


class AlreadyInitializedError(GenesisError):
    """The database holds a ledger already; genesis never overwrites one."""

    code = "already_initialized"

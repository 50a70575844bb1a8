"""The contracts that backend plugins implement, one Protocol per hook family.

They live apart from ``hookspecs`` so that type checkers and plugin authors
see exactly which methods the core calls, while ``hookspecs`` stays the list
of hooks. The storage contract is large and has its own module,
:mod:`fontana.storage.base`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import attrs

if TYPE_CHECKING:
    from fontana.bridge.signer import SignedCheckpoint
    from fontana.config import Settings
    from fontana.ledger import Ledger
    from fontana.models import Block, Transaction
    from fontana.storage.base import Storage, StorageSession


# --- data availability ----------------------------------------------------


@attrs.frozen
class DAReference:
    """Where a blob sits on a DA layer: enough to read it back later."""

    height: int
    commitment: bytes
    namespace: bytes


@runtime_checkable
class DALayer(Protocol):
    """A data-availability layer that stores opaque blobs in one namespace.

    The rules, which ``fontana.testing.da.DAConformance`` checks:

    * Heights: every blob's height is >= 1 (recovery reads from height 1), and
      heights never go back: a later ``submit`` or ``head_height``, from this or
      any other instance on the same layer, is never below an earlier one.
    * Commitments: ``commitment(blob)`` is computed locally, before ``submit``,
      and equals the ``ref.commitment`` that ``submit`` returns. It binds the
      namespace and every byte of the data: another namespace or any changed,
      added or removed byte gives another commitment.
    * One namespace: a layer is bound to the namespace it was opened with.
      ``list_at`` shows only that namespace's blobs; ``get`` of a reference from
      another namespace returns ``None``, as does a reference whose height or
      commitment matches no blob.
    * Size: a blob of exactly ``max_blob_size`` bytes is accepted; one byte more
      raises ``BlobTooLargeError`` and posts nothing.
    * Concurrency: ``submit`` is safe from many threads and many processes at
      once; every concurrent submit lands, each blob at a distinct (height,
      index in ``list_at``), none lost or mixed with another.
    * Whole blobs only: every ``(ref, data)`` that ``list_at`` returns satisfies
      ``commitment(data) == ref.commitment``, so a reader never sees a blob
      half-written.
    * Durability: once ``submit`` returns, a new instance on the same layer
      reads the blob (after this one is closed too).

    Failures raise :class:`fontana.errors.DAError` subclasses:
    ``DARetryableError`` for what may pass, ``DAFatalError`` (and
    ``BlobTooLargeError``) for what will not.
    """

    #: Largest blob, in bytes, the layer accepts; the sequencer never exceeds it.
    max_blob_size: int

    def submit(self, blob: bytes) -> DAReference:
        """Post ``blob``; return once the layer has included it (durably)."""

    def commitment(self, blob: bytes) -> bytes:
        """The commitment ``submit`` would give ``blob`` in this namespace, computed locally.

        Lets a poster that crashed after a submit find its blob on the layer
        instead of posting it twice.
        """

    def get(self, ref: DAReference) -> bytes | None:
        """The blob at ``ref``, or ``None`` if this namespace has no such blob there."""

    def list_at(self, height: int) -> Sequence[tuple[DAReference, bytes]]:
        """Every whole blob of this namespace included at ``height``, in layer order."""

    def head_height(self) -> int:
        """The newest height the layer can serve; it never goes back."""

    def close(self) -> None:
        """Release connections and files; calling it again is harmless."""


# --- L1 bridge ------------------------------------------------------------


@attrs.frozen
class SkippedLog:
    """A vault log that did not decode: reported and never credited."""

    l1_tx_hash: bytes
    log_index: int
    l1_block: int
    reason: str


@attrs.frozen
class L1Events:
    """What an L1 watcher saw in a range of L1 blocks, already final."""

    deposits: Sequence[Any]  # fontana.models.Deposit
    withdrawals: Sequence[Any]  # fontana.models.WithdrawalConfirmation
    scanned_to: int
    #: Logs of the vault's address that were not well-formed events (docs/bridge.md, section 3).
    skipped: Sequence[SkippedLog] = ()


@runtime_checkable
class L1Watcher(Protocol):
    """Reads deposit and withdrawal events of the vault contract on an L1.

    ``fontana watcher`` (``fontana.watcher``) calls ``finalized_height`` and
    then ``scan`` of at most ``l1.max_range`` final blocks after its cursor, and
    hands each event to the handlers of ``fontana.bridge``. The factory receives
    settings whose ``l1.confirmations`` is resolved (never ``None``).
    """

    #: The L1 and vault read, e.g. ``evm:31337:0x5fbd…``; the watcher's cursor
    #: is bound to it, so a ledger never follows a second L1 by mistake.
    source: str

    def finalized_height(self) -> int:
        """Newest L1 block considered final (head minus confirmations); -1 if none."""

    def scan(self, from_block: int, to_block: int) -> L1Events:
        """Events in ``[from_block, to_block]``, in log order; deterministic for final blocks.

        ``scanned_to`` is ``to_block``. A log that is not a well-formed event of
        the vault is in ``skipped``, never in the events, and never an error.
        """

    def close(self) -> None:
        """Release connections."""


# --- state commitment -----------------------------------------------------


@runtime_checkable
class ProofProvider(Protocol):
    """A versioned authenticated map from 32-byte keys to 32-byte value hashes.

    The ledger feeds it one batch per block; ``version`` is the block height.
    It keeps its nodes in the ledger's storage through the ``session`` it is
    handed, so a block and its tree nodes commit in one database transaction.

    The rules, which ``fontana.testing.proofs.ProofProviderConformance`` checks:
    roots and proof bytes are identical to the reference tree's (``fontana.smt``,
    ``docs/smt.md``) for every batch, at every retained version, whatever the
    order of a batch's updates; a batch whose version does not move forward
    raises ``fontana.smt.VersionError`` and a key or value hash that is not 32
    bytes ``EncodingError``, both changing nothing; a batch rolled back with its
    session leaves no trace; after ``prune`` the versions below
    ``keep_from_version`` raise ``VersionError`` while later ones prove as
    before; ``verify`` agrees with the reference verifier on every input and
    never raises; a new instance on the same storage goes on where the old one
    stopped.
    """

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        """Apply all changes of one block at once (``None`` deletes); return the new root."""

    def root(self, session: StorageSession, version: int | None = None) -> bytes:
        """Root at ``version`` (default: latest)."""

    def prove(self, session: StorageSession, key: bytes, version: int | None = None) -> bytes:
        """Canonical proof bytes of ``key``'s presence or absence at ``version``."""

    def verify(self, root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
        """Pure check of a proof; needs no storage."""

    def prune(self, session: StorageSession, keep_from_version: int) -> int:
        """Forget versions older than ``keep_from_version``; return nodes deleted."""


# --- charging (web framework integrations) ---------------------------------


@runtime_checkable
class ChargingAdapter(Protocol):
    """Integrates the paid-call flow (``fontana.payments.charger.Charger``) into one framework.

    ``charge(utia=1500)`` or ``charge(price=fn)`` (a function of the
    framework's request returning utia) decorates a view: the view runs only
    for a payment that fits the call, and is paid for only if it answers below
    400 (docs/payments.md). ``options`` are the adapter's own (``charger=``
    to use a given charger instead of the one ``[charge]`` describes,
    ``description=`` for the challenge); an unknown option is a ``TypeError``.

    An adapter may also offer ``example_app(charger)``: a small paid API in
    its framework, which the devnet serves (``getattr`` it: it is optional).
    """

    #: The framework's name, e.g. ``"flask"``.
    framework: str

    def charge(
        self, utia: int | None = None, *, price: Callable[[Any], int] | None = None, **options: Any
    ) -> Callable[[Callable[..., Any]], Any]:
        """A decorator that takes payment for each call of the wrapped view."""


# --- transaction engines ---------------------------------------------------


@runtime_checkable
class TxEngine(Protocol):
    """Decodes users' transactions and checks their signatures for the ledger and recovery.

    The rules, which ``fontana.testing.txengine.TxEngineConformance`` checks: every
    verdict, value and error equals the Python reference's (``python-tx``):

    * ``decode_transaction(data)`` is ``Transaction.from_bytes(data)``: an equal object
      with the same ``txid`` and ``to_bytes()``, or the same error class and ``code`` for
      every input that breaks a rule (docs/protocol.md, section 1.3);
    * ``decode_block(data)`` is ``Block.from_bytes(data)``, every entry type included;
    * ``verify_witnesses(txs, genesis_hash)`` is, per transaction, exactly
      ``tx.verify_witnesses(genesis_hash)`` (libsodium's verdicts: ed25519 without
      cofactor, small-order keys and ``R``, non-canonical ``S`` and keys refused), with
      the same side effects on the objects' caches; a genesis hash that is not 32 bytes
      raises ``EncodingError``.

    Only speed may differ. A native engine may release the GIL while it verifies.
    """

    #: The engine's registered name.
    name: str

    def decode_transaction(self, data: bytes) -> Transaction:
        """Strictly decode one transaction (with its cached txid and encoding)."""

    def decode_block(self, data: bytes) -> Block:
        """Strictly decode one block (recovery's hot path)."""

    def verify_witnesses(self, txs: Sequence[Transaction], genesis_hash: bytes) -> list[bool]:
        """Per transaction, whether every witness signs its txid for ``genesis_hash``."""
# --- bridge validators (checkpoint signers) --------------------------------


@runtime_checkable
class BridgeValidator(Protocol):
    """Holds bridge validator keys and signs checkpoints for the withdrawal processor.

    ``sign`` checks block ``height`` of ``ledger`` and the ledger's proof of each burn
    in ``burns`` against that block's state root before it signs; it refuses with a
    typed error (``ProofMismatchError``, ``CheckpointRefusedError``, ``EncodingError``,
    ``UnknownWithdrawalError``) and signs nothing when a check fails. An exception the
    ledger raises reaches the caller. Keys never leave the object: no attribute, repr
    or pickle shows them (docs/bridge.md, "Bridge validators").
    """

    #: The registered name (``python-validator``, ``native-validator``).
    name: str

    def addresses(self) -> list[bytes]:
        """The validators' 20-byte addresses, increasing (the vault's signer order)."""

    def sign(
        self, ledger: Ledger, height: int, burns: Sequence[bytes], chain_id: int, vault: bytes
    ) -> SignedCheckpoint:
        """Every key's signature of the checkpoint of block ``height``, after the checks."""


# --- factories handed to the register callbacks ---------------------------

StorageFactory = Callable[[str, "Settings"], "Storage"]
DAFactory = Callable[[str, "Settings", bytes], DALayer]
L1WatcherFactory = Callable[[str, "Settings"], L1Watcher]
ProofProviderFactory = Callable[["Settings"], ProofProvider]
ChargingAdapterFactory = Callable[["Settings"], ChargingAdapter]
TxEngineFactory = Callable[["Settings"], TxEngine]
BridgeValidatorFactory = Callable[["Settings"], BridgeValidator]

F = TypeVar("F", contravariant=True)


class RegisterBackend(Protocol[F]):
    """The callback a ``fontana_register_*`` hook receives."""

    def __call__(
        self, name: str, factory: F, *, schemes: Sequence[str] = (), description: str = ""
    ) -> None: ...


class RegisterSettings(Protocol):
    """The callback ``fontana_register_settings`` receives."""

    def __call__(self, section: str, settings_class: type) -> None: ...

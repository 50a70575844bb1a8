"""The withdrawal processor: every burn on DA released on L1 once, and confirmed.

One job per burn in the ledger's database (``withdrawal_jobs``), moving through
``pending`` → ``proven`` → ``submitted`` → ``confirmed``, or ``failed`` with a
reason (docs/bridge.md, "The withdrawal processor"). Each transition is one
committed write, so a crash anywhere resumes from the last state:

- ``pending``: the burn's block is on DA. Proving asks the bridge validator
  (``bridge.validator``: Rust or Python) to check the ledger's proof against the
  root of the latest block on DA and to sign that block's checkpoint, before any
  L1 gas is spent on it.
- ``proven``: before building a release the vault is asked whether the id is used;
  a release by anyone else is adopted (its transaction becomes the job's), never
  repeated. The signed transaction and its hash are stored, then broadcast.
- ``submitted``: the same signed bytes are broadcast again until a receipt exists,
  so a restart can only ever mine that one transaction (one nonce, one hash). A
  reverted one, or one whose nonce another transaction of the sender took, goes
  back to ``proven``, where the vault's answer decides.
- ``confirmed``: the receipt's ``Released`` log is ``confirmations`` deep and
  :func:`fontana.bridge.handle_withdrawal_confirmed` has marked the burn.

The vault's used-id check is the last line, not the only one.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from fontana.bridge import handle_withdrawal_confirmed
from fontana.bridge.signer import ProofMismatchError
from fontana.clock import now_ms
from fontana.errors import ConfigError, FontanaError, L1Error, L1UnavailableError
from fontana.models import WithdrawalConfirmation
from fontana.storage.base import WithdrawalJobRecord

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3
    from web3.contract import Contract

    from fontana.config import Settings
    from fontana.interfaces import BridgeValidator
    from fontana.ledger import Ledger

log = logging.getLogger(__name__)

ACTIVE: Final = ("pending", "proven", "submitted")
#: Jobs looked at per round.
BATCH: Final = 100
#: Test tooling only: exit the process right after this step (a state, or ``broadcast``).
CRASH_ENV: Final = "FONTANA_TEST_WITHDRAWALS_CRASH_AFTER"
CRASH_EXIT: Final = 86
_SIG_LEN: Final = 65


@attrs.frozen
class JobEvent:
    """One transition of one job, as the daemon prints it."""

    burn_txid: bytes
    state: str
    detail: str = ""
    l1_tx_hash: bytes | None = None


def released_topic() -> bytes:
    """The topic of the vault's ``Released`` event."""
    from eth_hash.auto import keccak

    return bytes(keccak(b"Released(bytes32,address,address,uint64,uint64)"))


class Processor:
    """Advances every withdrawal job of one ledger against one vault."""

    def __init__(
        self,
        ledger: Ledger,
        w3: Web3,
        vault: Contract,
        validator: BridgeValidator,
        sender: LocalAccount,
        *,
        confirmations: int,
        from_block: int = 0,
        on_event: Callable[[JobEvent], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.w3 = w3
        self.vault = vault
        self.validator = validator
        self.sender = sender
        self.confirmations = confirmations
        self.from_block = from_block
        self.on_event = on_event or (lambda _: None)
        self.vault_bytes = bytes.fromhex(vault.address[2:])
        self.chain_id = 0
        self.topic = released_topic()

    # ------------------------------------------------------------------ setup

    def check(self) -> None:
        """Refuse a configuration the vault would refuse every release of (``config_invalid``)."""
        try:
            self.chain_id = int(self.w3.eth.chain_id)
            validators = {bytes.fromhex(v[2:]) for v in self.vault.functions.validators().call()}
            threshold = int(self.vault.functions.threshold().call())
            genesis = bytes(self.vault.functions.genesisHash().call())
        except L1Error:
            raise
        except Exception as exc:
            raise _l1_error(exc) from None
        if genesis != self.ledger.genesis_hash:
            raise ConfigError(
                f"the vault at {self.vault.address} belongs to another chain (genesis "
                f"{genesis.hex()}, this ledger's is {self.ledger.genesis_hash.hex()})"
            )
        ours = set(self.validator.addresses())
        strangers = ours - validators
        if strangers:
            named = ", ".join("0x" + a.hex() for a in sorted(strangers))
            raise ConfigError(f"bridge.validator_keys: {named} is no validator of the vault")
        if len(ours) < threshold:
            raise ConfigError(
                f"bridge.validator_keys: {len(ours)} keys, the vault needs {threshold} signatures"
            )

    # ------------------------------------------------------------------ rounds

    def step(self) -> list[JobEvent]:
        """Open jobs for new burns on DA and move each open job as far as it goes now."""
        events: list[JobEvent] = []
        with self.ledger.storage.write() as s:
            for burn, height in s.withdrawals_on_da(BATCH):
                job = WithdrawalJobRecord(burn, "pending", height, now_ms())
                if s.insert_withdrawal_job(job):
                    events.append(JobEvent(burn, "pending", f"sealed in block {height}"))
        for event in events:
            self.on_event(event)
        if events:
            _maybe_crash("pending")
        with self.ledger.storage.read() as s:
            jobs = s.withdrawal_jobs(ACTIVE, BATCH)
        for job in jobs:
            events.extend(self.advance(job))
        return events

    def advance(self, job: WithdrawalJobRecord) -> list[JobEvent]:
        """Move one job until it waits for the L1 or is done."""
        done: list[JobEvent] = []
        while True:
            try:
                moved = self._move(job)
            except FontanaError:  # the L1's, and the validator's refusals: typed already
                raise
            except Exception as exc:  # web3 and the node raise many types
                raise _l1_error(exc) from None
            if moved is None:
                return done
            job, event = moved
            done.append(event)
            self.on_event(event)
            _maybe_crash(job.state)
            if job.state not in ACTIVE:
                return done

    def _move(self, job: WithdrawalJobRecord) -> tuple[WithdrawalJobRecord, JobEvent] | None:
        if job.state == "pending":
            return self._adopt(job) or self._prove(job)
        if job.state == "proven":
            return self._adopt(job) or self._submit(job)
        return self._await(job)

    def _save(
        self, job: WithdrawalJobRecord, detail: str = "", **changes: Any
    ) -> tuple[WithdrawalJobRecord, JobEvent] | None:
        new = attrs.evolve(job, updated_at_ms=now_ms(), **changes)
        with self.ledger.storage.write() as s:
            if not s.advance_withdrawal_job(new, job.state):
                return None  # another processor moved it: it is read again next round
        return new, JobEvent(new.burn_txid, new.state, detail, new.l1_tx_hash)

    # ------------------------------------------------------------------ pending → proven

    def _prove(self, job: WithdrawalJobRecord) -> tuple[WithdrawalJobRecord, JobEvent] | None:
        height = self._latest_on_da()
        try:
            signed = self.validator.sign(
                self.ledger, height, [job.burn_txid], self.chain_id, self.vault_bytes
            )
        except ProofMismatchError as exc:
            return self._save(job, state="failed", reason=f"block {height}: {exc.message}")
        (proven,) = signed.withdrawals
        return self._save(
            job,
            f"checkpoint of block {height}",
            state="proven",
            checkpoint_height=height,
            state_root=signed.checkpoint.state_root,
            signatures=b"".join(signed.signatures),
            proof=proven.proof,
        )

    def _latest_on_da(self) -> int:
        with self.ledger.storage.read() as s:
            waiting = s.uncommitted_blocks(1)
            if waiting:
                return waiting[0].height - 1
            latest = s.latest_block()
        assert latest is not None
        return latest.height

    # ------------------------------------------------------------------ proven → submitted

    def _submit(self, job: WithdrawalJobRecord) -> tuple[WithdrawalJobRecord, JobEvent] | None:
        from web3.exceptions import ContractCustomError, ContractLogicError

        from fontana.bridge.vault import VaultRevertError, decode_revert, release_call

        assert job.signatures is not None and job.proof is not None
        assert job.checkpoint_height is not None and job.state_root is not None
        leaf, _ = self.ledger.prove_withdrawal(job.burn_txid, job.burn_height)
        signatures = [
            job.signatures[i : i + _SIG_LEN] for i in range(0, len(job.signatures), _SIG_LEN)
        ]
        call = release_call(
            self.vault, leaf, job.checkpoint_height, job.state_root, signatures, job.proof
        )
        try:
            tx = call.build_transaction(
                {
                    "from": self.sender.address,
                    "nonce": self.w3.eth.get_transaction_count(self.sender.address, "pending"),
                    "chainId": self.chain_id,
                }
            )
        except (ContractCustomError, ContractLogicError) as exc:
            revert: VaultRevertError = decode_revert(exc)
            if revert.name == "AlreadyReleased":
                return None  # released since _adopt asked: adopted next round
            if revert.name == "InsufficientLiquidity":
                log.warning("withdrawal %s waits for liquidity: %s", job.burn_txid.hex(), revert)
                return None
            return self._save(job, state="failed", reason=revert.message)
        signed = self.sender.sign_transaction(tx)
        moved = self._save(
            job,
            f"nonce {tx['nonce']}",
            state="submitted",
            raw_tx=bytes(signed.raw_transaction),
            l1_tx_hash=bytes(signed.hash),
        )
        if moved is not None:
            _maybe_crash("stored")
            self._broadcast(moved[0])
        return moved

    def _broadcast(self, job: WithdrawalJobRecord) -> None:
        """Send the stored signed transaction; a node that has it or mined it is fine."""
        from web3.exceptions import Web3RPCError

        assert job.raw_tx is not None
        try:
            self.w3.eth.send_raw_transaction(job.raw_tx)
        except (Web3RPCError, ValueError) as exc:  # "known", "nonce too low": the receipt decides
            log.info("broadcast of %s: %s", (job.l1_tx_hash or b"").hex(), exc)

    # ------------------------------------------------------------------ adopting others' releases

    def _adopt(self, job: WithdrawalJobRecord) -> tuple[WithdrawalJobRecord, JobEvent] | None:
        """A release of this id already on L1 (by anyone) becomes the job's transaction."""
        from fontana.bridge.vault import is_released

        if not is_released(self.vault, job.burn_txid):
            return None
        logs = self.w3.eth.get_logs(
            {
                "address": self.vault.address,
                "fromBlock": self.from_block,
                "toBlock": "latest",
                "topics": ["0x" + self.topic.hex(), "0x" + job.burn_txid.hex()],
            }
        )
        if not logs:
            raise L1Error(
                f"the vault says {job.burn_txid.hex()} is released, but no Released log "
                f"from L1 block {self.from_block} names it"
            )
        found = logs[-1]
        return self._save(
            job,
            "released by another sender",
            state="submitted",
            raw_tx=None,
            l1_tx_hash=bytes(found["transactionHash"]),
        )

    # ------------------------------------------------------------------ submitted → confirmed

    def _await(self, job: WithdrawalJobRecord) -> tuple[WithdrawalJobRecord, JobEvent] | None:
        from web3.exceptions import TransactionNotFound

        assert job.l1_tx_hash is not None
        try:
            receipt = self.w3.eth.get_transaction_receipt(job.l1_tx_hash)
        except TransactionNotFound:
            if job.raw_tx is None:  # an adopted release a reorg took away: start again
                return self._save(job, "the release left the L1", state="pending")
            nonce = _nonce_of(job.raw_tx)
            if nonce < int(self.w3.eth.get_transaction_count(self.sender.address, "latest")):
                # Another transaction of the sender took its nonce: it can never be mined.
                # If it was mined after all just now, the vault's answer adopts it.
                return self._save(
                    job, f"nonce {nonce} was used by another transaction", state="proven"
                )
            self._broadcast(job)
            return None
        if receipt["status"] != 1:
            return self._save(job, "reverted; asking the vault again", state="proven")
        log_index = self._released_log(receipt, job.burn_txid)
        if log_index is None:
            return self._save(job, "its transaction released nothing", state="proven")
        l1_block = int(receipt["blockNumber"])
        if int(self.w3.eth.block_number) - l1_block < self.confirmations:
            return None
        confirmation = WithdrawalConfirmation(job.burn_txid, job.l1_tx_hash, log_index, l1_block)
        handle_withdrawal_confirmed(self.ledger, confirmation)
        return self._save(
            job,
            f"released in L1 block {l1_block}",
            state="confirmed",
            l1_block=l1_block,
            log_index=log_index,
        )

    def _released_log(self, receipt: Any, burn_txid: bytes) -> int | None:
        for entry in receipt["logs"]:
            topics = [bytes(t) for t in entry["topics"]]
            if (
                entry["address"].lower() == self.vault.address.lower()
                and len(topics) >= 2
                and topics[0] == self.topic
                and topics[1] == burn_txid
            ):
                return int(entry["logIndex"])
        return None

    # ------------------------------------------------------------------ the daemon

    def catch_up(self, stop: threading.Event) -> int:
        """Rounds until one moves nothing (or ``stop``); the transitions made."""
        total = 0
        while not stop.is_set():
            moved = self.step()
            if not moved:
                return total
            total += len(moved)
        return total

    def run(self, stop: threading.Event, poll_ms: int) -> None:
        """Rounds every ``poll_ms`` until ``stop``; an unreachable L1 is retried."""
        failures = 0
        while not stop.is_set():
            try:
                self.catch_up(stop)
                failures = 0
            except L1Error as exc:
                if not exc.retryable:
                    raise
                failures += 1
                log.warning("the L1 failed (%s); retrying (%d)", exc.message, failures)
            stop.wait(poll_ms / 1000)


def _nonce_of(raw_tx: bytes) -> int:
    """The nonce of a signed transaction: a legacy RLP list, or typed (EIP-2718) after chainId."""
    import rlp

    if raw_tx[0] >= 0xC0:
        return int.from_bytes(rlp.decode(raw_tx)[0], "big")
    return int.from_bytes(rlp.decode(raw_tx[1:])[1], "big")


def _l1_error(exc: Exception) -> L1Error:
    from requests.exceptions import RequestException

    if isinstance(exc, RequestException | OSError | TimeoutError):
        return L1UnavailableError(f"the L1 node failed: {exc}")
    return L1Error(f"the L1 answered unexpectedly: {type(exc).__name__}: {exc}")


def _maybe_crash(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        log.critical("crashing after %s (%s)", step, CRASH_ENV)
        os._exit(CRASH_EXIT)


# ---------------------------------------------------------------------- opening


def open_processor(
    settings: Settings, ledger: Ledger, on_event: Callable[[JobEvent], None] | None = None
) -> Processor:
    """The processor ``[l1]`` and ``[bridge]`` describe, checked against the vault.

    web3 and eth-account import py_ecc, which raises the recursion limit to 100,000
    for good; a deeply nested JSON answer would then crash the interpreter instead of
    raising RecursionError. Nothing here needs the higher limit, so it is put back.
    """
    limit = sys.getrecursionlimit()
    try:
        from eth_account import Account
        from web3 import Web3

        from fontana.bridge.vault import vault_at
    finally:
        sys.setrecursionlimit(limit)
    from fontana.bridge.keys import read_key_file
    from fontana.bridge.signer import open_validator

    url = settings.l1.url
    scheme, sep, rest = url.partition("://")
    if scheme not in ("evm+http", "evm+https") or not sep or not rest:
        raise ConfigError(
            f"l1.url = {url!r}: the withdrawal processor needs an EVM L1 (evm+http://host:port)"
        )
    if not settings.l1.vault:
        raise ConfigError("l1.vault: the withdrawal processor needs the vault's address")
    if not settings.bridge.validator_key_paths() and not settings.bridge.validator_keys_env:
        raise ConfigError("bridge.validator_keys: name at least one validator key file")
    if not settings.bridge.sender_key:
        raise ConfigError("bridge.sender_key: name the key file of the L1 account that sends")
    validator = open_validator(settings)
    sender = Account.from_key(read_key_file(Path(settings.bridge.sender_key), "bridge.sender_key"))
    confirmations = settings.l1.confirmations
    if confirmations is None:
        confirmations = ledger.genesis.l1_confirmations
    w3 = Web3(Web3.HTTPProvider(url.removeprefix("evm+"), request_kwargs={"timeout": 10}))
    processor = Processor(
        ledger,
        w3,
        vault_at(w3, settings.l1.vault),
        validator,
        sender,
        confirmations=confirmations,
        from_block=settings.l1.start_block,
        on_event=on_event,
    )
    processor.check()
    return processor

"""``fontana devnet --l1 evm``: the devnet's money enters and leaves through a real vault.

A local hardhat node (:mod:`fontana.bridge.hardhat`, blocks mined every ``l1_block_ms``)
gets the real Vault, with two freshly made validator keys (threshold 2) and a fresh
sender key, all written to the devnet directory (mode 0600). The devnet's wallets are
funded by L1 deposits that the EVM watcher (``fontana-evm``) credits; alice withdraws to
a fresh L1 address, and the withdrawal processor releases it once its block is on DA.
:meth:`EvmL1.check` says what did not happen by the end.

Needs node, ``contracts/node_modules`` and the ``evm`` extra with ``fontana-evm``; the
default devnet needs none of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from fontana.errors import ConfigError, FontanaError

if TYPE_CHECKING:
    from fontana.bridge.hardhat import HardhatNode
    from fontana.config import Settings
    from fontana.ledger import Ledger
    from fontana.wallet import Wallet
    from fontana.withdrawals import JobEvent, Processor

#: What alice withdraws, in utia.
WITHDRAWAL: Final = 1_000_000
#: How long the devnet waits for a deposit's credit or the release's confirmation.
WAIT_S: Final = 60.0


class EvmL1:
    """The node, the vault, the watcher and the processor of one devnet."""

    def __init__(self, directory: Path, say: Callable[[str], None], l1_block_ms: int) -> None:
        from fontana.bridge import restore_recursion_limit
        from fontana.bridge.hardhat import HardhatNode, find_hardhat

        hardhat = find_hardhat()
        if hardhat is None:
            raise ConfigError(
                "--l1 evm needs node and the contracts' npm modules (npm ci --prefix contracts)"
            )
        try:
            import eth_account  # noqa: F401
            import fontana_evm  # noqa: F401
            import web3  # noqa: F401

            import fontana.bridge.vault  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"--l1 evm needs fontana-evm and web3: {exc}") from None
        finally:
            restore_recursion_limit()  # web3's py_ecc raised it process-wide
        self.directory = directory
        self.say = say
        self.l1_block_ms = l1_block_ms
        self.node: HardhatNode = HardhatNode(hardhat)
        self.threads: list[threading.Thread] = []
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.deposits: list[tuple[Wallet, int]] = []
        self.burn_txid: bytes | None = None
        self.recipient = b""
        self.processor: Processor | None = None
        self.banner = ""

    def start(self, settings: Settings, ledger: Ledger) -> Settings:
        """Start the node, deploy the vault; the settings of the watcher and the processor."""
        self.node.start()
        try:
            return self._deploy(settings, ledger)
        except BaseException:
            self.node.stop()
            raise

    def _deploy(self, settings: Settings, ledger: Ledger) -> Settings:
        from eth_account import Account
        from web3 import Web3

        from fontana.bridge.checkpoint import validator_address
        from fontana.bridge.keys import write_key_file
        from fontana.bridge.vault import VaultConfig, deploy_vault

        self.w3 = Web3(Web3.HTTPProvider(self.node.url, request_kwargs={"timeout": 30}))
        keys = self.directory / "l1"
        keys.mkdir(mode=0o700)
        validators = [write_key_file(keys / f"validator{i}") for i in range(2)]
        sender = Account.from_key(write_key_file(keys / "sender"))
        funder = self.w3.eth.accounts[0]
        config = VaultConfig(
            tuple(validator_address(k) for k in validators), 2, ledger.genesis_hash
        )
        self.vault = deploy_vault(self.w3, config, funder)
        self.w3.eth.send_transaction({"from": funder, "to": sender.address, "value": 10**19})
        start_block = int(self.w3.eth.block_number)
        self.recipient = bytes.fromhex(Account.from_key(bytes([0x5A]) * 32).address[2:])
        self.banner = (
            f"L1: hardhat at {self.node.url}, vault {self.vault.address} "
            f"(2 of 2 validators, keys in {keys}), blocks every {self.l1_block_ms} ms"
        )
        return attrs.evolve(
            settings,
            l1=attrs.evolve(
                settings.l1,
                url=self.node.url.replace("http://", "evm+http://"),
                vault=self.vault.address,
                confirmations=1,
                start_block=start_block,
                poll_ms=100,
            ),
            bridge=attrs.evolve(
                settings.bridge,
                validator_keys=",".join(str(keys / f"validator{i}") for i in range(2)),
                sender_key=str(keys / "sender"),
                poll_ms=100,
            ),
        )

    def run(self, settings: Settings, ledger: Ledger) -> None:
        """Mine L1 blocks, run the watcher and the processor, each in its own thread."""
        from fontana.watcher import Watcher, open_l1_watcher
        from fontana.withdrawals import open_processor

        watcher_l1 = open_l1_watcher(settings, ledger.genesis.l1_confirmations)
        watcher = Watcher(
            ledger,
            watcher_l1,
            start_block=settings.l1.start_block,
            poll_ms=settings.l1.poll_ms,
            on_event=self._on_watched,
        )
        self.processor = open_processor(settings, ledger, on_event=self._on_job)
        processor = self.processor
        for target in (
            self._mine,
            watcher.run,
            lambda stop: processor.run(stop, settings.bridge.poll_ms),
        ):
            thread = threading.Thread(target=self._guarded, args=(target,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _guarded(self, target: Callable[[threading.Event], object]) -> None:
        try:
            target(self.stop)
        except BaseException as exc:  # reported by check()
            self.errors.append(exc)

    def _mine(self, stop: threading.Event) -> None:
        while not stop.wait(self.l1_block_ms / 1000):
            self.node.mine(1)

    def _on_watched(self, event: Any) -> None:
        from fontana.bridge import DepositHandled, WithdrawalHandled

        if isinstance(event, DepositHandled):
            d = event.deposit
            self.say(
                f"L1 deposit credited: {d.amount} utia, L1 tx {d.l1_tx_hash.hex()[:16]}… "
                f"in L1 block {d.l1_block}"
            )
        elif isinstance(event, WithdrawalHandled):
            c = event.confirmation
            self.say(f"L1 release seen by the watcher: burn {c.burn_txid.hex()[:16]}…")

    def _on_job(self, event: JobEvent) -> None:
        detail = f": {event.detail}" if event.detail else ""
        self.say(f"withdrawal {event.burn_txid.hex()[:16]}… {event.state}{detail}")

    # ------------------------------------------------------------------ the traffic

    def deposit(self, ledger: Ledger, wallet: Wallet, amount: int) -> None:
        """Deposit on L1 for ``wallet`` and wait until the watcher has credited it."""
        from fontana.bridge.vault import deposit_native

        before = ledger.balance(wallet.public_key)
        receipt = deposit_native(
            self.w3, self.vault, wallet.public_key, amount, self.w3.eth.accounts[1]
        )
        self.say(
            f"L1 deposit sent: {amount} utia to {wallet.name}, "
            f"L1 tx {bytes(receipt['transactionHash']).hex()[:16]}…"
        )
        self.deposits.append((wallet, amount))
        self._wait(lambda: ledger.balance(wallet.public_key) >= before + amount, "a deposit")

    def withdraw(self, ledger: Ledger, wallet: Wallet, fee: int) -> None:
        """``wallet`` burns WITHDRAWAL utia for the devnet's L1 recipient."""
        from fontana.clock import now_ms
        from fontana.sdk.transactions import build_withdrawal

        utxos = ledger.utxos(wallet.public_key)
        tx = build_withdrawal(
            self.recipient,
            WITHDRAWAL,
            utxos,
            fee,
            now_ms() + 60_000,
            ledger.chain_id,
            wallet.signing_key,
            ledger.genesis_hash,
        )
        ledger.apply_transaction(tx)
        self.burn_txid = tx.txid
        self.say(
            f"withdrawal: {WITHDRAWAL} utia from {wallet.name} to L1 0x{self.recipient.hex()} "
            f"(burn {tx.txid.hex()[:16]}…)"
        )

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done():
            if self.errors:
                raise self.errors[0]
            if time.monotonic() > deadline:
                raise FontanaError(f"{what} was not handled in {WAIT_S:.0f} s", code="devnet_l1")
            time.sleep(0.05)

    # ------------------------------------------------------------------ the end

    def check(self, ledger: Ledger) -> list[str]:
        """Wait for the release's confirmation; what went wrong, if anything."""
        problems = [f"L1 thread failed: {type(e).__name__}: {e}" for e in self.errors]
        if self.burn_txid is None:
            return [*problems, "no withdrawal was made"]
        burn = self.burn_txid

        def confirmed() -> bool:
            with ledger.storage.read() as s:
                job = s.get_withdrawal_job(burn)
            return job is not None and job.state == "confirmed"

        try:
            self._wait(confirmed, "the withdrawal")
        except FontanaError as exc:
            problems.append(exc.message)
        balance = int(self.w3.eth.get_balance(self.w3.to_checksum_address(self.recipient)))
        expected = WITHDRAWAL * int(self.vault.functions.nativeScale().call())
        if balance != expected:
            problems.append(f"the L1 recipient holds {balance} wei, not {expected}")
        with ledger.storage.read() as s:
            row = s.get_withdrawal(burn)
        if row is None or row.status != "confirmed":
            problems.append("the withdrawal is not confirmed in the ledger")
        if not problems:
            self.say(
                f"L1 check: {len(self.deposits)} deposits credited; withdrawal released "
                f"({balance} wei to 0x{self.recipient.hex()}) and confirmed"
            )
        return problems

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.node.stop()

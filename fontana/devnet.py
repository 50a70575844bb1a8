"""``fontana devnet``: a whole chain in one process, on the embedded defaults or yours.

It writes a genesis, runs the sequencer and the poster, funds three wallets
with deposits, keeps making transfers between two of them, and prints blocks
(empty ones too) as they are sealed and posted. Meanwhile the third wallet
makes real paid HTTP calls to a provider (``fontana.devnet_calls``), whose
final receipts are verified as their blocks reach DA. When it stops it
rebuilds the ledger from the genesis file and the DA layer alone and checks
that every block and root matches: the end-to-end proof that the chain is
recoverable.

Storage and DA are the user's ``storage.url`` and ``da.url`` when the config
or environment sets them (so a plugin author runs the whole chain on their
backend in one command), otherwise a SQLite file and a local DA layer in the
devnet directory. The database must be empty: a devnet is a new chain.

The L1 is the built-in stand-in: deposits are credited as they are made. With
``l1="evm"`` (``fontana devnet --l1 evm``) a local EVM node holds the real
vault, deposits go through it and the watcher, and alice's withdrawal is
released by the withdrawal processor (``fontana.devnet_l1``).
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from fontana.address import encode_address
from fontana.bridge import handle_deposit_received
from fontana.clock import now_ms
from fontana.config import Settings, mask
from fontana.da import open_da
from fontana.devnet_calls import PaidCalls
from fontana.errors import AlreadyInitializedError, FontanaError, RejectedError
from fontana.genesis import initialize, load_genesis_file
from fontana.interfaces import DAReference
from fontana.ledger import Ledger, open_proofs
from fontana.ledger.transfers import build_transfer
from fontana.models import Block, Deposit, Genesis
from fontana.poster import Poster
from fontana.recovery import compare_ledgers, recover
from fontana.sequencer import Sequencer
from fontana.storage import open_storage
from fontana.storage.base import BlockRecord
from fontana.txengine import open_tx_engine
from fontana.wallet import Wallet, create_key

if TYPE_CHECKING:
    from fontana.devnet_l1 import EvmL1

CHAIN_ID = "fontana-devnet"
NAMESPACE = b"fontanadev"
DEPOSIT = 5_000_000  # 5 TIA each


@attrs.frozen
class DevnetResult:
    blocks: int
    transfers: int
    recovered_blocks: int
    problems: tuple[str, ...]
    paid_calls: int = 0
    final_receipts: int = 0


def write_genesis(directory: Path, sequencer: Wallet, block_time_ms: int) -> Path:
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=now_ms(),
        sequencer=sequencer.public_key,
        da_namespace=NAMESPACE,
        block_time_ms=block_time_ms,
        min_fee=1,
        l1_confirmations=1,
        allocations=(),
    )
    path = directory / "genesis.json"
    path.write_text(json.dumps(genesis.to_json(), indent=2) + "\n")
    return path


def _chosen(user: Settings, key: str) -> str | None:
    """Where the user set ``key``, or None when it is only the default."""
    source = user.sources.get(key, "default")
    return None if source.startswith("default") else source


def devnet_settings(directory: Path, user: Settings) -> tuple[Settings, dict[str, str]]:
    """The user's settings with home in ``directory``; storage and DA there unless set.

    Returns the settings and, per URL, where it comes from (for the banner).
    """
    storage_from, da_from = _chosen(user, "storage.url"), _chosen(user, "da.url")
    here = "the devnet directory (default)"
    settings = attrs.evolve(
        user,
        home=directory,
        storage=attrs.evolve(
            user.storage,
            url=user.storage.url if storage_from else f"sqlite:///{directory / 'fontana.db'}",
        ),
        da=attrs.evolve(user.da, url=user.da.url if da_from else f"local:///{directory / 'da'}"),
    )
    return settings, {"storage": storage_from or here, "da": da_from or here}


class Devnet:
    def __init__(
        self,
        directory: Path,
        block_time_ms: int,
        say: Callable[[str], None],
        user: Settings,
        *,
        calls: int | None = None,
        adapter: str = "auto",
        l1: str = "local",
    ) -> None:
        self.directory = directory
        self.say = say
        self.settings, self.origins = devnet_settings(directory, user)
        storage = open_storage(self.settings)
        if storage.schema_version() is not None:
            storage.close()
            raise AlreadyInitializedError(
                f"storage.url = {mask(self.settings.storage.url, False)} (from "
                f"{self.origins['storage']}) holds a Fontana database already; a devnet is a "
                "new chain and needs an empty database: give it a new one, or unset "
                "storage.url to use the devnet directory"
            )
        self.sequencer_key = create_key(directory, "sequencer")
        self.alice = create_key(directory, "alice")
        self.bob = create_key(directory, "bob")
        self.consumer = create_key(directory, "consumer")
        self.provider = create_key(directory, "provider")
        self.genesis_path = write_genesis(directory, self.sequencer_key, block_time_ms)
        self.genesis = load_genesis_file(self.genesis_path)
        initialize(storage, open_proofs(self.settings), self.genesis)
        engine = open_tx_engine(self.settings)
        self.ledger = Ledger(storage, open_proofs(self.settings), self.genesis, tx_engine=engine)
        self.da = open_da(self.settings, NAMESPACE)
        # Blobs below this height are older than the chain (another devnet on the same
        # layer): the closing recovery check starts here, as a real operator would.
        self.first_da_height = self.da.head_height() + 1
        self.block_time_ms = block_time_ms
        self.sealed = 0
        self.transfers = 0
        self._print = threading.Lock()
        self.evm: EvmL1 | None = None
        if l1 == "evm":
            from fontana.devnet_l1 import EvmL1

            self.evm = EvmL1(directory, self._out, l1_block_ms=max(block_time_ms // 2, 100))
            self.settings = self.evm.start(self.settings, self.ledger)
        self.paid: PaidCalls | None = None
        if calls != 0:
            self.paid = PaidCalls(
                ledger=self.ledger,
                genesis=self.genesis,
                da=self.da,
                settings=self.settings,
                provider=self.provider,
                consumer=self.consumer,
                adapter=adapter,
                max_calls=calls,
                say=self._out,
            )

    def _out(self, line: str) -> None:
        with self._print:
            self.say(line)

    def _on_block(self, block: Block) -> None:
        h = block.header.header
        self.sealed += 1
        what = f"{h.tx_count} entries" if h.tx_count else "empty"
        self._out(f"block {h.height} sealed: {what}, state root {h.state_root.hex()[:16]}…")
        if self.paid is not None:
            self._out(
                f"balances: consumer {self.ledger.balance(self.consumer.public_key)} utia, "
                f"provider {self.ledger.balance(self.provider.public_key)} utia"
            )

    def _fund(self) -> None:
        """Deposits to the wallets, before any traffic needs them."""
        rng = random.Random(7)
        funded = (self.alice, self.bob) + ((self.consumer,) if self.paid else ())
        if self.evm is not None:
            for wallet in funded:
                self.evm.deposit(self.ledger, wallet, DEPOSIT)
            self.evm.withdraw(self.ledger, self.alice, self.genesis.min_fee)
            return
        for wallet in funded:
            handle_deposit_received(
                self.ledger,
                Deposit(
                    l1_chain_id=0,
                    vault=bytes(20),
                    l1_tx_hash=rng.randbytes(32),
                    log_index=0,
                    l1_block=0,
                    depositor=bytes(20),
                    recipient=wallet.public_key,
                    amount=DEPOSIT,
                ),
            )
            self._out(f"deposit: {DEPOSIT} utia to {wallet.name} {wallet.address}")

    def _traffic(self, stop: threading.Event) -> None:
        """Bursts of transfers between alice and bob, with quiet blocks between."""
        rng = random.Random(7)
        gap, quiet = self.block_time_ms / 4000, 2 * self.block_time_ms / 1000
        burst = 0
        while not stop.wait(quiet if burst % 3 == 2 else gap):
            burst += 1
            sender, recipient = rng.sample([self.alice, self.bob], 2)
            amount = rng.randint(1_000, 50_000)
            try:
                tx = build_transfer(
                    self.ledger,
                    sender.signing_key,
                    recipient.public_key,
                    amount,
                    self.genesis.min_fee,
                    now_ms() + 60_000,
                )
                self.ledger.apply_transaction(tx)
            except RejectedError as exc:
                self._out(f"transfer refused: {exc.code}: {exc.message}")
                continue
            self.transfers += 1
            self._out(f"transfer: {amount} utia {sender.name} -> {recipient.name}")

    def run(self, stop: threading.Event, max_blocks: int | None) -> DevnetResult:
        self._out(f"devnet in {self.directory}")
        for what in ("storage", "da"):
            url = mask(getattr(self.settings, what).url, False)
            self._out(f"{'DA' if what == 'da' else what}: {url} (from {self.origins[what]})")
        self._out(f"genesis {self.genesis_path} (chain {CHAIN_ID}, {self.block_time_ms} ms blocks)")
        if self.evm is not None:
            self._out(self.evm.banner)
        self._out(f"alice {encode_address(self.alice.public_key)}")
        self._out(f"bob   {encode_address(self.bob.public_key)}")
        if self.paid is not None:
            self._out(f"consumer {encode_address(self.consumer.public_key)} (pays for calls)")
            self._out(f"provider {encode_address(self.provider.public_key)} (is paid)")
            self.paid.start()
        sequencer = Sequencer(
            self.ledger,
            self.sequencer_key.signing_key,
            block_time_ms=self.block_time_ms,
            max_blob_size=self.da.max_blob_size,
            on_block=self._on_block,
        )
        sequencer.acquire()
        poster = Poster(
            self.ledger.storage,
            self.da,
            block_time_ms=self.block_time_ms,
            poll_ms=max(self.block_time_ms // 10, 20),
            on_posted=self._on_posted,
        )
        traffic_stop, poster_stop = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def guarded(target: Callable[[threading.Event], object], event: threading.Event) -> None:
            try:
                target(event)
            except BaseException as exc:  # reported after shutdown
                errors.append(exc)
                stop.set()

        threads = [
            threading.Thread(target=guarded, args=(self._traffic, traffic_stop), daemon=True),
            threading.Thread(target=guarded, args=(poster.run, poster_stop), daemon=True),
        ]
        if self.paid is not None:
            paid = self.paid
            gap = self.block_time_ms / 3000
            threads.append(
                threading.Thread(
                    target=guarded,
                    args=(lambda e: paid.run(e, gap, done=stop.set), traffic_stop),
                    daemon=True,
                )
            )
        if self.evm is not None:
            self.evm.run(self.settings, self.ledger)
        self._fund()
        for thread in threads:
            thread.start()
        try:
            # The last block is sealed once the traffic has stopped, so it takes every
            # transfer and paid call still in flight: nothing applied stays out of a block.
            sequencer.run(stop, max_blocks=None if max_blocks is None else max_blocks - 1)
            traffic_stop.set()
            for thread in (threads[0], *threads[2:]):
                thread.join()
            if not errors:
                sequencer.seal()
        finally:
            sequencer.release()
            traffic_stop.set()
            for thread in (threads[0], *threads[2:]):
                thread.join()
            # Let the poster catch up with the last blocks before stopping it.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not errors:
                with self.ledger.storage.read() as s:
                    if not s.uncommitted_blocks(1):
                        break
                time.sleep(0.05)
            poster_stop.set()
            threads[1].join()
            if self.paid is not None:
                self.paid.stop()
        if errors:
            raise errors[0]
        result = self.check_recovery()
        if self.evm is not None:
            result = attrs.evolve(
                result, problems=result.problems + tuple(self.evm.check(self.ledger))
            )
        if self.paid is None:
            return result
        problems = self.paid.check()
        return attrs.evolve(
            result,
            problems=result.problems + tuple(problems),
            paid_calls=len(self.paid.calls),
            final_receipts=sum(c.final for c in self.paid.calls),
        )

    def _on_posted(self, record: BlockRecord, ref: DAReference) -> None:
        self._out(
            f"posted block {record.height} to DA height {ref.height} "
            f"(commitment {ref.commitment.hex()[:16]}…)"
        )
        if self.paid is not None:
            self.paid.audit()

    def check_recovery(self) -> DevnetResult:
        """Rebuild from genesis + DA into a fresh database and compare with the live one."""
        rebuilt = open_storage(self.settings, f"sqlite:///{self.directory / 'recovered.db'}")
        genesis = load_genesis_file(self.genesis_path)
        report = recover(
            genesis,
            self.da,
            rebuilt,
            open_proofs(self.settings),
            from_da_height=self.first_da_height,
            tx_engine=open_tx_engine(self.settings),
        )
        problems = tuple(compare_ledgers(self.ledger.storage, rebuilt))
        self._out(
            f"recovered {report.blocks} blocks ({report.entries} entries) from genesis + DA "
            f"in {report.seconds:.2f}s: "
            + ("every block and state root matches" if not problems else "; ".join(problems))
            + (
                f" ({sum(report.skipped_counts.values())} foreign blobs skipped)"
                if report.skipped_counts
                else ""
            )
        )
        rebuilt.close()
        return DevnetResult(self.sealed, self.transfers, report.blocks, problems)


def run_devnet(
    directory: Path | None,
    *,
    block_time_ms: int,
    max_blocks: int | None,
    stop: threading.Event,
    say: Callable[[str], None],
    user: Settings,
    calls: int | None = None,
    adapter: str = "auto",
    l1: str = "local",
) -> DevnetResult:
    """Run a devnet in ``directory`` (default: a new temporary one) with ``user``'s backends.

    ``calls``: how many paid calls the consumer makes (None: until stopped; 0: none);
    ``adapter``: the charging adapter whose example app the provider serves;
    ``l1``: ``local`` (the stand-in) or ``evm`` (a local EVM node and the real vault).
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="fontana-devnet-"))
    elif directory.exists() and any(directory.iterdir()):
        raise FontanaError(f"{directory} is not empty; give a new directory", code="devnet_dir")
    directory.mkdir(parents=True, exist_ok=True)
    devnet = Devnet(directory, block_time_ms, say, user, calls=calls, adapter=adapter, l1=l1)
    try:
        return devnet.run(stop, max_blocks)
    finally:
        if devnet.evm is not None:
            devnet.evm.close()
        devnet.da.close()
        devnet.ledger.storage.close()

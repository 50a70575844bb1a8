"""The vault's events from an EVM JSON-RPC node over HTTP, through web3.

The node is asked only for the configured vault's logs with one of the two
event topics (``eth_getLogs`` filtered by address and topic), in chunks of at
most ``l1.max_range`` blocks, and every log is decoded strictly
(:mod:`fontana_evm.decode`). Final means ``eth_blockNumber`` minus
``l1.confirmations``. Any failure to reach or use the node is
``l1_unavailable``, which the watcher retries with backoff; a node that starts
answering for another chain id is ``l1_mismatch``, which stops it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Final

from fontana.errors import ConfigError, L1MismatchError, L1UnavailableError
from fontana.interfaces import L1Events, SkippedLog
from fontana_evm.decode import DEPOSITED_TOPIC, RELEASED_TOPIC, decode_logs

if TYPE_CHECKING:
    from fontana.config import Settings

log = logging.getLogger(__name__)

#: Seconds one JSON-RPC request may take.
REQUEST_TIMEOUT_S: Final = 30


def http_endpoint(url: str) -> str:
    """``evm+http://host:port/path`` as the ``http://`` URL web3 posts to."""
    scheme, _, rest = url.partition("://")
    prefix, _, transport = scheme.lower().partition("+")
    if prefix != "evm" or transport not in ("http", "https") or not rest or rest.startswith("/"):
        raise ConfigError(f"l1.url = {url!r}: expected evm+http://host:port or evm+https://host")
    return f"{transport}://{rest}"


def vault_address(text: str) -> bytes:
    """``l1.vault`` as 20 bytes; a mixed-case address must carry a valid EIP-55 checksum."""
    from eth_utils import is_checksum_address

    if not text:
        raise ConfigError("l1.vault is not set: the EVM watcher needs the vault's address")
    body = text[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(text):
        raise ConfigError(f"l1.vault = {text!r}: the EIP-55 checksum (its letter case) is wrong")
    return bytes.fromhex(body)


def web3_class() -> Any:
    """``web3.Web3``, imported without lifting the recursion limit for good.

    Importing web3 imports py_ecc (through eth-account), which raises the
    interpreter's recursion limit to 100,000. Python's JSON parser then
    overflows the C stack on a deeply nested answer (the process dies) long
    before it raises ``RecursionError``, which the watcher reports as
    ``l1_unavailable``. Nothing the watcher calls needs the higher limit.
    """
    limit = sys.getrecursionlimit()
    try:
        from web3 import Web3
    finally:
        sys.setrecursionlimit(limit)
    return Web3


class EvmWatcher:
    """:class:`fontana.interfaces.L1Watcher` over ``eth_blockNumber`` and ``eth_getLogs``."""

    def __init__(self, endpoint: str, vault: bytes, *, confirmations: int, max_range: int) -> None:
        import requests

        Web3 = web3_class()
        self.endpoint = endpoint
        self.vault = vault
        self.confirmations = confirmations
        self.max_range = max_range
        self._session = requests.Session()
        provider = Web3.HTTPProvider(
            endpoint,
            session=self._session,
            request_kwargs={"timeout": REQUEST_TIMEOUT_S},
            exception_retry_configuration=None,  # the watcher retries, with its own backoff
        )
        self.web3 = Web3(provider)
        self._chain_id: int | None = None

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> EvmWatcher:
        confirmations = settings.l1.confirmations
        if confirmations is None:
            raise ConfigError(
                "l1.confirmations is unresolved: open watchers with fontana.watcher.open_l1_watcher"
            )
        return cls(
            http_endpoint(url),
            vault_address(settings.l1.vault),
            confirmations=confirmations,
            max_range=settings.l1.max_range,
        )

    def _call(self, what: str, request: Any) -> Any:
        """One node request; every way it can fail is ``l1_unavailable``."""
        try:
            return request()
        except Exception as exc:  # requests, web3 and the node's JSON-RPC errors alike
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise L1UnavailableError(f"{what} from {self.endpoint}: {detail}") from None

    def chain_id(self) -> int:
        """The node's chain id; a node that changes chains later is ``l1_mismatch``."""
        chain_id = self._call("eth_chainId", lambda: self.web3.eth.chain_id)
        if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id < 0:
            raise L1UnavailableError(f"eth_chainId from {self.endpoint}: not a chain id")
        if self._chain_id is None:
            self._chain_id = chain_id
            code = self._call("eth_getCode", lambda: self.web3.eth.get_code(self._checksum()))
            if not code:
                log.warning("no contract at l1.vault %s on chain %d", self._checksum(), chain_id)
        elif chain_id != self._chain_id:
            raise L1MismatchError(
                f"{self.endpoint} answered for chain {self._chain_id}, now for chain {chain_id}"
            )
        return chain_id

    def _checksum(self) -> str:
        return str(web3_class().to_checksum_address(self.vault))

    @property
    def source(self) -> str:
        chain_id = self._chain_id if self._chain_id is not None else self.chain_id()
        return f"evm:{chain_id}:0x{self.vault.hex()}"

    def finalized_height(self) -> int:
        self.chain_id()
        head = self._call("eth_blockNumber", lambda: self.web3.eth.block_number)
        if not isinstance(head, int) or isinstance(head, bool) or head < 0:
            raise L1UnavailableError(f"eth_blockNumber from {self.endpoint}: not a block number")
        return max(head - self.confirmations, -1)

    def scan(self, from_block: int, to_block: int) -> L1Events:
        chain_id = self._chain_id if self._chain_id is not None else self.chain_id()
        deposits: list[Any] = []
        releases: list[Any] = []
        skipped: list[SkippedLog] = []
        for start in range(from_block, to_block + 1, self.max_range):
            end = min(start + self.max_range - 1, to_block)
            logs = self._call("eth_getLogs", lambda s=start, e=end: self._get_logs(s, e))
            if not isinstance(logs, list | tuple):
                raise L1UnavailableError(f"eth_getLogs from {self.endpoint}: not a list of logs")
            events = decode_logs(
                logs, chain_id=chain_id, vault=self.vault, from_block=start, to_block=end
            )
            deposits += events.deposits
            releases += events.withdrawals
            skipped += events.skipped
        return L1Events(deposits, releases, to_block, skipped)

    def _get_logs(self, start: int, end: int) -> Any:
        return self.web3.eth.get_logs(
            {
                "address": self._checksum(),
                "topics": [[DEPOSITED_TOPIC, RELEASED_TOPIC]],
                "fromBlock": start,
                "toBlock": end,
            }
        )

    def close(self) -> None:
        self._session.close()

"""Names of the ledger's metadata rows and counters, and the bound on the value it holds.

Genesis creation, the ledger and the sequencer read and write these rows;
keeping the names in one module keeps them from drifting apart.
"""

from __future__ import annotations

from typing import Final

from fontana.storage.base import MAX_STORED_INT

#: Largest amount or sum the ledger holds: databases store signed 64-bit integers.
MAX_LEDGER_AMOUNT: Final = MAX_STORED_INT

#: The canonical genesis bytes, hex.
META_GENESIS: Final = "genesis"
#: Timestamp of the block being collected: when the previous block was cut (the epoch lock row).
META_OPEN_TS: Final = "open_block_ts"
#: Total utia in existence (a counter): genesis plus deposits minus burns.
COUNTER_SUPPLY: Final = "supply"

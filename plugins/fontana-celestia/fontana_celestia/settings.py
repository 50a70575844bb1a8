"""The ``[celestia]`` config section (``FONTANA_CELESTIA_*`` in the environment)."""

from __future__ import annotations

import attrs

from fontana.config import secret

#: Stays under the pre-v6 limit of 1,973,786 bytes of blob data, with room for other txs.
DEFAULT_MAX_BLOB_SIZE = 1_900_000


@attrs.frozen
class CelestiaSettings:
    """How Fontana talks to celestia-node; the node's URL itself is ``da.url``."""

    #: The node's admin/write JWT (``celestia light auth write``); unset for a node run
    #: with ``--rpc.skip-auth``.
    auth_token: str | None = secret()
    #: One JSON-RPC call, including a submit's wait for inclusion (~2 Celestia blocks).
    timeout_ms: int = attrs.field(default=60_000, validator=attrs.validators.ge(1))
    #: Blobs above this are refused before any network call.
    max_blob_size: int = attrs.field(
        default=DEFAULT_MAX_BLOB_SIZE, validator=attrs.validators.ge(1)
    )

"""The node API: the ledger over HTTP (``fontana serve``), and the client that calls it.

See ``docs/node.md`` for the endpoints, who may call what, the limits and the
error codes; ``/openapi.json`` on a running node documents every operation.
The names below load on first use, so importing a submodule (the CLI imports
the server's defaults) pulls in no ledger code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fontana.node.app import NodeApp, create_app
    from fontana.node.client import NodeClient

__all__ = ["NodeApp", "NodeClient", "create_app"]

_HOMES = {
    "NodeApp": "fontana.node.app",
    "create_app": "fontana.node.app",
    "NodeClient": "fontana.node.client",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'fontana.node' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)

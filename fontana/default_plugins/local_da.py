"""Built-in plugin: the offline local DA layer (a durable blob log in a directory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import DAFactory, DALayer, RegisterBackend


def open_local_da(url: str, settings: Settings, namespace: bytes) -> DALayer:
    from fontana.da.local import LocalDA, local_da_dir

    return LocalDA(local_da_dir(url), namespace, settings.da.max_blob_size)


@hookimpl
def fontana_register_da_backends(register: RegisterBackend[DAFactory]) -> None:
    register(
        "local",
        open_local_da,
        schemes=("local",),
        description="durable append-only blob log in a local directory; the devnet default",
    )

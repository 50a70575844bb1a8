"""Entry point: the ``celestia`` DA backend, its ``[celestia]`` settings and the dev node command.

Imported by every ``fontana`` command, so pycelestia and websockets are imported
only when a Celestia layer is opened or the dev node runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

    from fontana.config import Settings
    from fontana.interfaces import DAFactory, DALayer, RegisterBackend, RegisterSettings
    from fontana_celestia.settings import CelestiaSettings

SCHEMES = ("celestia", "celestia+ws", "celestia+wss")


def open_celestia(url: str, settings: Settings, namespace: bytes) -> DALayer:
    from fontana_celestia.da import CelestiaDA

    config: CelestiaSettings = settings.section("celestia")
    return CelestiaDA(
        url,
        namespace,
        auth_token=config.auth_token,
        timeout_ms=config.timeout_ms,
        # The core's bound applies too: never promise the sequencer more than it may use.
        max_blob_size=min(config.max_blob_size, settings.da.max_blob_size),
    )


@hookimpl
def fontana_register_da_backends(register: RegisterBackend[DAFactory]) -> None:
    register(
        "celestia",
        open_celestia,
        schemes=SCHEMES,
        description="Celestia through celestia-node's JSON-RPC (celestia+ws://host:26658)",
    )


@hookimpl
def fontana_register_settings(register: RegisterSettings) -> None:
    from fontana_celestia.settings import CelestiaSettings

    register("celestia", CelestiaSettings)


@hookimpl
def fontana_register_commands(cli: click.Group) -> None:
    import click

    @cli.command("celestia-devnode")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", type=int, default=26658, show_default=True, help="0 picks a free one")
    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".celestia-devnode"),
        show_default=True,
        help="where blocks and blobs persist across restarts",
    )
    @click.option("--block-time-ms", type=click.IntRange(min=1), default=1000, show_default=True)
    @click.option("--auth-token", default=None, help="require 'Authorization: Bearer <token>'")
    @click.option(
        "--max-blob-size",
        type=click.IntRange(min=1),
        default=1_973_786,
        show_default=True,
        help="larger blobs fail with 'blob: over size limit'",
    )
    def celestia_devnode(
        host: str,
        port: int,
        data_dir: Path,
        block_time_ms: int,
        auth_token: str | None,
        max_blob_size: int,
    ) -> None:
        """Run a local stand-in for celestia-node's JSON-RPC API (development and tests)."""
        from fontana_celestia.devnode import DevNodeConfig, run

        run(
            DevNodeConfig(
                host=host,
                port=port,
                data_dir=data_dir,
                block_time_ms=block_time_ms,
                auth_token=auth_token,
                max_blob_size=max_blob_size,
            )
        )

"""``fontana init`` and ``fontana show``: create and inspect the local signing key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fontana.cli.output import emit, fail, json_option
from fontana.errors import FontanaError, WalletError
from fontana.files import decode_text, read_input_file

if TYPE_CHECKING:
    from fontana.wallet import KeyInfo

#: A passphrase is a line of text; a file far larger is the wrong file.
MAX_PASSPHRASE_FILE = 64 * 1024

_name_option = click.option(
    "--name", default=None, help="Key name (default: wallet.key_name, usually 'default')."
)


def _as_dict(info: KeyInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "address": info.address,
        "public_key": info.public_key.hex(),
        "path": str(info.path),
        "encrypted": info.encrypted,
    }


def _human(data: dict[str, Any]) -> str:
    rows = {**data, "encrypted": "yes" if data["encrypted"] else "no"}
    labels = {"public_key": "public key"}
    width = max(len(labels.get(k, k)) for k in rows) + 1
    return "\n".join(f"{(labels.get(k, k) + ':').ljust(width)} {v}" for k, v in rows.items())


def _read_passphrase_file(path: Path) -> str:
    def fail(reason: str) -> WalletError:
        return WalletError(f"passphrase file {path}: {reason}")

    try:
        raw = read_input_file(path, MAX_PASSPHRASE_FILE, fail)
    except FileNotFoundError:
        raise fail("no such file") from None
    # A trailing newline is an artefact of editors and `echo`, not part of the secret.
    return decode_text(raw, fail).rstrip("\r\n")


def _prompt_passphrase() -> str:
    # A terminal whose stdin decodes strictly raises on bytes that are not UTF-8;
    # one that surrogate-escapes them is caught when the passphrase is encoded.
    try:
        passphrase: str = click.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    except UnicodeDecodeError:
        raise WalletError("the passphrase is not valid UTF-8 text") from None
    return passphrase


@click.command("init")
@_name_option
@click.option("--force", is_flag=True, help="Replace an existing key of the same name.")
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Encrypt the key with the passphrase in this file.",
)
@click.option("--encrypt", is_flag=True, help="Encrypt the key; prompts for a passphrase twice.")
@json_option
def init_command(
    name: str | None, force: bool, passphrase_file: Path | None, encrypt: bool, as_json: bool
) -> None:
    """Create a signing key (never replaces one without --force)."""
    from fontana.config import load_settings
    from fontana.wallet import create_key, key_info

    if passphrase_file is not None and encrypt:
        raise click.UsageError("use either --passphrase-file or --encrypt, not both")
    try:
        settings = load_settings()
        if passphrase_file is not None:
            passphrase = _read_passphrase_file(passphrase_file)
        elif encrypt:
            passphrase = _prompt_passphrase()
        else:
            passphrase = settings.wallet.passphrase
        name = name or settings.wallet.key_name
        create_key(settings.home, name, passphrase=passphrase, force=force)
        info = key_info(settings.home, name)
        emit(_as_dict(info), as_json, lambda d: f"created key {d['name']!r}\n{_human(d)}")
    except FontanaError as exc:
        fail(exc, as_json)


@click.command("show")
@_name_option
@json_option
def show_command(name: str | None, as_json: bool) -> None:
    """Print the key's address and public key; needs no passphrase."""
    from fontana.config import load_settings
    from fontana.wallet import key_info

    try:
        settings = load_settings()
        info = key_info(settings.home, name or settings.wallet.key_name)
        emit(_as_dict(info), as_json, _human)
    except FontanaError as exc:
        fail(exc, as_json)

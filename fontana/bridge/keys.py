"""secp256k1 key files of the bridge: validator keys and the L1 sender's key.

One key per file, 64 hex digits (an optional ``0x``, surrounding white space
allowed), readable by its owner only (mode 0600, as the wallet's keys). This module reads
them for ``python-validator`` and the sender; ``native-validator`` reads the same
format in Rust (``rust/src/bridge/keys.rs``), so its keys never reach Python.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path
from typing import Final

from fontana.errors import ConfigError, FontanaError, KeyFilePermissionError
from fontana.files import read_input_file

#: The secp256k1 group order: a key is 1..N-1.
_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_KEY_RE: Final = re.compile(rb"\s*(?:0x)?([0-9a-fA-F]{64})\s*", re.ASCII)
_MAX_FILE: Final = 4096


def read_key_file(path: Path, what: str) -> bytes:
    """The 32-byte key in ``path``; ``config_invalid`` or ``key_permissions`` otherwise."""

    def fail(reason: str) -> FontanaError:
        return ConfigError(f"{what} {path}: {reason}")

    def private(st: os.stat_result) -> None:
        if st.st_mode & 0o077:
            raise KeyFilePermissionError(
                f"UNPROTECTED PRIVATE KEY FILE: permissions {stat.S_IMODE(st.st_mode):04o} for "
                f"{path} are too open; it must not be accessible by others. "
                f"Fix with: chmod 600 {path}"
            )

    try:
        raw = read_input_file(path, _MAX_FILE, fail, private)
    except FileNotFoundError:
        raise fail("no such file") from None
    match = _KEY_RE.fullmatch(raw)
    if match is None:
        raise fail("expected a secp256k1 key: 64 hex digits")
    key = bytes.fromhex(match[1].decode())
    if not 0 < int.from_bytes(key, "big") < _N:
        raise fail("not a valid secp256k1 key (zero or not below the group order)")
    return key


def write_key_file(path: Path, key: bytes | None = None) -> bytes:
    """Write ``key`` (a fresh one if None) to a new file of mode 0600; return it."""
    key = key if key is not None else _fresh()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def _fresh() -> bytes:
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < _N:
            return key

"""ed25519 keys on disk, stored SSH-style under ``<home>/keys``.

``keys/<name>`` holds the private key (mode 0600) in an ASCII armor around a
small versioned binary record; ``keys/<name>.pub`` holds ``<address> <name>``.
The record carries a checksum and the public key, so any damage is reported
as corruption instead of silently yielding a different key. The layout is
documented in ``docs/wallet.md``. Every failure leaves the files as they were.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import stat
import struct
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Final

import attrs
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.signing

from fontana.address import encode_address
from fontana.errors import (
    KeyExistsError,
    KeyFileCorruptError,
    KeyFilePermissionError,
    KeyNotFoundError,
    WalletError,
    WrongPassphraseError,
)
from fontana.files import read_input_file

DEFAULT_KEY_NAME: Final = "default"
KEYS_DIR: Final = "keys"
ARMOR_BEGIN: Final = "-----BEGIN FONTANA PRIVATE KEY-----"
ARMOR_END: Final = "-----END FONTANA PRIVATE KEY-----"
FORMAT_VERSION: Final = 1
MESSAGE_LEN: Final = 32

_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAGIC: Final = b"FNTK"
_HEADER: Final = struct.Struct(">4sBB")  # magic, version, kdf id
_KDF_PARAMS: Final = struct.Struct(">IQ16s")  # opslimit, memlimit (bytes), salt
_KDF_NONE: Final = 0
_KDF_ARGON2ID: Final = 1
_SEED_LEN: Final = 32
_BOX_LEN: Final = nacl.secret.SecretBox.NONCE_SIZE + _SEED_LEN + nacl.secret.SecretBox.MACBYTES
_PUBKEY_LEN: Final = 32
_CHECKSUM_LEN: Final = 8
_ARMOR_WIDTH: Final = 64
#: A key file is under 300 bytes; anything far larger is not one.
_MAX_FILE_SIZE: Final = 4096


@attrs.frozen
class Wallet:
    """An unlocked key: signs transactions for ``address``."""

    name: str
    signing_key: nacl.signing.SigningKey = attrs.field(repr=False)
    public_key: bytes
    address: str
    path: Path

    def sign(self, message32: bytes) -> bytes:
        """64-byte ed25519 signature of a 32-byte digest (callers hash first)."""
        if len(message32) != MESSAGE_LEN:
            raise ValueError(f"sign expects a {MESSAGE_LEN}-byte digest, got {len(message32)}")
        return self.signing_key.sign(message32).signature


@attrs.frozen
class KeyInfo:
    """What can be said about a key without its passphrase."""

    name: str
    address: str
    public_key: bytes
    encrypted: bool
    path: Path


@attrs.frozen
class _Record:
    """The decoded binary body of a private key file."""

    kdf: int
    opslimit: int
    memlimit: int
    salt: bytes
    secret: bytes  # the seed, or nonce + SecretBox ciphertext of the seed
    public_key: bytes


# --- paths ----------------------------------------------------------------


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise WalletError(
            f"invalid key name {name!r}: use 1-64 of A-Z a-z 0-9 _ -", code="bad_key_name"
        )
    return name


def key_path(home: Path, name: str = DEFAULT_KEY_NAME) -> Path:
    """Where the private key ``name`` lives (whether or not it exists)."""
    return home / KEYS_DIR / _check_name(name)


def _pub_path(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


# --- binary record ----------------------------------------------------------


def _checksum(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:_CHECKSUM_LEN]


def _pack(record: _Record) -> bytes:
    out = _HEADER.pack(_MAGIC, FORMAT_VERSION, record.kdf)
    if record.kdf == _KDF_ARGON2ID:
        out += _KDF_PARAMS.pack(record.opslimit, record.memlimit, record.salt)
    out += record.secret + record.public_key
    return out + _checksum(out)


def _unpack(data: bytes, path: Path) -> _Record:
    def corrupt(why: str) -> KeyFileCorruptError:
        return KeyFileCorruptError(f"key file {path} is corrupt: {why}")

    if len(data) < _HEADER.size + _CHECKSUM_LEN:
        raise corrupt("too short")
    body, checksum = data[:-_CHECKSUM_LEN], data[-_CHECKSUM_LEN:]
    if not secrets.compare_digest(_checksum(body), checksum):
        raise corrupt("checksum mismatch")
    magic, version, kdf = _HEADER.unpack_from(body)
    if magic != _MAGIC:
        raise corrupt("not a Fontana key")
    if version != FORMAT_VERSION:
        raise corrupt(f"unsupported format version {version} (this Fontana reads {FORMAT_VERSION})")
    offset = _HEADER.size
    opslimit = memlimit = 0
    salt = b""
    if kdf == _KDF_NONE:
        secret_len = _SEED_LEN
    elif kdf == _KDF_ARGON2ID:
        if len(body) < offset + _KDF_PARAMS.size:
            raise corrupt("truncated kdf parameters")
        opslimit, memlimit, salt = _KDF_PARAMS.unpack_from(body, offset)
        offset += _KDF_PARAMS.size
        # Bounded so a crafted file cannot make loading burn minutes or gigabytes.
        if not argon2id.OPSLIMIT_MIN <= opslimit <= argon2id.OPSLIMIT_SENSITIVE:
            raise corrupt(f"argon2id opslimit {opslimit} out of range")
        if not argon2id.MEMLIMIT_MIN <= memlimit <= argon2id.MEMLIMIT_SENSITIVE:
            raise corrupt(f"argon2id memlimit {memlimit} out of range")
        secret_len = _BOX_LEN
    else:
        raise corrupt(f"unknown kdf id {kdf}")
    if len(body) != offset + secret_len + _PUBKEY_LEN:
        raise corrupt(f"body is {len(body)} bytes, expected {offset + secret_len + _PUBKEY_LEN}")
    return _Record(
        kdf=kdf,
        opslimit=opslimit,
        memlimit=memlimit,
        salt=salt,
        secret=body[offset : offset + secret_len],
        public_key=body[offset + secret_len :],
    )


# --- armor ------------------------------------------------------------------


def _armor(data: bytes) -> bytes:
    text = base64.b64encode(data).decode("ascii")
    lines = [text[i : i + _ARMOR_WIDTH] for i in range(0, len(text), _ARMOR_WIDTH)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END, ""]).encode("ascii")


def _dearmor(raw: bytes, path: Path) -> bytes:
    try:
        lines = [line.strip() for line in raw.decode("ascii").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise KeyFileCorruptError(f"key file {path} is corrupt: not ASCII text") from None
    if len(lines) < 3 or lines[0] != ARMOR_BEGIN or lines[-1] != ARMOR_END:
        raise KeyFileCorruptError(f"key file {path} is corrupt: missing or damaged armor lines")
    text = "".join(lines[1:-1])
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise KeyFileCorruptError(f"key file {path} is corrupt: bad base64") from None
    # Only the canonical encoding is accepted, so no character can change unnoticed.
    if base64.b64encode(data).decode("ascii") != text:
        raise KeyFileCorruptError(f"key file {path} is corrupt: non-canonical base64")
    return data


# --- atomic writes ------------------------------------------------------------


def _ensure_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)


def _exists(path: Path) -> KeyExistsError:
    return KeyExistsError(f"key {path.name!r} exists at {path}; use --force to replace it")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    """Write ``data`` to ``path`` all-or-nothing; ``overwrite=False`` never clobbers."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists, unlike rename
            except FileExistsError:
                raise _exists(path) from None
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


# --- public API -----------------------------------------------------------------


def _passphrase_bytes(passphrase: str) -> bytes:
    """NFC UTF-8, so one typed passphrase unlocks on every platform and input method."""
    try:
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes from a non-UTF-8 terminal or environment
        raise WalletError("the passphrase is not valid UTF-8 text") from None


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> nacl.secret.SecretBox:
    secret = _passphrase_bytes(passphrase)
    key = argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, secret, salt, opslimit, memlimit)
    return nacl.secret.SecretBox(key)


def _wallet(name: str, signing_key: nacl.signing.SigningKey, path: Path) -> Wallet:
    public = bytes(signing_key.verify_key)
    return Wallet(name, signing_key, public, encode_address(public), path)


def create_key(
    home: Path,
    name: str = DEFAULT_KEY_NAME,
    passphrase: str | None = None,
    force: bool = False,
) -> Wallet:
    """Generate a key and store it, encrypted when a passphrase is given."""
    path = key_path(home, name)
    if passphrase == "":
        raise WalletError("the passphrase is empty; omit it to store the key unencrypted")
    if os.path.lexists(path) and not force:
        raise _exists(path)
    signing_key = nacl.signing.SigningKey.generate()
    seed = bytes(signing_key)
    public = bytes(signing_key.verify_key)
    if passphrase is None:
        record = _Record(_KDF_NONE, 0, 0, b"", seed, public)
    else:
        ops, mem = argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE
        salt = secrets.token_bytes(argon2id.SALTBYTES)
        box = bytes(_derive(passphrase, salt, ops, mem).encrypt(seed))
        record = _Record(_KDF_ARGON2ID, ops, mem, salt, box, public)
    wallet = _wallet(name, signing_key, path)
    try:
        _ensure_dir(home)
        _ensure_dir(path.parent)
        _write_atomic(path, _armor(_pack(record)), 0o600, overwrite=force)
        _write_atomic(_pub_path(path), f"{wallet.address} {name}\n".encode(), 0o644, overwrite=True)
    except OSError as exc:
        raise WalletError(
            f"cannot write key {name!r} at {path}: {exc.strerror or exc}", code="key_unwritable"
        ) from None
    return wallet


def _unreadable(path: Path) -> Callable[[str], WalletError]:
    def fail(reason: str) -> WalletError:
        return WalletError(f"key file {path}: {reason}", code="key_unreadable")

    return fail


def _read_private(path: Path) -> _Record:
    """The checked record of a private key file; refuses files others can read."""

    def check(st: os.stat_result) -> None:
        if st.st_mode & 0o077:
            raise KeyFilePermissionError(
                f"UNPROTECTED PRIVATE KEY FILE: permissions {stat.S_IMODE(st.st_mode):04o} for "
                f"{path} are too open; it must not be accessible by others. "
                f"Fix with: chmod 600 {path}"
            )

    try:
        raw = read_input_file(path, _MAX_FILE_SIZE, _unreadable(path), check)
    except FileNotFoundError:
        raise KeyNotFoundError(
            f"no key {path.name!r} at {path}; create one with `fontana init`"
        ) from None
    record = _unpack(_dearmor(raw, path), path)
    if record.kdf == _KDF_NONE:
        _signing_key(record.secret, record, path)
    return record


def _signing_key(seed: bytes, record: _Record, path: Path) -> nacl.signing.SigningKey:
    signing_key = nacl.signing.SigningKey(seed)
    if bytes(signing_key.verify_key) != record.public_key:
        raise KeyFileCorruptError(
            f"key file {path} is corrupt: stored public key does not match the private key"
        )
    return signing_key


def _read_pub_address(path: Path, public_key: bytes) -> str:
    """The address from ``<name>.pub``, which must agree with the private key."""
    expected = encode_address(public_key)
    pub = _pub_path(path)
    try:
        fields = read_input_file(pub, _MAX_FILE_SIZE, _unreadable(pub)).split()
    except FileNotFoundError:
        return expected  # the private key is authoritative, as with ssh
    if not fields or fields[0] != expected.encode("ascii"):
        raise KeyFileCorruptError(f"public key file {pub} does not match the private key {path}")
    return expected


def load_key(home: Path, name: str = DEFAULT_KEY_NAME, passphrase: str | None = None) -> Wallet:
    """Unlock a stored key; the passphrase is ignored for unencrypted keys."""
    path = key_path(home, name)
    record = _read_private(path)
    _read_pub_address(path, record.public_key)
    if record.kdf == _KDF_NONE:
        seed = record.secret
    elif not passphrase:
        raise WrongPassphraseError(f"key {name!r} is encrypted; a passphrase is required")
    else:
        box = _derive(passphrase, record.salt, record.opslimit, record.memlimit)
        try:
            seed = box.decrypt(record.secret)
        except nacl.exceptions.CryptoError:
            raise WrongPassphraseError(f"wrong passphrase for key {name!r}") from None
    return _wallet(name, _signing_key(seed, record, path), path)


def key_info(home: Path, name: str = DEFAULT_KEY_NAME) -> KeyInfo:
    """Address and encryption of a key, read without the passphrase."""
    path = key_path(home, name)
    record = _read_private(path)
    address = _read_pub_address(path, record.public_key)
    return KeyInfo(name, address, record.public_key, record.kdf != _KDF_NONE, path)


def list_keys(home: Path) -> list[str]:
    """Names of the stored private keys, sorted; unrelated files are skipped."""
    keys = home / KEYS_DIR
    if not keys.is_dir():
        return []
    return sorted(p.name for p in keys.iterdir() if _NAME_RE.fullmatch(p.name) and p.is_file())

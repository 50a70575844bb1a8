"""Key files: round trips, signatures, and every bad input rejected without side effects."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.signing
import pytest

from fontana.address import decode_address
from fontana.errors import (
    KeyExistsError,
    KeyFileCorruptError,
    KeyFilePermissionError,
    KeyNotFoundError,
    WalletError,
    WrongPassphraseError,
)
from fontana.wallet import (
    ARMOR_BEGIN,
    ARMOR_END,
    create_key,
    key_info,
    key_path,
    list_keys,
    load_key,
)

Snapshot = dict[str, tuple[bytes, int, int]]


def snapshot(home: Path) -> Snapshot:
    """Bytes, mtime and mode of every file under ``home``: proof that nothing changed."""
    out: Snapshot = {}
    for path in sorted(home.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(home))] = (data, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return out


def body_of(path: Path) -> bytes:
    lines = path.read_text().splitlines()
    assert lines[0] == ARMOR_BEGIN and lines[-1] == ARMOR_END
    return base64.b64decode("".join(lines[1:-1]), validate=True)


def write_body(path: Path, body: bytes, *, fix_checksum: bool = True) -> None:
    """Re-armor ``body`` (with a fresh checksum) in place, keeping mode 0600."""
    if fix_checksum:
        body = body[:-8] + hashlib.sha256(body[:-8]).digest()[:8]
    text = base64.b64encode(body).decode()
    path.write_text("\n".join([ARMOR_BEGIN, text, ARMOR_END, ""]))
    path.chmod(0o600)


def test_create_and_load_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    wallet = create_key(home)
    assert wallet.name == "default"
    assert wallet.path == home / "keys" / "default"
    assert len(wallet.public_key) == 32
    assert decode_address(wallet.address) == wallet.public_key
    loaded = load_key(home)
    assert loaded.public_key == wallet.public_key
    assert bytes(loaded.signing_key) == bytes(wallet.signing_key)
    assert stat.S_IMODE(wallet.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    pub = home / "keys" / "default.pub"
    assert pub.read_text() == f"{wallet.address} default\n"
    assert sorted(p.name for p in (home / "keys").iterdir()) == ["default", "default.pub"]
    assert "signing_key" not in repr(wallet)


def test_documented_layout_of_an_unencrypted_key(tmp_path: Path) -> None:
    wallet = create_key(tmp_path)
    body = body_of(wallet.path)
    assert len(body) == 78
    magic, version, kdf = struct.unpack_from(">4sBB", body)
    assert (magic, version, kdf) == (b"FNTK", 1, 0)
    assert body[6:38] == bytes(wallet.signing_key)
    assert body[38:70] == wallet.public_key
    assert body[70:] == hashlib.sha256(body[:70]).digest()[:8]


def test_encrypted_round_trip(tmp_path: Path) -> None:
    wallet = create_key(tmp_path, "enc", passphrase="correct horse")
    body = body_of(wallet.path)
    assert len(body) == 146
    assert body[5] == 1
    assert bytes(wallet.signing_key) not in body
    opslimit, memlimit = struct.unpack_from(">IQ", body, 6)
    assert (opslimit, memlimit) == (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE)
    loaded = load_key(tmp_path, "enc", passphrase="correct horse")
    assert bytes(loaded.signing_key) == bytes(wallet.signing_key)
    info = key_info(tmp_path, "enc")
    assert info.encrypted and info.address == wallet.address
    assert info.public_key == wallet.public_key


def test_passphrase_is_ignored_for_unencrypted_keys(tmp_path: Path) -> None:
    wallet = create_key(tmp_path)
    assert load_key(tmp_path, passphrase="unused").address == wallet.address
    assert not key_info(tmp_path, "default").encrypted


def test_sign_and_verify(tmp_path: Path) -> None:
    wallet = create_key(tmp_path)
    digest = hashlib.sha256(b"tx").digest()
    signature = wallet.sign(digest)
    assert len(signature) == 64
    verify_key = nacl.signing.VerifyKey(wallet.public_key)
    assert verify_key.verify(digest, signature) == digest
    with pytest.raises(nacl.exceptions.BadSignatureError):
        verify_key.verify(hashlib.sha256(b"other").digest(), signature)
    with pytest.raises(ValueError, match="32-byte"):
        wallet.sign(b"short")
    reloaded = load_key(tmp_path)
    assert reloaded.sign(digest) == signature  # ed25519 is deterministic


def test_overwrite_without_force_changes_nothing(tmp_path: Path) -> None:
    create_key(tmp_path, passphrase="pw")
    before = snapshot(tmp_path)
    with pytest.raises(KeyExistsError) as exc:
        create_key(tmp_path)
    assert exc.value.code == "key_exists"
    assert snapshot(tmp_path) == before


def test_force_replaces_the_key(tmp_path: Path) -> None:
    old = create_key(tmp_path)
    new = create_key(tmp_path, force=True)
    assert new.address != old.address
    assert load_key(tmp_path).address == new.address
    assert key_info(tmp_path, "default").address == new.address
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["default", "default.pub"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _bad_begin(path: Path) -> None:
    path.write_text(path.read_text().replace("BEGIN FONTANA", "BEGIN OPENSSH"))


def _no_end(path: Path) -> None:
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")


def _not_ascii(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\n", "\n\u00e9".encode(), 1))


def _bad_base64_char(path: Path) -> None:
    lines = path.read_text().splitlines()
    lines[1] = "*" + lines[1][1:]
    path.write_text("\n".join(lines) + "\n")


def _wrong_pubkey(path: Path) -> None:
    body = body_of(path)
    write_body(path, body[:-40] + bytes(nacl.signing.SigningKey.generate().verify_key) + body[-8:])


def _bad_checksum(path: Path) -> None:
    body = body_of(path)
    write_body(path, body[:-1] + bytes([body[-1] ^ 1]), fix_checksum=False)


def _future_version(path: Path) -> None:
    body = body_of(path)
    write_body(path, body[:4] + b"\x02" + body[5:])


def _unknown_kdf(path: Path) -> None:
    body = body_of(path)
    write_body(path, body[:5] + b"\x07" + body[6:])


def _extra_byte(path: Path) -> None:
    body = body_of(path)
    write_body(path, body[:-8] + b"\x00" + body[-8:])


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "empty": _empty,
    "bad begin armor": _bad_begin,
    "missing end armor": _no_end,
    "not ascii": _not_ascii,
    "invalid base64 char": _bad_base64_char,
    "wrong pubkey": _wrong_pubkey,
    "bad checksum": _bad_checksum,
    "future version": _future_version,
    "unknown kdf": _unknown_kdf,
    "extra byte": _extra_byte,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_file_is_rejected_and_left_alone(
    tmp_path: Path, corrupt: Callable[[Path], None]
) -> None:
    path = create_key(tmp_path).path
    corrupt(path)
    path.chmod(0o600)
    before = snapshot(tmp_path)
    with pytest.raises(KeyFileCorruptError) as exc:
        load_key(tmp_path)
    assert exc.value.code == "key_corrupt"
    assert str(path) in exc.value.message
    with pytest.raises(KeyFileCorruptError):
        key_info(tmp_path, "default")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("passphrase", [None, "pw"])
def test_every_flipped_base64_char_is_detected(tmp_path: Path, passphrase: str | None) -> None:
    path = create_key(tmp_path, passphrase=passphrase).path
    original = path.read_text()
    lines = original.splitlines()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for row in range(1, len(lines) - 1):
        for col, char in enumerate(lines[row]):
            if char == "=":
                continue
            flipped = alphabet[(alphabet.index(char) + 1) % 64]
            mutated = [*lines]
            mutated[row] = lines[row][:col] + flipped + lines[row][col + 1 :]
            path.write_text("\n".join(mutated) + "\n")
            before = snapshot(tmp_path)
            with pytest.raises(KeyFileCorruptError):
                load_key(tmp_path, passphrase=passphrase)
            assert snapshot(tmp_path) == before
    path.write_text(original)
    assert load_key(tmp_path, passphrase=passphrase).path == path


def test_encrypted_wrong_pubkey_is_corrupt_once_decrypted(tmp_path: Path) -> None:
    path = create_key(tmp_path, passphrase="pw").path
    (tmp_path / "keys" / "default.pub").unlink()
    _wrong_pubkey(path)
    before = snapshot(tmp_path)
    with pytest.raises(KeyFileCorruptError, match="public key does not match"):
        load_key(tmp_path, passphrase="pw")
    assert snapshot(tmp_path) == before


def test_absurd_kdf_limits_are_rejected_before_deriving(tmp_path: Path) -> None:
    path = create_key(tmp_path, passphrase="pw").path
    body = body_of(path)
    write_body(path, body[:10] + struct.pack(">Q", 2**40) + body[18:])
    before = snapshot(tmp_path)
    with pytest.raises(KeyFileCorruptError, match="memlimit"):
        load_key(tmp_path, passphrase="pw")
    assert snapshot(tmp_path) == before


def test_mismatched_pub_file_is_corrupt(tmp_path: Path) -> None:
    create_key(tmp_path)
    other = create_key(tmp_path, "other")
    pub = tmp_path / "keys" / "default.pub"
    pub.write_text(f"{other.address} default\n")
    before = snapshot(tmp_path)
    with pytest.raises(KeyFileCorruptError, match=r"default\.pub"):
        key_info(tmp_path, "default")
    with pytest.raises(KeyFileCorruptError):
        load_key(tmp_path)
    assert snapshot(tmp_path) == before


def test_missing_pub_file_falls_back_to_the_private_key(tmp_path: Path) -> None:
    wallet = create_key(tmp_path)
    (tmp_path / "keys" / "default.pub").unlink()
    assert key_info(tmp_path, "default").address == wallet.address
    assert load_key(tmp_path).address == wallet.address


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o004])
def test_open_permissions_are_rejected(tmp_path: Path, mode: int) -> None:
    path = create_key(tmp_path).path
    path.chmod(mode)
    before = snapshot(tmp_path)
    with pytest.raises(KeyFilePermissionError) as exc:
        load_key(tmp_path)
    assert exc.value.code == "key_permissions"
    assert "UNPROTECTED PRIVATE KEY FILE" in exc.value.message
    assert f"chmod 600 {path}" in exc.value.message
    assert f"{mode:04o}" in exc.value.message
    with pytest.raises(KeyFilePermissionError):
        key_info(tmp_path, "default")
    assert snapshot(tmp_path) == before


def test_owner_only_read_is_accepted(tmp_path: Path) -> None:
    path = create_key(tmp_path).path
    path.chmod(0o400)
    assert load_key(tmp_path).path == path


@pytest.mark.parametrize("passphrase", [None, "", "wrong"])
def test_wrong_or_missing_passphrase(tmp_path: Path, passphrase: str | None) -> None:
    create_key(tmp_path, passphrase="right")
    before = snapshot(tmp_path)
    with pytest.raises(WrongPassphraseError) as exc:
        load_key(tmp_path, passphrase=passphrase)
    assert exc.value.code == "wrong_passphrase"
    assert snapshot(tmp_path) == before


def test_passphrase_is_unicode_normalized(tmp_path: Path) -> None:
    create_key(tmp_path, passphrase="caf\u00e9")
    assert load_key(tmp_path, passphrase="cafe\u0301").name == "default"


def test_missing_key(tmp_path: Path) -> None:
    home = tmp_path / "absent"
    with pytest.raises(KeyNotFoundError) as exc:
        load_key(home)
    assert exc.value.code == "key_not_found"
    with pytest.raises(KeyNotFoundError):
        key_info(home, "default")
    assert not home.exists()
    create_key(tmp_path, "present")
    before = snapshot(tmp_path)
    with pytest.raises(KeyNotFoundError, match="fontana init"):
        load_key(tmp_path, "absent")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["", "a" * 65, "../evil", "a.pub", "with space", "x/y"])
def test_bad_key_names_create_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(WalletError) as exc:
        create_key(tmp_path, name)
    assert exc.value.code == "bad_key_name"
    with pytest.raises(WalletError):
        load_key(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WalletError, match="empty"):
        create_key(tmp_path, passphrase="")
    assert list(tmp_path.iterdir()) == []


def test_list_keys(tmp_path: Path) -> None:
    assert list_keys(tmp_path) == []
    create_key(tmp_path, "zeta")
    create_key(tmp_path, "alpha", passphrase="pw")
    (tmp_path / "keys" / ".alpha.tmp-abc").write_text("stray")
    (tmp_path / "keys" / "notes.txt").write_text("not a key")
    assert list_keys(tmp_path) == ["alpha", "zeta"]
    assert key_path(tmp_path, "zeta") == tmp_path / "keys" / "zeta"


def test_existing_home_keeps_its_mode(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    create_key(tmp_path)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


# --- special files and undecodable passphrases ---------------------------------------


def _specials(root: Path) -> dict[str, Path]:
    paths = {k: root / k for k in ("fifo", "dir", "loop", "zero")}
    os.mkfifo(paths["fifo"])
    paths["dir"].mkdir()
    os.symlink(paths["loop"], paths["loop"])
    os.symlink("/dev/zero", paths["zero"])
    return paths


@pytest.mark.parametrize("kind", ["fifo", "dir", "loop", "zero"])
@pytest.mark.parametrize("which", ["private", "public"])
def test_a_special_file_at_a_key_path_is_refused_without_reading(
    tmp_path: Path, kind: str, which: str
) -> None:
    """A FIFO would block the read forever (`fontana show` hung), /dev/zero never ends."""
    home = tmp_path / "home"
    create_key(home)
    path = key_path(home) if which == "private" else key_path(home).with_suffix(".pub")
    path.unlink()
    os.symlink(_specials(tmp_path)[kind], path)
    before = snapshot(home)
    for read in (lambda: key_info(home), lambda: load_key(home)):
        with pytest.raises(WalletError) as caught:
            read()
        assert caught.value.code == "key_unreadable" and str(path) in caught.value.message
    assert snapshot(home) == before


def test_keys_dir_that_is_a_file_is_a_typed_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "keys").write_text("not a directory")
    with pytest.raises(WalletError) as unreadable:
        key_info(home)
    assert unreadable.value.code == "key_unreadable"
    with pytest.raises(WalletError) as unwritable:
        create_key(home)
    assert unwritable.value.code == "key_unwritable"
    assert (home / "keys").read_text() == "not a directory"


def test_replacing_a_directory_at_the_key_path_is_a_typed_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_path(home).mkdir(parents=True)
    with pytest.raises(KeyExistsError):
        create_key(home)
    with pytest.raises(WalletError) as caught:
        create_key(home, force=True)
    assert caught.value.code == "key_unwritable"
    assert key_path(home).is_dir() and os.listdir(home / "keys") == ["default"]


def test_a_huge_key_file_is_refused_unread(tmp_path: Path) -> None:
    home = tmp_path / "home"
    create_key(home)
    with key_path(home).open("r+b") as fh:
        fh.truncate(1 << 30)  # sparse
    with pytest.raises(WalletError, match="larger than 4096 bytes"):
        key_info(home)


@pytest.mark.parametrize("passphrase", ["\udcff\udcfe", "caf\udce9"])
def test_undecodable_passphrase_is_a_wallet_error(tmp_path: Path, passphrase: str) -> None:
    """A passphrase from a non-UTF-8 terminal or environment arrives surrogate-escaped."""
    home = tmp_path / "home"
    with pytest.raises(WalletError, match="not valid UTF-8"):
        create_key(home, passphrase=passphrase)
    assert not home.exists()
    create_key(home, passphrase="right")
    with pytest.raises(WalletError, match="not valid UTF-8"):
        load_key(home, passphrase=passphrase)

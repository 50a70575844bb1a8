"""Reading a file that a user named: regular files only, bounded in size, typed errors.

A path from the command line, the environment or a config file may name a
FIFO (opening it blocks until a writer appears), a device (``/dev/zero`` never
ends), a directory, a symlink loop or something huge. Each is refused with the
caller's typed error before its contents are read; nothing is ever written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from fontana.errors import FontanaError

#: Opening with O_NONBLOCK returns at once for a FIFO without a writer; the
#: file type is checked before any read, so the flag never changes what is read.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "of an unknown kind")


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_input_file(
    path: Path,
    limit: int,
    fail: Callable[[str], FontanaError],
    check: Callable[[os.stat_result], None] | None = None,
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Every refusal is ``fail(reason)`` (``"not a regular file (a FIFO)"``,
    ``"cannot read: Permission denied"``, ...), except a missing file, which
    raises :class:`FileNotFoundError` so each caller can say it in its own
    words. ``check`` sees the file's status before anything is read.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise fail(f"cannot open: {_reason(exc)}") from None
    except ValueError:  # an embedded NUL
        raise fail("the path is not a valid file name") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise fail(f"not a regular file ({_kind(st.st_mode)})")
        if check is not None:
            check(st)
        if st.st_size > limit:
            raise fail(f"larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise fail(f"cannot read: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if size > limit:  # it grew while being read
        raise fail(f"larger than {limit} bytes")
    return b"".join(chunks)


def decode_text(data: bytes, fail: Callable[[str], FontanaError]) -> str:
    """``data`` as strict UTF-8, or ``fail`` naming the first bad byte's offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not valid UTF-8 (byte {exc.start})") from None

"""Read a saved message from a file a person names, within bounds.

`outreach classify FILE` (and anything else that reads .eml files) must not hang on a FIFO,
fill memory from /dev/zero or swallow a 50 MB attachment dump: only regular files up to
MAX_MESSAGE_BYTES are read, and each refusal is one line that says why.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from outreach.errors import InputFileError, OutreachError

MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # above any provider's message limit once encoded (Gmail 25 MB of attachments)


def read_message_file(path: str, *, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; InputFileError otherwise.

    Opened non-blocking first, so a FIFO with no writer is refused instead of waiting for ever,
    and checked with fstat on the open file, so what is read is what was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputFileError(path, "no such file; check the path") from None
    except PermissionError:
        raise InputFileError(path, "permission denied; check the file's permissions") from None
    except OSError as error:
        raise InputFileError(path, f"cannot open: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise OutreachError(f"{path} is a folder; pass the messages in it, e.g. {path.rstrip('/')}/*.eml")
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(path, f"is {_kind(info.st_mode)}, not a saved message; pass .eml files")
        if info.st_size > limit:
            raise InputFileError(path, f"is {_size(info.st_size)}, more than the {_size(limit)} a message may be; not read")
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        return _bounded(handle, path, limit)


def read_message_stream(stream: BinaryIO, *, name: str = "-", limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """At most `limit` bytes from a pipe (stdin); InputFileError if there is more."""
    return _bounded(stream, name, limit)


def _bounded(handle: BinaryIO, name: str, limit: int) -> bytes:
    data = handle.read(limit + 1)  # a file may grow between fstat and read
    if len(data) > limit:
        raise InputFileError(name, f"is more than the {_size(limit)} a message may be; not read")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.0f} MB" if count >= 1024 * 1024 else f"{count} bytes"

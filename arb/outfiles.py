"""Files arb creates or writes (the database's lock file, ``--out`` files and the partial files they are written
through) are opened without following a link: a symbolic link planted at such a name would otherwise have arb
empty and overwrite whatever it points to (``ln -s precious arb.db.lock`` left ``precious`` at 0 bytes after
``arb run``). What is there must be a regular file, or nothing: a link, a directory, a FIFO or a device is
refused with :class:`RefusedPath`, an :class:`OSError` whose ``strerror`` says which, for the caller's one line
(exit status 2 where it reaches the command line unwrapped: the path given names no file arb may write).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO, Literal, overload


class RefusedPath(OSError):
    """A path arb will not write: a link, or something other than a regular file."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def open_fd(path: str | Path, flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags | O_NOFOLLOW ...)``, refusing anything but a regular file. Opened non-blocking (a
    FIFO neither blocks the open nor is written) and switched back to blocking once known to be a file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW's answer for a link at the last component
            raise RefusedPath(errno.ELOOP, "is a symbolic link (arb does not write through links)", str(path)) from None
        if exc.errno == errno.ENXIO:  # a FIFO no one reads, opened for writing without blocking
            raise _refused(path, os.stat(path, follow_symlinks=False).st_mode) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(path, st.st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refused(path: str | Path, mode: int) -> RefusedPath:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return RefusedPath(errno.EINVAL, f"is {kind}, not a regular file", str(path))


@overload
def open_output(path: str | Path, *, binary: Literal[False] = False) -> IO[str]: ...
@overload
def open_output(path: str | Path, *, binary: Literal[True]) -> IO[bytes]: ...
def open_output(path: str | Path, *, binary: bool = False) -> IO[bytes] | IO[str]:
    """``path`` opened for writing from its start (created, or emptied once known to be a regular file), as
    ``open(path, "wb")`` or ``open(path, "w", encoding="utf-8")`` would, but never through a link."""
    fd = open_fd(path, os.O_WRONLY | os.O_CREAT)
    try:
        os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")

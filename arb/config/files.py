"""Reading a file the user names (a config, a sweep's grid, an optimisation's ranges): :func:`read_input_file`.

Where a config's files are: the config itself (``config.toml`` in the working directory unless named), its
capture, a path relative to the config file or ``bundled:<name>`` for the captures shipped in ``arb/data``,
and its kill-switch file, relative to the config file too. Only names and paths, imported by every command's
arguments (so nothing heavy): that a capture exists and opens is the preflight's to check
(``arb/runtime/preflight.py``), through the strict reader the run uses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DEFAULT_CONFIG = Path("config.toml")
BUNDLED_PREFIX = "bundled:"
BUNDLED_DIR = Path(__file__).parent.parent / "data"


def beside_config(text: str, config_path: Path) -> Path:
    """A path the config names: as written when absolute, else in the config file's directory (never the
    working directory, which is wherever the command happened to be started)."""
    path = Path(text)
    return path if path.is_absolute() else config_path.parent / path


def resolve_capture(capture: str, config_path: Path) -> Path:
    if capture.startswith(BUNDLED_PREFIX):
        return BUNDLED_DIR / f"{capture[len(BUNDLED_PREFIX):]}.jsonl.gz"
    return beside_config(capture, config_path)


def bundled_captures() -> list[str]:
    """The names ``bundled:<name>`` accepts: the captures shipped in ``arb/data``."""
    return sorted(p.name.removesuffix(".jsonl.gz") for p in BUNDLED_DIR.glob("*.jsonl.gz"))


# The most a config, a grid or a ranges file may hold. The shipped config is about 5 KB and a grid at the sweep's
# 10,000-point limit a few hundred; a file past this is not one of them (``/dev/zero`` would be read until memory
# ran out).
MAX_INPUT_BYTES = 1_000_000


class InputFileError(ValueError):
    """A file argument that is not a small regular file: the message is what is wrong, for the caller's line."""


def read_input_file(path: Path, limit: int = MAX_INPUT_BYTES) -> str:
    """The text of ``path``, a small file the user named: a regular file (not a FIFO, which would block the
    read forever, a device or a directory) of at most ``limit`` bytes, UTF-8. :class:`InputFileError` saying
    which it is not; FileNotFoundError, other OSErrors and UnicodeDecodeError as they come, for the caller to
    word (each caller's own "not found").

    Opened non-blocking (a FIFO's open would wait for a writer) and checked on the open file, not on its name
    before (which could be swapped in between); then read up to ``limit`` + 1 bytes and no further."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputFileError(_kind(mode))
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise InputFileError(f"larger than {limit:,} bytes")
    data = b"".join(chunks)
    return data.decode("utf-8")


def file_kind(path: Path) -> str:
    """What ``path``, there and not a regular file, is instead ("a directory", "a device"...), for a refusal's
    line."""
    return _kind(path.stat().st_mode)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"

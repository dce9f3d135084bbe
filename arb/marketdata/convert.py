"""Converting raw venue recordings to the capture format: what every venue's converter shares.

Each venue package with a converter (``arb/venues/<name>/convert.py``) runs its recording through its live
sync code and a :class:`BookStore`, and emits what the store saw, so a converted capture holds exactly the
events a live feed would have recorded, gaps included; it adds its ``arb convert <name>`` subcommand through
its adapter (``VenueAdapter.add_convert_command``).

Inputs are checked, not guessed at: a line that is not in the expected shape is a
:class:`~arb.errors.CaptureFormatError` naming the file and line, and an input with nothing to convert is a
:class:`~arb.errors.UsageError`, never an empty capture. :func:`write_capture` writes through a partial
file that becomes the output only when the conversion finished with at least one event.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, cast

from arb.errors import ConfigError, UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureLine, CaptureWriter
from arb.marketdata.recorder import partial_path

# What a malformed line raises while it is parsed and applied (orjson's decode error is a ValueError).
BAD_LINE = (ValueError, ArithmeticError, KeyError, IndexError, TypeError, AttributeError)


def collecting_store() -> tuple[BookStore, list[CaptureLine]]:
    """A store and the list its listener appends every event to (the converter drains it per line, and
    appends the line's trades to it in their place)."""
    store = BookStore()
    out: list[CaptureLine] = []
    store.add_listener(lambda event, _book: out.append(event))
    return store, out


def check_out(out: Path) -> None:
    """``--out`` names a file in an existing directory (checked before reading any input)."""
    if not out.parent.is_dir():
        raise ConfigError("command line", "--out", f"directory {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise ConfigError("command line", "--out", f"{str(out)!r} is a directory")


def input_file(path: Path) -> Path:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    return path


def open_raw(path: Path) -> IO[bytes]:
    """A raw recording, gunzipped when it is gzip (by its magic bytes, not its name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return cast(IO[bytes], gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb"))


def write_capture(events: Iterable[CaptureLine], out: Path, inputs: str) -> int:
    """Write ``events`` to ``out`` through a partial file that becomes ``out`` only when the conversion
    finished with at least one event: a failed or empty conversion leaves nothing behind."""
    partial = partial_path(out)
    try:
        with CaptureWriter(partial) as writer:
            writer.write_all(events)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: cannot read the input: {exc.__class__.__name__}: {exc}") from None
    except ValueError as exc:  # the writer refuses events out of time order
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if not writer.count:
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: nothing to convert: no book events came out; {out} not written")
    os.replace(partial, out)
    return writer.count

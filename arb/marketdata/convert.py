"""Converting raw venue recordings to the capture format: what every venue's converter shares.

Each venue package with a converter (``arb/venues/<name>/convert.py``) runs its recording through its live
sync code and a :class:`BookStore`, and emits what the store saw, so a converted capture holds exactly the
events a live feed would have recorded, gaps included; it adds its ``arb convert <name>`` subcommand through
its adapter (``VenueAdapter.add_convert_command``).

Every converter writes a snapshot the venue sent without its time by the capture format's one rule for it
(:func:`stamped`: ``marketdata/capture/snapshot_time.py``).

Inputs are checked, not guessed at: a line that is not in the expected shape, or longer than the capture
format's line limit (``capture.MAX_LINE``, refused before it is parsed), is a
:class:`~arb.errors.CaptureFormatError` naming the file and line, and an input with nothing to convert is a
:class:`~arb.errors.UsageError`, never an empty capture. An event the capture reader would refuse (a level
of ``NaN`` in a snapshot, a negative size) is refused by the writer with the reader's own check, naming the
input line it came from (:class:`Position`). :func:`write_capture` writes through a partial file that
becomes the output only when the conversion finished with at least one event, and :func:`check_out`
refuses an output that is one of the inputs before anything is read.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from arb.config.files import file_kind
from arb.errors import CaptureFormatError, ConfigError, UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import (
    CaptureEvent,
    CaptureLine,
    CaptureWriter,
    RefusedEvent,
    SnapshotTimes,
    checked_line,
)
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


def stamped(times: SnapshotTimes, lines: Iterable[CaptureLine]) -> Iterator[CaptureLine]:
    """One input line's events through ``times`` (a snapshot without exchange time waits for its first diff).
    A snapshot that waits is checked by the reader's rule at once, so a level the reader would refuse is named
    by the input line it came from, not by the line that lets it out."""
    for line in lines:
        if isinstance(line, CaptureEvent) and line.type == "snapshot" and line.exchange_ts is None:
            checked_line(line)
        yield from times.push(line)


@dataclass(slots=True)
class Position:
    """Where a converter is in its inputs: the file and line the events it yields now come from, kept up to
    date by the converter as it goes, so that an event the writer refuses is named by its input line."""

    source: str = ""
    line_no: int = 0


def check_out(out: Path, *inputs: Path) -> None:
    """``--out`` names a file in an existing directory that is none of ``inputs`` (checked before reading
    any input): not the same path, nor the same file by another name (a hard link, a symlink, a path through
    a linked directory), nor the partial file the output is written through."""
    if not out.parent.is_dir():
        raise ConfigError("command line", "--out", f"directory {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise ConfigError("command line", "--out", f"{str(out)!r} is a directory")
    partial = partial_path(out)
    for given in inputs:
        if _same_file(out, given):
            raise ConfigError("command line", "--out", f"{str(out)!r} is the input {str(given)!r} (the same "
                              "file): choose another --out")
        if _same_file(partial, given):
            raise ConfigError("command line", "--out", f"{str(out)!r} is written through {str(partial)!r}, "
                              f"which is the input {str(given)!r}: choose another --out")


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (the same device and inode, links followed); a path that does not
    exist is no file."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be looked at): not the same existing file
        return False


def input_file(path: Path) -> Path:
    if path.is_file():
        return path
    if path.exists():
        raise UsageError(f"{path}: {file_kind(path)}, not a recording")
    raise UsageError(f"{path}: no such file")


def open_raw(path: Path) -> IO[bytes]:
    """A raw recording, gunzipped when it is gzip (by its magic bytes, not its name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return cast(IO[bytes], gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb"))


def write_capture(events: Iterable[CaptureLine], out: Path, inputs: str, at: Position | None = None) -> int:
    """Write ``events`` to ``out`` through a partial file that becomes ``out`` only when the conversion
    finished with at least one event: a failed or empty conversion leaves nothing behind. An event the
    capture reader would refuse stops it with a :class:`CaptureFormatError` naming ``at``, the input line
    the converter was on."""
    partial = partial_path(out)
    writer = CaptureWriter(partial)  # refused (a link or a FIFO at its name): nothing made, nothing removed
    try:
        with writer:
            writer.write_all(events)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: cannot read the input: {exc.__class__.__name__}: {exc}") from None
    except RefusedEvent as exc:  # the reader's own check: a file it would refuse at this line
        partial.unlink(missing_ok=True)
        problem = f"an event from this line would be refused by arb's capture reader ({exc}); {out} not written"
        if at is None or not at.source:
            raise UsageError(f"{inputs}: {problem}") from None
        raise CaptureFormatError(at.source, at.line_no, problem) from None
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

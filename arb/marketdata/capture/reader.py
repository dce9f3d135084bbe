"""Reading capture files, strictly: the lines of a file, none longer than :data:`MAX_LINE`, each parsed and
checked (``parse.py``), in ``ts`` order, a book's deltas only after its snapshot; a damaged or missing file is
a :class:`~arb.errors.CaptureFormatError` naming the file and line, never a traceback."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Literal, cast, overload

from arb.errors import CaptureFormatError
from arb.marketdata.capture.events import CaptureEvent, CaptureLine
from arb.marketdata.capture.parse import parse_event
from arb.outfiles import open_output

# What reading a damaged file raises: OSError (a missing or unreadable file, a bad gzip header or CRC),
# EOFError (gzip cut short), zlib.error (corrupt deflate data). Never a traceback: a file:line error.
UNREADABLE = (OSError, EOFError, zlib.error)
# The longest line a capture (or a raw recording read by ``arb convert``) may have, refused before it is
# parsed. The deepest book a venue serves in one snapshot (Binance's 5,000 levels a side) is ~0.3 MB as a
# line: 16 MiB leaves 50x that, while bounding what one line can cost: its bytes, and the objects parsing
# makes of them (~10x), well under 500 MB. Without it one line is read whole, and a 2 MB gzip holding one
# 2 GiB line took a reader to 4-5 GB.
MAX_LINE = 16 << 20
EMPTY = "empty: a capture holds at least one event (arb never writes an empty one)"


def open_binary(path: Path, mode: Literal["rb", "wb"]) -> IO[bytes]:
    """``path`` opened in binary, through gzip when its name ends in ``.gz``: the reader's and the writer's. The
    writer's never through a link (``arb/outfiles.py``)."""
    if mode == "wb":
        raw = open_output(path, binary=True)
        # a GzipFile is a binary file, though typeshed does not declare it an IO[bytes] (convert.open_raw too)
        return cast(IO[bytes], _OwningGzip(str(path), raw)) if path.suffix == ".gz" else raw
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, mode))
    return open(path, mode)  # noqa: SIM115 - the caller closes it


class _OwningGzip(gzip.GzipFile):
    """A gzip stream over a file it was handed and closes with itself (``GzipFile`` leaves a given file open)."""

    def __init__(self, filename: str, raw: IO[bytes]) -> None:
        super().__init__(filename=filename, mode="wb", fileobj=raw)
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()  # closing a closed file does nothing


def too_long(limit: int = MAX_LINE) -> str:
    return f"a line longer than {limit >> 20} MiB (the longest line arb reads): refused before it is parsed"


def bounded_lines(fh: IO[bytes], source: str, limit: int = MAX_LINE) -> Iterator[bytes]:
    """The lines of ``fh`` (newline kept), none read past ``limit`` bytes: a longer one is a
    :class:`CaptureFormatError` naming ``source`` and its line, raised having read ``limit`` bytes of it (a
    gzip bomb of one endless line costs ``limit``, not the line). The reader and the converters read every
    line through here."""
    readline = fh.readline
    line_no = 0
    while raw := readline(limit + 1):
        line_no += 1
        if len(raw) > limit and raw[-1] != 10:  # 10: b"\n"; a last line may end without one
            raise CaptureFormatError(source, line_no, too_long(limit))
        yield raw


def _open_capture(path: Path, source: str) -> IO[bytes]:
    try:
        return open_binary(path, "rb")
    except OSError as exc:
        raise CaptureFormatError(source, 1, f"cannot open: {exc.strerror or exc}") from None


def check_not_empty(path: str | Path) -> None:
    """Raise :class:`CaptureFormatError` (line 1) when ``path`` cannot be opened, is damaged at its start,
    or holds nothing (0 bytes, or a gzip of nothing), as :func:`read_capture` would: a reader of many files
    (``timeline.py``) asks this of each before reading any."""
    path = Path(path)
    source = str(path)
    with _open_capture(path, source) as fh:
        try:
            empty = not fh.read(1)
        except UNREADABLE as exc:
            raise CaptureFormatError(source, 1, f"unreadable: {exc}") from None
    if empty:
        raise CaptureFormatError(source, 1, EMPTY)


@overload
def read_capture(path: str | Path, *, snapshotted: set[tuple[str, str]] | None = None,
                 trades: Literal[False] = False,
                 after: tuple[str, int] | None = None) -> Generator[CaptureEvent, None, int]: ...
@overload
def read_capture(path: str | Path, *, snapshotted: set[tuple[str, str]] | None = None, trades: bool,
                 after: tuple[str, int] | None = None) -> Generator[CaptureLine, None, int]: ...
def read_capture(path: str | Path, *, snapshotted: set[tuple[str, str]] | None = None, trades: bool = False,
                 after: tuple[str, int] | None = None) -> Generator[CaptureLine, None, int]:
    """Yield the events of a capture file, strictly: its book events, and with ``trades=True`` its trades
    too, interleaved in file order.

    Raises :class:`CaptureFormatError` naming the file and 1-based line number for a malformed line (a
    trade line too, yielded or not), an unknown ``type``, a ``ts`` lower than the line before (book or
    trade), or a ``delta`` (``reset``, ``gap``) for a (venue, symbol) that has had no ``snapshot`` yet; a
    trade needs none. Blank lines are errors too: the writer never produces them; so is a line longer than
    :data:`MAX_LINE` (before it is parsed, having read no more of it), and a file with no lines at all (0
    bytes, or a gzip of nothing). A file that cannot be opened, or a damaged gzip stream (cut short,
    corrupt, a bad CRC), is one too: the line it failed at.

    When it continues a timeline of files (``arb/marketdata/timeline.py``): ``snapshotted`` holds the
    (venue, symbol) books already snapshotted before this file (the reader adds this file's snapshots to
    it), and ``after`` names the previous file and the ``ts`` its last line had, before which this file
    must not start. Returns the ``ts`` of the file's last line: what ``yield from`` hands the timeline.
    """
    path = Path(path)
    source = str(path)
    last_ts = -1 if after is None else after[1]
    seen: set[tuple[str, str]] = set() if snapshotted is None else snapshotted
    with _open_capture(path, source) as fh:
        line_no = 0
        try:
            for line_no, raw in enumerate(bounded_lines(fh, source), start=1):  # noqa: B007 - used after the loop
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if not raw.strip():
                    raise CaptureFormatError(source, line_no, "blank line")
                event = parse_event(raw, source, line_no)
                if event.ts < last_ts:
                    raise CaptureFormatError(source, line_no, _backwards(event.ts, last_ts, line_no, after))
                last_ts = event.ts
                kind = event.type
                if kind == "snapshot":
                    seen.add((event.venue, event.symbol))
                elif kind in ("trade", "funding"):
                    if trades:
                        yield event
                    continue
                elif (event.venue, event.symbol) not in seen:
                    raise CaptureFormatError(
                        source, line_no, f"{kind} for {event.venue} {event.symbol} before any snapshot"
                    )
                yield event
        except UNREADABLE as exc:  # truncated or corrupt gzip
            raise CaptureFormatError(source, line_no + 1, f"unreadable: {exc}") from None
    if not line_no:
        raise CaptureFormatError(source, 1, EMPTY)
    return last_ts


def _backwards(ts: int, last_ts: int, line_no: int, after: tuple[str, int] | None) -> str:
    if line_no == 1 and after is not None:
        return (f"starts at ts {ts}, before {after[0]} ends (ts {after[1]}): the files of one timeline must "
                "follow each other in time, in name order")
    return f"ts {ts} is before the previous line's ts {last_ts}"

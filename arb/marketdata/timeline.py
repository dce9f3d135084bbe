"""Many capture files as one market timeline: a day per file, replayed in order as one run.

Wherever a capture is named (``arb replay CAPTURE``, ``[replay] capture``, ``arb sweep --capture``) it may
be one file, a directory (its ``*.jsonl`` and ``*.jsonl.gz`` files) or a glob. :func:`capture_files` says
which files that is, in name order (a day per file, named by its date, sorts in time order), and
:func:`read_timeline` reads them one after another as one stream of events through the strict reader
(``capture.read_capture``), adding the checks that span files:

- a file must not start before the previous file ended (its first ``ts`` at least the previous file's
  last): one error naming both files, since the name order would otherwise replay time backwards;
- a book snapshotted in an earlier file may take deltas in a later one (a day boundary cuts a stream, it
  does not reset it), as in one file;
- every file opens and holds something, checked of all of them before the first event is read
  (``capture.check_not_empty``): an empty day, or one that is not gzip, is refused at once, where ``arb
  config check`` (which reads only the first event) sees it too, not when the run reaches it.

Trade lines are read and checked in every file, and count for the files' order, whether or not they are
asked for (``trades=True``): a timeline is valid or not whoever reads it.

Every reader of a capture (the market source, the sandbox's own copy, the run's market-time origin, the
progress bar's count, the config check) goes through here, so one file and many read the same way.
"""

from __future__ import annotations

import glob
from collections.abc import Generator
from contextlib import closing
from pathlib import Path
from typing import Literal, overload

from arb.config.files import file_kind
from arb.errors import CaptureFormatError
from arb.marketdata.capture import (
    MAX_LINE,
    UNREADABLE,
    CaptureEvent,
    CaptureLine,
    check_not_empty,
    read_capture,
)

CAPTURE_SUFFIXES = (".jsonl", ".jsonl.gz")
WHAT_A_CAPTURE_IS = "a capture file, a directory of *.jsonl / *.jsonl.gz files, or a glob"


def capture_files(path: Path) -> tuple[Path, ...]:
    """The capture files ``path`` names, in name order; ``()`` when it names none."""
    if path.is_file():
        return (path,)
    if path.is_dir():
        return tuple(sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES)))
    if glob.has_magic(str(path)):
        return tuple(sorted(p for p in map(Path, glob.glob(str(path))) if p.is_file()))
    return ()


def no_capture_there(path: Path) -> str:
    """Why :func:`capture_files` found no capture at ``path``, in the words a one-line refusal starts with."""
    if path.is_dir():
        return "no *.jsonl or *.jsonl.gz file in the directory"
    if path.exists():
        return f"{file_kind(path)}, not a capture file"
    if glob.has_magic(str(path)):
        return "no capture file matches"
    return "capture file not found"


@overload
def read_timeline(path: Path, *, trades: Literal[False] = False) -> Generator[CaptureEvent, None, None]: ...
@overload
def read_timeline(path: Path, *, trades: bool) -> Generator[CaptureLine, None, None]: ...
def read_timeline(path: Path, *, trades: bool = False) -> Generator[CaptureLine, None, None]:
    """The events of every file ``path`` names, file after file, as one capture: its book events, and with
    ``trades=True`` its trades too, in file order (``capture.read_capture``; trade lines are checked and
    count for the files' time order either way).

    Raises :class:`CaptureFormatError` for what the strict reader refuses in any file (naming that file and
    line), for a file that starts before the previous one ended (naming both), for a file that is empty or
    does not open (all of them checked before the first event), and when ``path`` names no capture file at
    all.
    """
    files = capture_files(path)
    if not files:
        raise CaptureFormatError(str(path), 1, f"no capture there ({WHAT_A_CAPTURE_IS})")
    for file in files:
        check_not_empty(file)
    snapshotted: set[tuple[str, str]] = set()  # books snapshotted so far, in any file
    ended: tuple[str, int] | None = None  # the last file, and its last line's ts
    for file in files:
        # ``yield from``: the file's events pass through untouched, and its last ts comes back.
        last = yield from read_capture(file, snapshotted=snapshotted, trades=trades, after=ended)
        ended = (str(file), last)


def read_streams(path: Path) -> frozenset[tuple[str, str]]:
    """The (venue, symbol) streams of the capture ``path`` names: every line of every file read through
    :func:`read_timeline` (trades and funding lines too), so the whole capture is checked on the way and a
    damaged one raises its :class:`CaptureFormatError` (``file:line``) here. One pass at the reader's pace
    (the bundled two hours, 14,400 lines: about 0.2 s); memory: the set of streams."""
    with closing(read_timeline(path, trades=True)) as lines:
        return frozenset((line.venue, line.symbol) for line in lines)


# How the capture writer writes a trade line's type (compact JSON): the lines the replay never reads.
_TRADE_LINE = b'"type":"trade"'


def count_lines(path: Path) -> int:
    """Book events in a capture (one per line, less its trade lines, which a replay reads past), for the
    replay progress bar: a fast scan, no JSON parsing. A trade line is known by the writer's own spelling of
    its type; one written otherwise counts as an event (the bar then ends just short of full). The scan
    stops at a line longer than the reader's limit (``capture.MAX_LINE``), which the reader refuses when it
    gets there: a gzip bomb of one endless line is not decompressed to its end for a progress bar."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    count = 0
    tail = b""  # the end of the previous chunk: a trade's type may straddle two chunks
    open_line = 0  # bytes since the last newline
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n") - (tail + chunk).count(_TRADE_LINE)
                tail = chunk[1 - len(_TRADE_LINE):]
                newline = chunk.rfind(b"\n")
                open_line = open_line + len(chunk) if newline < 0 else len(chunk) - newline - 1
                if open_line > MAX_LINE:
                    break
    except UNREADABLE:  # damaged: the strict reader reports it (file:line) when it gets there
        pass
    return count


def count_events(path: Path) -> int:
    """Book events in every file ``path`` names (:func:`count_lines` of each): the progress bar's total."""
    return sum(map(count_lines, capture_files(path)))

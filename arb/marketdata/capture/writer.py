"""Writing captures, exactly: each event as its line, checked by the reader's own rule first (so nothing is
written that arb cannot read back), in ``ts`` order."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

from arb.errors import CaptureFormatError
from arb.marketdata.capture.events import CaptureLine
from arb.marketdata.capture.parse import parse_event
from arb.marketdata.capture.reader import MAX_LINE, open_binary, too_long


class RefusedEvent(ValueError):
    """An event the capture reader would refuse: :func:`checked_line` (and so the writer) does not write it.
    The message is the reader's own (``parse_event``), without a file or line: the writer's caller knows
    which input it came from."""


def checked_line(event: CaptureLine) -> bytes:
    """``event`` as its capture line (without the newline), checked by the reader's own rule: the line is
    parsed by :func:`parse_event` as a reader would parse it, so nothing is written that arb cannot read
    back. :class:`RefusedEvent` says what the reader would say."""
    try:
        line = event.to_json()
    except TypeError as exc:  # orjson: an integer (a seq, an id, a time) beyond 64 bits, which no reader reads
        raise RefusedEvent(f"not a capture line: {exc}") from None
    if len(line) > MAX_LINE:
        raise RefusedEvent(too_long())
    try:
        parse_event(line)
    except CaptureFormatError as exc:
        raise RefusedEvent(exc.problem) from None
    return line


class CaptureWriter:
    """Writes events, book events and trades, to a capture file (gzip when the name ends in ``.gz``), one
    JSON line each.

    Writes only what the reader reads back: an event the reader would refuse (a level of ``NaN``, a
    negative size, a price of 1e15: :func:`checked_line`) is :class:`RefusedEvent`, and one whose ``ts``
    is before the previous one a ``ValueError``; neither is written. Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] = open_binary(self.path, "wb")
        self._last_ts = -1
        self.count = 0

    def write(self, event: CaptureLine) -> None:
        if event.ts < self._last_ts:
            raise ValueError(f"capture events must be in ts order: {event.ts} after {self._last_ts}")
        line = checked_line(event)
        self._last_ts = event.ts
        self._fh.write(line + b"\n")
        self.count += 1

    def write_all(self, events: Iterable[CaptureLine]) -> None:
        for event in events:
            self.write(event)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

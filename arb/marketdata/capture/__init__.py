"""The arb capture format, version 1 (``docs/CAPTURE.md``): a strict reader and an exact writer.

A capture is JSON Lines, optionally gzip-compressed (``.gz``), one event per line: a book event
(:class:`CaptureEvent`) or a trade (:class:`CaptureTrade`). It is the contract between ``arb record``, the
converters, replay and the tests, so the reader refuses anything the format does not allow (and names the
file and line), and the writer never reformats a number: levels, trade prices and amounts stay the decimal
strings the venue sent, so a record -> replay round trip is byte-exact.

Readers yield book events only unless asked for trades (``trades=True``: trades and funding lines): everything that reads books
(replay, the sandbox's copy, analysis) reads a capture with trades exactly as one without, while every trade
line is still read and checked, and counts for the ``ts`` order.

One module per part of the format: ``events.py`` (the two line types, written as JSON), ``parse.py`` (one
line parsed and checked), ``reader.py`` (files read strictly, naming file:line), ``writer.py`` (lines
written only as the reader reads them back), ``snapshot_time.py`` (the writers' one rule for the time of a
snapshot the venue sent without one: taken from its first diff). Not compiled itself: with ``drops``
compiled, each side of a book line is checked in one C pass (``drops.capture_side``).
"""

from arb.marketdata.capture.events import (
    CaptureEvent,
    CaptureFunding,
    CaptureLine,
    CaptureTrade,
    EventType,
    Level,
    TradeSide,
)
from arb.marketdata.capture.parse import checked_funding, checked_trade, parse_event
from arb.marketdata.capture.reader import (
    EMPTY,
    MAX_LINE,
    UNREADABLE,
    bounded_lines,
    check_not_empty,
    read_capture,
)
from arb.marketdata.capture.snapshot_time import SnapshotTimes, snapshot_time
from arb.marketdata.capture.writer import CaptureWriter, RefusedEvent, checked_line

__all__ = [
    "EMPTY", "MAX_LINE", "UNREADABLE", "CaptureEvent", "CaptureFunding", "CaptureLine", "CaptureTrade", "CaptureWriter", "EventType",
    "Level", "RefusedEvent", "SnapshotTimes", "TradeSide", "bounded_lines", "check_not_empty", "checked_funding", "checked_line", "checked_trade",
    "parse_event", "read_capture", "snapshot_time",
]


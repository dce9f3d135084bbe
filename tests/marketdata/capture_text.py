"""Capture text written by hand in a test: the lines as given, unchecked (the writer, ``CaptureWriter``,
refuses what the reader would: a hostile capture needs lines it would not write)."""

from __future__ import annotations

from collections.abc import Iterable

from arb.marketdata.capture import CaptureLine


def dumps_events(events: Iterable[CaptureLine]) -> bytes:
    """All events as capture text, one JSON line each."""
    return b"".join(event.to_json() + b"\n" for event in events)

"""argparse ``type=`` converters that more than one command uses, so each argument is refused alike
everywhere: a value out of range is a usage error naming the argument (argparse adds ``argument --port:``),
exit status 2, never an exception deeper down (an ``OverflowError`` from the database driver, an
``OSError`` from ``bind``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from arb.config.files import BUNDLED_PREFIX, bundled_captures, resolve_capture

MAX_PORT = 65535
MAX_RUN_ID = 2**31 - 1  # runs.id is an INTEGER: 32 bits on PostgreSQL, the narrower of the two databases


def port(text: str) -> int:
    """A TCP port to listen on, 0 (any free port) to 65535."""
    return _integer(text, "port", 0, MAX_PORT)


def run_id(text: str) -> int:
    """A run's id: a positive integer the ``runs`` table can hold."""
    return _integer(text, "run id", 1, MAX_RUN_ID)


def _integer(text: str, what: str, low: int, high: int) -> int:
    shown = text if len(text) <= 24 else f"{text[:20]}..."
    try:
        value = int(text)
    except ValueError:  # also more digits than int() converts
        raise argparse.ArgumentTypeError(f"not an integer: {shown!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} {shown} is not between {low} and {high}")
    return value



def utc_instant(text: str) -> datetime:
    """An instant in UTC, an ISO date (its midnight) or datetime: ``2026-11-25``, ``2026-11-25T13:30``,
    ``2026-11-25T13:30:00Z``; a datetime with another offset is converted, one without is UTC."""
    shown = text if len(text) <= 40 else f"{text[:36]}..."
    try:
        at = datetime.fromisoformat(text.strip())
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves it past year 9999
        raise argparse.ArgumentTypeError(
            f"not an ISO date or datetime: {shown!r} (e.g. 2026-11-25 or 2026-11-25T13:30, UTC)") from None


def count(text: str) -> int:
    """How many rows to show: 1 to 1,000,000."""
    return _integer(text, "row count", 1, 1_000_000)


def bounded(what: str, low: int, high: int) -> Callable[[str], int]:
    """A converter for an integer from ``low`` to ``high`` (``arb optimize --trials``, ``--seed``)."""
    def convert(text: str) -> int:
        return _integer(text, what, low, high)

    return convert


def capture_argument(text: str) -> Path:
    """argparse ``type=`` for a capture on the command line: a path (relative to the working directory) or
    ``bundled:<name>``, as in the config. One that is not there, or a file of it that is empty or does not
    open (``capture.check_not_empty``, as the reader would refuse it), is a usage error (one line, exit 2)."""
    from arb.errors import CaptureFormatError
    from arb.marketdata.capture import check_not_empty
    from arb.marketdata.timeline import WHAT_A_CAPTURE_IS, capture_files, no_capture_there

    path = resolve_capture(text, Path("."))
    files = capture_files(path)
    if files:  # a file, or a directory or glob of them: one timeline
        try:
            for file in files:
                check_not_empty(file)
        except CaptureFormatError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return path
    if text.startswith(BUNDLED_PREFIX):
        raise argparse.ArgumentTypeError(
            f"no bundled capture {text[len(BUNDLED_PREFIX):]!r} (bundled: {', '.join(bundled_captures())})")
    raise argparse.ArgumentTypeError(f"{no_capture_there(path)}: {text!r} ({WHAT_A_CAPTURE_IS})")

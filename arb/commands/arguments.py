"""argparse ``type=`` converters that more than one command uses, so each argument is refused alike
everywhere: a value out of range is a usage error naming the argument (argparse adds ``argument --port:``),
exit status 2, never an exception deeper down (an ``OverflowError`` from the database driver, an
``OSError`` from ``bind``).
"""

from __future__ import annotations

import argparse

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



def count(text: str) -> int:
    """How many rows to show: 1 to 1,000,000."""
    return _integer(text, "row count", 1, 1_000_000)

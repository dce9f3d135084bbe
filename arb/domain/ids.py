"""Client order ids, generated locally and unique across restarts.

Gate's ``text`` field: ``t-`` followed by at most 28 bytes of ``[0-9A-Za-z_.-]``. The id is stored
before the order is sent, so after a crash the database knows what to look up.

Layout (after ``t-``): ``<session 11><purpose 1><counter base36>``. ``session`` is the process start
time in milliseconds (base36, 8 chars) plus 3 random base36 chars, so two processes started in the same
millisecond still differ; ``counter`` increases within the process. That leaves 16 chars of counter:
36**16 orders per process, far beyond anything that runs.

The venues arb simulates (the paper venue, the sandbox) issue their own order and trade ids with
:func:`next_venue_id`: numbers that stay unique across processes, so a second run into the same database
never reuses a trade id the first one stored (``fills`` is unique on ``(venue, trade_id)``).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable

PREFIX = "t-"
MAX_BODY_BYTES = 28
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_VALID = re.compile(r"^t-[0-9A-Za-z_.\-]{1,28}$")
PURPOSE_CODES = {"entry": "e", "unwind": "u", "complete": "c", "manual": "m"}


def to_base36(value: int) -> str:
    if value < 0:
        raise ValueError("base36 takes non-negative integers")
    digits = []
    while True:
        value, rem = divmod(value, 36)
        digits.append(_ALPHABET[rem])
        if value == 0:
            return "".join(reversed(digits))


def is_valid_client_id(text: str) -> bool:
    return bool(_VALID.match(text))


class ClientIdFactory:
    """Issues ``t-...`` ids; one instance per process (or per run)."""

    def __init__(
        self,
        *,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        salt: Callable[[], int] = lambda: secrets.randbelow(36**3),
    ) -> None:
        self.session = to_base36(now_ms()).rjust(8, "0")[-8:] + to_base36(salt()).rjust(3, "0")
        self._counter = 0

    def next(self, purpose: str = "entry") -> str:
        self._counter += 1
        code = PURPOSE_CODES[purpose]
        text = f"{PREFIX}{self.session}{code}{to_base36(self._counter)}"
        if len(text) - len(PREFIX) > MAX_BODY_BYTES:
            raise OverflowError("client order id counter exhausted")
        return text


class VenueIds:
    """Numeric ids, unique across processes: they count up by one from the wall clock in microseconds
    since the epoch at the first id the process issues.

    A later process starts past every id an earlier one issued unless that one issued more ids than
    microseconds passed between the two starts (a million a second, sustained). The ids stay decimal
    digits (Gate's order and trade ids are numeric strings; its WebSocket sends trade ids as JSON integers)
    and below 2**53 until the year 2255, so even a JSON reader that parses numbers as doubles keeps them
    exact; their first digits read as when the process started. One instance serves the whole process
    (:func:`next_venue_id`), so two sandboxes or paper venues in one process never share an id either, and
    the trades of one order get consecutive ids. A wall clock stepped back by more than the time between
    two runs could repeat ids; the store then records the clash as a fill conflict, never drops it.
    """

    def __init__(self, now_us: Callable[[], int] = lambda: time.time_ns() // 1000) -> None:
        self._now_us = now_us
        self._last: int | None = None
        self._lock = threading.Lock()  # `arb sandbox` and tests may run a venue in another thread

    def next(self) -> int:
        with self._lock:
            self._last = self._now_us() if self._last is None else self._last + 1
            return self._last


_PROCESS_VENUE_IDS = VenueIds()


def next_venue_id() -> int:
    """The next order or trade id of a simulated venue (paper, sandbox), unique across processes."""
    return _PROCESS_VENUE_IDS.next()

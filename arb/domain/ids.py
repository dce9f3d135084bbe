"""Client order ids, generated locally and unique across restarts.

Each venue states what a client order id may look like (:class:`ClientIdFormat`: a fixed prefix, an
alphabet and a maximum length); the venue's adapter in ``arb/venues/<name>/`` declares it, and
:meth:`ClientIdFactory.next` is given the format of the venue the order goes to. The id is stored before
the order is sent, so after a crash the database knows what to look up.

Layout (after the venue's prefix): ``<session 11><purpose 1><counter base36>``, lower-case letters and
digits only, so it fits every venue's alphabet. ``session`` is the process start time in milliseconds
(base36, 8 chars) plus 3 random base36 chars, so two processes started in the same millisecond still
differ; ``counter`` increases within the process. A 28-character body leaves 16 chars of counter: 36**16
orders per process, far beyond anything that runs.

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
from dataclasses import dataclass, field

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
PURPOSE_CODES = {"entry": "e", "unwind": "u", "complete": "c", "manual": "m", "quote": "q", "hedge": "h",
                 "flatten": "f"}


def to_base36(value: int) -> str:
    if value < 0:
        raise ValueError("base36 takes non-negative integers")
    digits = []
    while True:
        value, rem = divmod(value, 36)
        digits.append(_ALPHABET[rem])
        if value == 0:
            return "".join(reversed(digits))


@dataclass(frozen=True, slots=True)
class ClientIdFormat:
    """What one venue accepts as a client order id: ``prefix`` + a body matching ``body``, at most
    ``max_length`` characters in all (ASCII only, so characters are bytes)."""

    prefix: str = ""
    max_length: int = 32
    body: str = r"[0-9A-Za-z]+"  # a regular expression for the part after the prefix
    source: str = ""  # where the rule is documented
    _body: re.Pattern[str] = field(init=False, repr=False, compare=False)  # ``body`` compiled, once

    def __post_init__(self) -> None:
        if self.max_length - len(self.prefix) < MIN_BODY:
            raise ValueError(f"client ids of at most {self.max_length} characters leave no room for arb's ids")
        object.__setattr__(self, "_body", re.compile(self.body))

    def is_valid(self, text: str) -> bool:
        return (text.isascii() and len(text) <= self.max_length and text.startswith(self.prefix)
                and self._body.fullmatch(text[len(self.prefix):]) is not None)


MIN_BODY = 13  # session (11) + purpose (1) + at least one counter digit


class ClientIdFactory:
    """Issues client order ids in each venue's format; one instance per process (or per run)."""

    def __init__(
        self,
        *,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        salt: Callable[[], int] = lambda: secrets.randbelow(36**3),
    ) -> None:
        self.session = to_base36(now_ms()).rjust(8, "0")[-8:] + to_base36(salt()).rjust(3, "0")
        self._counter = 0

    def next(self, fmt: ClientIdFormat, purpose: str = "entry") -> str:
        """The next id, in the format of the venue the order goes to (``venue.client_ids``)."""
        self._counter += 1
        code = PURPOSE_CODES[purpose]
        text = f"{fmt.prefix}{self.session}{code}{to_base36(self._counter)}"
        if len(text) > fmt.max_length:
            raise OverflowError("client order id counter exhausted")
        if not fmt.is_valid(text):
            raise ValueError(f"arb's client ids do not fit the format {fmt}")
        return text


class VenueIds:
    """Numeric ids, unique across processes: they count up by one from the wall clock in microseconds
    since the epoch at the first id the process issues.

    A later process starts past every id an earlier one issued unless that one issued more ids than
    microseconds passed between the two starts (a million a second, sustained). The ids stay decimal
    digits (real venues' order and trade ids are often numeric strings, sent as JSON integers over WebSockets)
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


def restart_venue_ids(first: int) -> None:
    """Count this process's simulated-venue ids up from ``first``, from the next id on.

    For a process that runs many replays while other processes run theirs (an ``arb sweep`` worker). Counting
    from each replay's own wall-clock start is not enough there: two workers starting replays within a few
    hundred microseconds of each other (they do, forked from one server) count through the same numbers, and
    the merge found two replays' trades under one id. The sweep gives each replay a block of its own instead
    (``arb/sweep/point.py``: its start in microseconds plus the point's index times ``SWEEP_ID_BLOCK``); the
    merge still refuses a clash, never hides it."""
    global _PROCESS_VENUE_IDS
    _PROCESS_VENUE_IDS = VenueIds()
    _PROCESS_VENUE_IDS._last = first - 1


def next_venue_id() -> int:
    """The next order or trade id of a simulated venue (paper, sandbox), unique across processes."""
    return _PROCESS_VENUE_IDS.next()

"""A book snapshot's place on its venue's clock, where the venue sent none (``docs/CAPTURE.md``, "Events
without exchange time").

A snapshot read over REST may come without the venue's time (Binance spot's depth snapshot has none), while
the diffs around it carry theirs. A replay places each event at its venue by its exchange time
(``runtime/feed_latency.py``), and an unstamped event at its receive time: a snapshot received after the diff
it is synced against (its first diff, which straddles the snapshot's update id) would then be applied after
that diff on the venue's clock, and overwrite it: a level the diff deleted would stay in the simulated book
for good.

The rule: a snapshot without exchange time takes one from the first diff applied on it, that diff's
``exchange_ts`` less the time between the two lines' receipt, and at least 1 ms less:

    snapshot.exchange_ts = diff.exchange_ts - max(1, diff.ts - snapshot.ts)

So on the venue's clock the snapshot is never at or after the diff that follows it, and it never looks
faster than that diff travelled (``ts - exchange_ts`` is at least the diff's: the clock offset a replay reads
from the smallest such difference is not moved by it). A snapshot whose book has no stamped diff next (a
reset, a gap or another snapshot first, or none within :data:`HOLD_MS`) keeps no exchange time.

:class:`SnapshotTimes` applies it to a stream of lines in file order (the converters', the recorder's): the
lines after an unstamped snapshot wait until its book's next book event says its time, and then go on in
the order they came, so the file stays in ``ts`` order.
"""

from __future__ import annotations

import dataclasses

from arb.marketdata.capture.events import CaptureEvent, CaptureLine

# How long (receive time) lines wait for an unstamped snapshot's first diff before it goes on without a time:
# Binance sends a diff every 100 ms; a book silent for this long is not going to say when its snapshot was.
HOLD_MS = 5_000


def snapshot_time(snapshot: CaptureEvent, diff: CaptureEvent) -> int | None:
    """The rule: the exchange time of an unstamped ``snapshot`` from the first ``diff`` applied on it (None
    when the diff has none either)."""
    if diff.exchange_ts is None:
        return None
    return diff.exchange_ts - max(1, diff.ts - snapshot.ts)


class SnapshotTimes:
    """Stamps unstamped snapshots by :func:`snapshot_time` in a stream of capture lines, holding back the lines
    after one until its book's next book event (:meth:`push`), and letting out what is left at the end
    (:meth:`flush`)."""

    def __init__(self, hold_ms: int = HOLD_MS) -> None:
        self.hold_ms = hold_ms
        self.stamped = 0  # snapshots given a time by the rule
        self._held: list[CaptureLine] = []
        self._waiting: dict[tuple[str, str], int] = {}  # (venue, symbol) -> its unstamped snapshot's place

    def push(self, line: CaptureLine) -> list[CaptureLine]:
        """Take ``line``; the lines that can go on now, in their order (none while a snapshot waits)."""
        self._expire(line.ts)
        key = (line.venue, line.symbol)
        at = self._waiting.pop(key, None)
        if at is not None and isinstance(line, CaptureEvent):
            snapshot = self._held[at]
            assert isinstance(snapshot, CaptureEvent)
            when = snapshot_time(snapshot, line) if line.type == "delta" else None
            if when is not None:
                self._held[at] = dataclasses.replace(snapshot, exchange_ts=when)
                self.stamped += 1
        elif at is not None:
            self._waiting[key] = at  # a trade or funding line of the book: it still waits for a book event
        if isinstance(line, CaptureEvent) and line.type == "snapshot" and line.exchange_ts is None:
            self._waiting[key] = len(self._held)
        if not self._waiting and not self._held:
            return [line]
        self._held.append(line)
        return self._release()

    def flush(self) -> list[CaptureLine]:
        """Every line still held, in order (a snapshot still waiting keeps no exchange time)."""
        self._waiting.clear()
        return self._release()

    def _expire(self, now_ts: int) -> None:
        for key, at in list(self._waiting.items()):
            if now_ts - self._held[at].ts > self.hold_ms:
                del self._waiting[key]

    def _release(self) -> list[CaptureLine]:
        """The held lines before the first snapshot still waiting (all of them when none waits)."""
        upto = min(self._waiting.values(), default=len(self._held))
        if not upto:
            return []
        out, self._held = self._held[:upto], self._held[upto:]
        self._waiting = {key: at - upto for key, at in self._waiting.items()}
        return out

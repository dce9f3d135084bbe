"""The snapshot + diff-stream synchronisation rule shared by Binance spot and Gate v4 spot.

Both venues stream diffs carrying the first (``U``) and last (``u``) update id they contain, and serve a
REST snapshot carrying the id it includes (Binance ``lastUpdateId``, Gate ``id`` with ``with_id=true``).
The rule (Binance "how to manage a local order book"; Gate ``spot.order_book_update``, see gate-v4.md):

1. buffer diffs until a snapshot arrives;
2. drop buffered diffs with ``u <= id`` (already in the snapshot);
3. the first applied diff must have ``U <= id + 1 <= u``; if the oldest remaining diff starts after
   ``id + 1`` the snapshot is too old: fetch another;
4. afterwards every diff must have ``U == last_u + 1`` (older ones are dropped); ``U > last_u + 1`` is a
   gap: the book is marked ``gap`` and we start again at 1 with a new snapshot. Never a silently wrong book.

Steps 2-4 after the first diff are exactly :meth:`OrderBook.apply_delta`'s sequence rule, so a recorded
stream replays with the same outcome. This class owns buffering and tells its caller when to fetch.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from arb.marketdata.book_side import LevelIn
from arb.marketdata.books import BookStore


class SyncState(enum.StrEnum):
    WAITING = "waiting"  # buffering diffs, a snapshot is needed
    LIVE = "live"


@dataclass(slots=True)
class _Diff:
    bids: Sequence[LevelIn]
    asks: Sequence[LevelIn]
    first: int
    last: int
    ts: int
    exchange_ts: int | None


class DiffSync:
    """Keeps one (venue, symbol) book in a :class:`BookStore` in sync from diffs and snapshots.

    ``on_diff`` and ``on_snapshot`` return ``True`` when the caller must fetch a (new) snapshot.
    """

    def __init__(self, store: BookStore, venue: str, symbol: str, *, max_buffer: int = 10_000) -> None:
        self.store = store
        self.venue = venue
        self.symbol = symbol
        self.book = store.book(venue, symbol)
        self.state = SyncState.WAITING
        self.gaps = 0
        self._buffer: deque[_Diff] = deque(maxlen=max_buffer)

    def on_diff(
        self,
        bids: Sequence[LevelIn],
        asks: Sequence[LevelIn],
        first: int,
        last: int,
        ts: int,
        exchange_ts: int | None = None,
    ) -> bool:
        if self.state is SyncState.WAITING:
            self._buffer.append(_Diff(bids, asks, first, last, ts, exchange_ts))
            return True
        seq = self.book.seq
        if seq is not None and last <= seq:
            return False  # already contained (an overlap after a resync)
        if self.store.delta(self.venue, self.symbol, bids, asks, ts=ts, seq=last, first_seq=first,
                            exchange_ts=exchange_ts):
            return False
        # Not applied although newer than the book: a gap (the book is now marked ``gap``).
        self._lost_sync(_Diff(bids, asks, first, last, ts, exchange_ts))
        return True

    def on_snapshot(
        self,
        bids: Sequence[LevelIn],
        asks: Sequence[LevelIn],
        snapshot_id: int,
        ts: int,
        exchange_ts: int | None = None,
    ) -> bool:
        """Install a snapshot and replay the buffered diffs after it. Returns whether to fetch again."""
        buffered = [d for d in self._buffer if d.last > snapshot_id]
        self._buffer.clear()
        if self.state is SyncState.LIVE and self.book.seq is not None and snapshot_id <= self.book.seq:
            return False  # we are in sync and further along than this snapshot: ignore it
        if buffered and buffered[0].first > snapshot_id + 1:
            # The diffs we hold start after the snapshot: it is too old. Keep them, ask for another.
            self._buffer.extend(buffered)
            return True
        self.store.snapshot(self.venue, self.symbol, bids, asks, ts=ts, seq=snapshot_id,
                            exchange_ts=exchange_ts)
        self.state = SyncState.LIVE
        for diff in buffered:
            # Buffered diffs arrived before the snapshot but take effect after it: record them at the
            # snapshot's time so a capture stays in ts order.
            if self.on_diff(diff.bids, diff.asks, diff.first, diff.last, max(diff.ts, ts), diff.exchange_ts):
                return True
        return False

    def _lost_sync(self, diff: _Diff) -> None:
        self.gaps += 1
        self.state = SyncState.WAITING
        self._buffer.clear()
        self._buffer.append(diff)

    def reset(self) -> None:
        """Connection lost: everything buffered is suspect; wait for new diffs and a new snapshot."""
        self.state = SyncState.WAITING
        self._buffer.clear()
        self.book.reset()

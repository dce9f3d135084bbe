"""The snapshot + diff-stream synchronisation of a venue's book: Gate v4 spot, Binance spot and futures.

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

Venues differ only in steps 2 and 3 (which diffs a snapshot contains, which diff starts after it) and in
how step 4 chains diffs: a :class:`SyncRule` says the first two, and a diff that carries ``prev`` (Binance
futures ``pu``: the previous diff's ``u``; their ids skip between diffs) must have ``prev == last_u``
instead of ``U == last_u + 1``. Such a diff is handed to the book with ``first_seq = prev + 1``, so the
book's and the capture's one rule (``first_seq <= seq + 1``) checks the same chain on replay. The venue's
rule lives in its package (``arb/venues/<venue>/``); :data:`UPDATE_ID_RULE` is the plain one.

Every loss of sync goes through the :class:`BookStore` (``reset``, ``gap``), so listeners see it. Counters
say what happened to every diff: ``applied``, ``contained`` (already in the book: before or at the
snapshot, or an overlap), ``gaps`` (losses of sync); the rest waited for a snapshot that lined up.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from arb.marketdata.book_side import Levels
from arb.marketdata.books import BookStore


class SyncRule:
    """Which diffs a snapshot with id ``snapshot_id`` contains, and which one starts after it.

    The plain rule (Gate v4 spot, Binance spot): ``u <= id`` is contained, the first diff has
    ``U <= id + 1 <= u``. A venue with another rule subclasses this (``arb/venues/binance/sync.py``).
    """

    name = "update-id"

    def contained(self, first: int, last: int, snapshot_id: int) -> bool:
        return last <= snapshot_id

    def starts(self, first: int, last: int, snapshot_id: int) -> bool:
        return first <= snapshot_id + 1 <= last


UPDATE_ID_RULE = SyncRule()


class SyncState(enum.StrEnum):
    WAITING = "waiting"  # buffering diffs, a snapshot is needed
    LIVE = "live"


# For ``on_diff``, once a frame: ``SyncState.WAITING`` is a lookup through the enum's metaclass (~50 ns).
_WAITING = SyncState.WAITING


@dataclass(slots=True)
class _Diff:
    bids: Levels
    asks: Levels
    first: int
    last: int
    ts: int
    exchange_ts: int | None
    prev: int | None = None


class DiffSync:
    """Keeps one (venue, symbol) book in a :class:`BookStore` in sync from diffs and snapshots.

    ``on_diff`` and ``on_snapshot`` return ``True`` when the caller must fetch a (new) snapshot.
    """

    def __init__(self, store: BookStore, venue: str, symbol: str, *, max_buffer: int = 10_000,
                 rule: SyncRule = UPDATE_ID_RULE) -> None:
        self.store = store
        self.venue = venue
        self.symbol = symbol
        self.rule = rule
        self.book = store.book(venue, symbol)
        self.state = SyncState.WAITING
        self.gaps = 0
        self.applied = 0
        self.contained = 0
        self._starting = False  # a snapshot is in, no diff applied after it yet (a chained diff's first)
        self._buffer: deque[_Diff] = deque(maxlen=max_buffer)

    def on_diff(
        self,
        bids: Levels,
        asks: Levels,
        first: int,
        last: int,
        ts: int,
        exchange_ts: int | None = None,
        prev: int | None = None,
    ) -> bool:
        """One diff with update ids ``first``..``last`` (and ``prev``, where the venue chains by it).
        Returns whether the caller must fetch a snapshot."""
        if self.state is _WAITING:
            self._buffer.append(_Diff(bids, asks, first, last, ts, exchange_ts, prev))
            return True
        seq = self.book.seq
        if seq is not None and last <= seq:
            self.contained += 1
            return False  # already contained (an overlap after a resync)
        if prev is not None:  # chained by ``prev``: the book checks ``first_seq = prev + 1``
            if self._starting:
                # the venue's first-diff rule, or a diff chained to the snapshot id itself
                if seq is not None and prev != seq and not self.rule.starts(first, last, seq):
                    self._chain_broken(_Diff(bids, asks, first, last, ts, exchange_ts, prev))
                    return True
                first = seq + 1 if seq is not None else first  # the diff straddles the snapshot id
            elif prev != seq:
                self._chain_broken(_Diff(bids, asks, first, last, ts, exchange_ts, prev))
                return True
            else:
                first = prev + 1
        if self.store.delta(self.book, bids, asks, ts, last, first, exchange_ts):
            self.applied += 1
            self._starting = False
            return False
        # Not applied although newer than the book: a gap (the book is now marked ``gap``).
        self._lost_sync(_Diff(bids, asks, first, last, ts, exchange_ts, prev))
        return True

    def on_snapshot(
        self,
        bids: Levels,
        asks: Levels,
        snapshot_id: int,
        ts: int,
        exchange_ts: int | None = None,
    ) -> bool:
        """Install a snapshot and replay the buffered diffs after it. Returns whether to fetch again."""
        contained = self.rule.contained
        buffered = [d for d in self._buffer if not contained(d.first, d.last, snapshot_id)]
        if self.state is SyncState.LIVE and self.book.seq is not None and snapshot_id <= self.book.seq:
            return False  # we are in sync and further along than this snapshot: ignore it
        self.contained += len(self._buffer) - len(buffered)
        self._buffer.clear()
        head = buffered[0] if buffered else None
        if head is not None and head.prev != snapshot_id and not self.rule.starts(head.first, head.last, snapshot_id):
            # The diffs we hold start after the snapshot: it is too old. Keep them, ask for another.
            self._buffer.extend(buffered)
            return True
        self.store.snapshot(self.venue, self.symbol, bids, asks, ts=ts, seq=snapshot_id,
                            exchange_ts=exchange_ts)
        self.state = SyncState.LIVE
        self._starting = True
        for diff in buffered:
            # Buffered diffs arrived before the snapshot but take effect after it: record them at the
            # snapshot's time so a capture stays in ts order.
            if self.on_diff(diff.bids, diff.asks, diff.first, diff.last, max(diff.ts, ts), diff.exchange_ts,
                            diff.prev):
                return True
        return False

    def _chain_broken(self, diff: _Diff) -> None:
        """A chained diff does not follow the book: mark it ``gap`` through the store (listeners see it)."""
        self.store.gap(self.venue, self.symbol, ts=diff.ts)
        self._lost_sync(diff)

    def _lost_sync(self, diff: _Diff) -> None:
        self.gaps += 1
        self.state = SyncState.WAITING
        self._starting = False
        self._buffer.clear()
        self._buffer.append(diff)

    def resync(self, ts: int | None = None) -> None:
        """An update was lost where the ids cannot show it (a dropped frame): the book is ``gap`` (an
        event) until a new snapshot lines up with new diffs; everything buffered is suspect."""
        self.state = SyncState.WAITING
        self._starting = False
        self._buffer.clear()
        self.store.gap(self.venue, self.symbol, ts=ts)

    def reset(self, ts: int | None = None) -> None:
        """Connection lost: everything buffered is suspect; the book is ``syncing`` (an event) until new
        diffs and a new snapshot line up."""
        self.state = SyncState.WAITING
        self._starting = False
        self._buffer.clear()
        self.store.reset(self.venue, self.symbol, ts=ts)

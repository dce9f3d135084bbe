"""Binance's order-book sync rules: a REST depth snapshot plus the ``depthUpdate`` diff stream.

Spot ("how to manage a local order book correctly", spot API): drop diffs with ``u <= lastUpdateId``; the
first applied has ``U <= lastUpdateId + 1 <= u``; then every diff has ``U == previous u + 1``. That is
:data:`~arb.marketdata.diffsync.UPDATE_ID_RULE`.

USD-M and COIN-M futures: drop diffs with ``u < lastUpdateId``; the first applied has
``U <= lastUpdateId <= u``; then every diff has ``pu == previous u`` (update ids are shared across the
venue's streams, so ``U`` skips). :data:`FUTURES_RULE` says the first two; the chain is :class:`DiffSync`'s
``prev`` (a diff whose ``pu`` equals the snapshot id also follows it). Any break is a gap: the book is
``gap`` (an event every listener sees) until a new snapshot lines up with the buffered diffs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from arb.marketdata.book_side import LevelIn
from arb.marketdata.books import BookStore
from arb.marketdata.diffsync import UPDATE_ID_RULE, DiffSync, SyncRule
from arb.venues.binance.markets import BinanceMarket


class FuturesRule(SyncRule):
    name = "binance-futures"

    def contained(self, first: int, last: int, snapshot_id: int) -> bool:
        # ``u < lastUpdateId`` by the documented rule; ``u == lastUpdateId`` is in the snapshot too (its
        # last update is the snapshot's), so applying or dropping it gives the same book: we drop it.
        return last <= snapshot_id

    def starts(self, first: int, last: int, snapshot_id: int) -> bool:
        return first <= snapshot_id <= last


SPOT_RULE = UPDATE_ID_RULE
FUTURES_RULE = FuturesRule()


def book_sync(store: BookStore, market: BinanceMarket, venue: str, symbol: str) -> DiffSync:
    """The :class:`DiffSync` of one Binance book, with its market's rule."""
    return DiffSync(store, venue, symbol, rule=FUTURES_RULE if market.futures else SPOT_RULE)


def on_depth_update(sync: DiffSync, data: Mapping[str, Any], ts: int, futures: bool) -> bool:
    """Feed one ``depthUpdate`` payload; returns whether a snapshot must be fetched."""
    bids: Sequence[LevelIn] = data["b"]
    asks: Sequence[LevelIn] = data["a"]
    prev = int(data["pu"]) if futures else None
    return sync.on_diff(bids, asks, int(data["U"]), int(data["u"]), ts, data.get("E"), prev)


def on_depth_snapshot(sync: DiffSync, body: Mapping[str, Any], ts: int) -> bool:
    """Install a REST depth snapshot (``lastUpdateId``); returns whether another must be fetched."""
    return sync.on_snapshot(body["bids"], body["asks"], int(body["lastUpdateId"]), ts, body.get("E"))

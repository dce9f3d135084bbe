"""Binance books kept in sync by us: the ``depthUpdate`` diff stream + REST depth snapshots, on spot, USD-M
and COIN-M futures.

Binance's "how to manage a local order book correctly": open the diff stream, buffer its events, fetch a
REST depth snapshot, drop what it already contains, then apply every event in order; a break in the
update-id chain means starting again from a new snapshot. The connection, buffering, snapshot and resync
machinery is :class:`~arb.marketdata.diff_feed.DiffStreamFeed`'s; the sync rules (spot ``U == u + 1``,
futures ``pu``) are :mod:`.sync`'s. What is Binance's is here: the streams are named in the URL (a combined
stream, ``/stream?streams=<id>@depth@100ms/...``, so nothing is sent after connecting), frames come wrapped
as ``{"stream": ..., "data": {...}}``, and each market has its own hosts and snapshot limits.

Book sizes are as Binance gives them: base units on spot and USD-M, contracts on COIN-M
(:func:`~arb.venues.binance.markets.base_amount` converts).

Given a trade tape (``arb record``), the feed also asks for each symbol's ``<id>@trade`` stream on the same
connection, where the market serves it there (``Hosts.trades``), and puts every trade on the tape
(``trades.py`` reads it). USD-M serves trades on its ``/market`` path only, not on ``/public`` with the
depth stream: a USD-M recording has no trades (it would take a second connection).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arb.errors import UsageError
from arb.eventloop.clock import wall_ms
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureTrade
from arb.marketdata.diff_feed import TRADE, Diff, DiffStreamFeed, Snapshot, loads_object
from arb.marketdata.drops import Dropped, FrameDrops, checked_id, checked_levels, optional_int, update_ids
from arb.marketdata.trades import TradeTape
from arb.venues.binance.markets import BinanceMarket
from arb.venues.binance.sync import book_sync
from arb.venues.binance.trades import trade_of

SPEED = "100ms"  # the fastest diff stream spot and futures both serve (spot: 1000ms or 100ms)
SPOT_MAX_LIMIT = 5000  # spot depth: any limit up to 5000 levels
FUTURES_LIMITS = (5, 10, 20, 50, 100, 500, 1000)  # futures depth: only these


@dataclass(frozen=True, slots=True)
class Hosts:
    """Where one market's depth stream and snapshots are served (``ws`` + ``/stream``, ``rest`` + ``depth``),
    and whether ``ws`` serves the trade streams too."""

    ws: str
    rest: str
    depth: str
    trades: bool = True


HOSTS = {
    "spot": Hosts("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth"),
    # USD-M routes streams by path: ``@depth`` is high-frequency public data, served under ``/public``; the
    # unrouted legacy URLs are retired on 2026-04-23 (USD-M "Important WebSocket Change Notice"). Trades are
    # market data, served under ``/market``: not on this connection.
    "usdm": Hosts("wss://fstream.binance.com/public", "https://fapi.binance.com", "/fapi/v1/depth", trades=False),
    "coinm": Hosts("wss://dstream.binance.com", "https://dapi.binance.com", "/dapi/v1/depth"),
}


def snapshot_limit(market: BinanceMarket, limit: int) -> int:
    """The depth to ask for: ``limit`` levels or the next depth the market serves.

    Rounded up, never down: levels a snapshot leaves out stay missing until a diff touches their price,
    so a shallower book than asked would look thinner than the venue's. Futures answer any other depth
    with an error, which the feed would keep retrying; spot serves at most 5000 levels, however many are
    asked.
    """
    if limit < 1:
        raise ValueError(f"snapshot limit {limit} is not a positive number of levels")
    if market.futures:
        return next((n for n in FUTURES_LIMITS if n >= limit), FUTURES_LIMITS[-1])
    return min(limit, SPOT_MAX_LIMIT)


class BinanceBookFeed(DiffStreamFeed):
    """Keeps ``store`` books of ``symbols`` (unified: ``BTC/USDT``, ``BTC/USDT:USDT``, ``BTC/USD:BTC``) of
    one Binance ``market`` in sync until cancelled, under the venue name ``venue`` and the symbols as given
    (subscribed as the market ``market_names`` gives a symbol, where Binance names it differently).
    Books are keyed by Binance id (``BTCUSDT``, ``BTCUSD_PERP``).

    ``ws_url`` and ``rest_url`` replace the market's hosts (a stub, a proxy); the feed adds the paths."""

    # Alike in shape to venues/gate/feed.py and marketdata/ccxt_feed.py: the keyword arguments every book feed
    # takes (clock, rng, sleep, backoff, drops, market names), each stored for its own reconnect loop; kept
    # apart because each feed's protocol (REST polling, Binance's and Gate's diff streams) differs past them,
    # and a shared options object would make every caller and test build one.
    def __init__(
        self,
        store: BookStore,
        symbols: Sequence[str],
        *,
        venue: str,
        market: BinanceMarket,
        ws_url: str | None = None,
        rest_url: str | None = None,
        limit: int = 1000,
        clock_ms: Callable[[], int] = wall_ms,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        drops: FrameDrops | None = None,
        market_names: Mapping[str, str] | None = None,
        trades: TradeTape | None = None,
    ) -> None:
        self.symbols = list(symbols)
        self.market = market
        names = market_names or {}  # engine symbol -> Binance's market, where they differ
        ids = {market.venue_id(names.get(s, s)): s for s in self.symbols}
        if len(ids) < len(self.symbols):
            raise UsageError(f"{venue}: {', '.join(self.symbols)} name one Binance {market.label} book twice")
        syncs = {key: book_sync(store, market, venue, symbol) for key, symbol in ids.items()}
        hosts = HOSTS[market.key]
        super().__init__(store, venue, syncs, clock_ms=clock_ms, rng=rng, sleep=sleep, backoff_base=backoff_base,
                         backoff_cap=backoff_cap, drops=drops, trades=trades if hosts.trades else None)
        kinds = [f"@depth@{SPEED}"] + (["@trade"] if self.tape is not None else [])
        streams = "/".join(f"{key.lower()}{kind}" for key in ids for kind in kinds)  # stream names are lower case
        self.ws_url = f"{(ws_url or hosts.ws).rstrip('/')}/stream?streams={streams}"
        self.rest_url = (rest_url or hosts.rest).rstrip("/") + hosts.depth
        self.limit = snapshot_limit(market, limit)

    def _ws_endpoint(self) -> str:
        return self.ws_url

    def _route(self, data: str | bytes) -> tuple[str, Any] | None:
        frame = loads_object(data)
        payload = frame.get("data")
        if not isinstance(payload, dict):
            if "data" in frame or "stream" in frame:  # a stream frame without its event object
                raise Dropped("missing_field", "no 'data' object")
            if frame.get("error"):  # an answer to a request: we send none, so it changes no book
                raise Dropped("venue_error", str(frame["error"]), resync=False)
            return None
        if payload.get("e") != "depthUpdate":
            if self.tape is not None and payload.get("e") == "trade":
                return TRADE, payload
            return None  # another stream's event (``serverShutdown`` announces a disconnect: we reconnect)
        named = payload.get("s")
        if not isinstance(named, str):
            raise Dropped("missing_field", "no symbol 's'")
        return named, payload

    def _trade(self, payload: Any) -> CaptureTrade:
        named = payload.get("s")
        sync = self.syncs.get(named) if isinstance(named, str) else None
        if sync is None:
            raise Dropped("unknown_pair", f"a trade of {str(named)[:40]!r}", resync=False)
        try:
            return trade_of(payload, self.clock_ms(), self.venue, sync.symbol)
        except (KeyError, ValueError) as exc:
            raise Dropped("missing_field", f"trade: {type(exc).__name__}: {exc}", resync=False) from None

    def _diff(self, key: str, payload: Any) -> Diff:
        first, last = update_ids(payload.get("U"), payload.get("u"))
        prev = checked_id(payload.get("pu"), "pu") if self.market.futures else None
        bids, over_bids = checked_levels(payload.get("b"), "b")
        asks, over_asks = checked_levels(payload.get("a"), "a")
        return bids, asks, first, last, optional_int(payload.get("E")), prev, over_bids + over_asks

    def _snapshot_request(self, key: str) -> tuple[str, dict[str, str]]:
        return self.rest_url, {"symbol": key, "limit": str(self.limit)}

    def _snapshot(self, data: bytes) -> Snapshot:
        body = loads_object(data)
        snapshot_id = checked_id(body.get("lastUpdateId"), "lastUpdateId")
        bids, over_bids = checked_levels(body.get("bids"), "bids")
        asks, over_asks = checked_levels(body.get("asks"), "asks")
        return Snapshot(bids, asks, snapshot_id, optional_int(body.get("E")), over_bids + over_asks)

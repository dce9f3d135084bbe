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

Given a trade tape (``arb record``), the feed also asks for each symbol's ``<id>@trade`` stream and, on
futures, ``<id>@markPrice@1s`` (the perpetual's mark, index and the funding rate for its next funding time),
and puts every trade and funding line on the tape (``trades.py`` reads both). Spot and COIN-M serve them on
the depth connection. USD-M serves them only under ``/market``, not under ``/public`` with the depth stream
(its "Important WebSocket Change Notice": routed URLs), so a USD-M feed with a tape opens a second connection,
:class:`MarketStreams`, to ``/market/stream?streams=<id>@trade/<id>@markPrice@1s``: a
:class:`~arb.marketdata.diff_feed.DiffStreamFeed` with no books, so it reconnects by the same backoff and
counts malformed frames as drops like the depth connection; either connection's failure ends the feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from arb.errors import UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureFunding, CaptureTrade
from arb.marketdata.depth_scan import (
    ASKS,
    BIDS,
    END,
    FIRST,
    KEY,
    LAST,
    PREV,
    SKIP_INT,
    SKIP_STRING,
    TIME,
    FrameShape,
)
from arb.marketdata.depth_scan import COMPILED as SCAN_COMPILED
from arb.marketdata.diff_feed import FUNDING, TRADE, Diff, DiffStreamFeed, Snapshot, loads_object
from arb.marketdata.drops import Dropped, checked_diff, checked_id, checked_levels, optional_int
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.binance.markets import BinanceMarket
from arb.venues.binance.sync import book_sync
from arb.venues.binance.trades import funding_of, trade_of

SPEED = "100ms"  # the fastest diff stream spot and futures both serve (spot: 1000ms or 100ms)
SPOT_MAX_LIMIT = 5000  # spot depth: any limit up to 5000 levels
FUTURES_LIMITS = (5, 10, 20, 50, 100, 500, 1000)  # futures depth: only these


@dataclass(frozen=True, slots=True)
class Hosts:
    """Where one market's depth stream and snapshots are served (``ws`` + ``/stream``, ``rest`` + ``depth``),
    and its market streams (trades, mark price) where ``ws`` does not serve them (``market`` + ``/stream``)."""

    ws: str
    rest: str
    depth: str
    market: str | None = None


HOSTS = {
    "spot": Hosts("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth"),
    # USD-M routes streams by path: ``@depth`` is high-frequency public data, served under ``/public``; the
    # unrouted legacy URLs are retired on 2026-04-23 (USD-M "Important WebSocket Change Notice"). Trades and
    # the mark price are market data, served under ``/market``: a connection of their own.
    "usdm": Hosts("wss://fstream.binance.com/public", "https://fapi.binance.com", "/fapi/v1/depth",
                  market="wss://fstream.binance.com/market"),
    "coinm": Hosts("wss://dstream.binance.com", "https://dapi.binance.com", "/dapi/v1/depth"),
}
# Each market's depth frame byte for byte, read in one compiled pass (``marketdata/depth_scan.py``); a frame
# in any other shape is read by ``_route`` and ``_diff``.
_STREAM = (b'{"stream":', SKIP_STRING), (b',"data":{"e":"depthUpdate","E":', TIME)
_SIDES = (b',"b":', BIDS), (b',"a":', ASKS), (b"}}", END)
DEPTH_SHAPES = {
    "spot": FrameShape((*_STREAM, (b',"s":', KEY), (b',"U":', FIRST), (b',"u":', LAST), *_SIDES)),
    "usdm": FrameShape((*_STREAM, (b',"T":', SKIP_INT), (b',"s":', KEY), (b',"U":', FIRST), (b',"u":', LAST),
                        (b',"pu":', PREV), *_SIDES)),
    "coinm": FrameShape((*_STREAM, (b',"T":', SKIP_INT), (b',"s":', KEY), (b',"ps":', SKIP_STRING),
                         (b',"U":', FIRST), (b',"u":', LAST), (b',"pu":', PREV), *_SIDES)),
}
MARK_PRICE = "@markPrice@1s"  # a perpetual's mark, index and funding rate, once a second


def market_ws_url(hosts: Hosts, ws_url: str | None) -> str | None:
    """Where the market streams are served apart from the depth stream: the market's own host, or, for a
    ``ws_url`` given in place of the depth host (a stub, a proxy), its ``/market`` sibling (a URL ending in
    ``/public`` has that replaced, any other has ``/market`` added). None where the depth connection serves
    them."""
    if hosts.market is None:
        return None
    if ws_url is None:
        return hosts.market
    root = ws_url.rstrip("/")
    return root.removesuffix("/public") + "/market"


def tape_kinds(market: BinanceMarket) -> list[str]:
    """The streams of one symbol that go on the tape: its trades, and a perpetual's mark price."""
    return ["@trade"] + ([MARK_PRICE] if market.futures else [])


def route_tape(payload: dict[str, Any]) -> tuple[str, Any] | None:
    """A trade or mark-price event as :data:`TRADE` or :data:`FUNDING`; None for any other event."""
    kind = payload.get("e")
    if kind == "trade":
        return TRADE, payload
    if kind == "markPriceUpdate":
        return FUNDING, payload
    return None


def _symbol_of(ids: Mapping[str, str], payload: Any, what: str) -> str:
    named = payload.get("s")
    symbol = ids.get(named) if isinstance(named, str) else None
    if symbol is None:
        raise Dropped("unknown_pair", f"{what} of {str(named)[:40]!r}", resync=False)
    return symbol


def read_trade(ids: Mapping[str, str], payload: Any, ts: int, venue: str) -> CaptureTrade:
    """A routed ``trade`` event as a capture trade of the symbol ``ids`` gives its Binance id."""
    symbol = _symbol_of(ids, payload, "a trade")
    try:
        return trade_of(payload, ts, venue, symbol)
    except (KeyError, ValueError) as exc:
        raise Dropped("missing_field", f"trade: {type(exc).__name__}: {exc}", resync=False) from None


def read_funding(ids: Mapping[str, str], payload: Any, ts: int, venue: str) -> list[CaptureFunding]:
    """A routed ``markPriceUpdate`` event as the funding line of the symbol ``ids`` gives its Binance id."""
    symbol = _symbol_of(ids, payload, "a mark price")
    try:
        return [funding_of(payload, ts, venue, symbol)]
    except (KeyError, ValueError) as exc:
        raise Dropped("missing_field", f"markPrice: {type(exc).__name__}: {exc}", resync=False) from None


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
    one Binance ``market`` in sync until cancelled, under the setup's venue name and the symbols as given
    (subscribed as the market the setup names a symbol by, where Binance names it differently).
    Books are keyed by Binance id (``BTCUSDT``, ``BTCUSD_PERP``).

    ``ws_url`` and ``rest_url`` replace the market's hosts (a stub, a proxy); the feed adds the paths."""

    def __init__(
        self,
        store: BookStore,
        symbols: Sequence[str],
        setup: FeedSetup,
        *,
        market: BinanceMarket,
        ws_url: str | None = None,
        rest_url: str | None = None,
        limit: int = 1000,
    ) -> None:
        self.symbols = list(symbols)
        self.market = market
        ids = {market.venue_id(setup.market(s)): s for s in self.symbols}
        if len(ids) < len(self.symbols):
            raise UsageError(f"{setup.venue}: {', '.join(self.symbols)} name one Binance {market.label} book twice")
        syncs = {key: book_sync(store, market, setup.venue, symbol) for key, symbol in ids.items()}
        hosts = HOSTS[market.key]
        apart = market_ws_url(hosts, ws_url) if setup.trades is not None else None
        super().__init__(store, syncs, setup if apart is None else replace(setup, trades=None))
        self.ids = ids
        self.prev_key = "pu" if market.futures else None  # futures chain diffs by the previous one's ``u``
        kinds = [f"@depth@{SPEED}"] + (tape_kinds(market) if self.tape is not None else [])
        self.ws_url = stream_url(ws_url or hosts.ws, ids, kinds)
        self.rest_url = (rest_url or hosts.rest).rstrip("/") + hosts.depth
        self.limit = snapshot_limit(market, limit)
        if SCAN_COMPILED:
            self.scan = DEPTH_SHAPES[market.key].scan
        # USD-M with a tape: trades and the mark price on a connection of their own.
        self.market_streams = None if apart is None else MarketStreams(
            store, ids, stream_url(apart, ids, tape_kinds(market)), setup)

    async def run(self) -> None:
        """The depth connection, and the market streams' where they are apart, until cancelled; either one
        failing ends both and raises its error."""
        if self.market_streams is None:
            await super().run()
            return
        tasks = [asyncio.create_task(super().run()), asyncio.create_task(self.market_streams.run())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # each runs until cancelled: one that ended raised
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

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
            if self.tape is not None:
                return route_tape(payload)
            return None  # another stream's event (``serverShutdown`` announces a disconnect: we reconnect)
        named = payload.get("s")
        if not isinstance(named, str):
            raise Dropped("missing_field", "no symbol 's'")
        return named, payload

    def _trade(self, payload: Any) -> CaptureTrade:
        return read_trade(self.ids, payload, self.clock_ms(), self.venue)

    def _funding(self, payload: Any) -> list[CaptureFunding]:
        return read_funding(self.ids, payload, self.clock_ms(), self.venue)

    def _diff(self, key: str, payload: Any) -> Diff:
        return checked_diff(payload, "E", self.prev_key)

    def _snapshot_request(self, key: str) -> tuple[str, dict[str, str]]:
        return self.rest_url, {"symbol": key, "limit": str(self.limit)}

    def _snapshot(self, data: bytes) -> Snapshot:
        body = loads_object(data)
        snapshot_id = checked_id(body.get("lastUpdateId"), "lastUpdateId")
        bids, over_bids = checked_levels(body.get("bids"), "bids")
        asks, over_asks = checked_levels(body.get("asks"), "asks")
        return Snapshot(bids, asks, snapshot_id, optional_int(body.get("E")), over_bids + over_asks)


def stream_url(ws_url: str, ids: Mapping[str, str], kinds: Sequence[str]) -> str:
    """A combined stream of ``kinds`` for every Binance id (stream names are lower case)."""
    streams = "/".join(f"{key.lower()}{kind}" for key in ids for kind in kinds)
    return f"{ws_url.rstrip('/')}/stream?streams={streams}"


class MarketStreams(DiffStreamFeed):
    """USD-M's market streams of a book feed's symbols (trades, mark price) on their own connection: no book
    is kept here (``syncs`` is empty, so a reconnect resets none and nothing is ever snapshotted); every line
    goes on the setup's tape, stamped by the book feed's clock, and malformed frames are counted in its ``drops``
(the book feed's own setup)."""

    def __init__(self, store: BookStore, ids: Mapping[str, str], url: str, setup: FeedSetup) -> None:
        super().__init__(store, {}, setup)
        self.ids = dict(ids)
        self.ws_url = url

    def _ws_endpoint(self) -> str:
        return self.ws_url

    def _route(self, data: str | bytes) -> tuple[str, Any] | None:
        frame = loads_object(data)
        payload = frame.get("data")
        if not isinstance(payload, dict):
            if "data" in frame or "stream" in frame:
                raise Dropped("missing_field", "no 'data' object", resync=False)
            if frame.get("error"):
                raise Dropped("venue_error", str(frame["error"]), resync=False)
            return None
        return route_tape(payload)

    def _trade(self, payload: Any) -> CaptureTrade:
        return read_trade(self.ids, payload, self.clock_ms(), self.venue)

    def _funding(self, payload: Any) -> list[CaptureFunding]:
        return read_funding(self.ids, payload, self.clock_ms(), self.venue)

    # No book on this connection: nothing ever asks for a snapshot.
    def _diff(self, key: str, payload: Any) -> Diff:
        raise NotImplementedError("the market streams keep no book")

    def _snapshot_request(self, key: str) -> tuple[str, dict[str, str]]:
        raise NotImplementedError("the market streams keep no book")

    def _snapshot(self, data: bytes) -> Snapshot:
        raise NotImplementedError("the market streams keep no book")

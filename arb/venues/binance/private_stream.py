"""Binance spot's private stream, the account's side, through ccxt: :class:`BinancePrivateStream` is Binance's
:class:`~arb.domain.venue.FillStream`.

ccxt.pro's ``binance`` subscribes to the account's user data on Binance's WebSocket API
(``userDataStream.subscribe.signature``: the request signed with the account's key, HMAC-SHA256 of its sorted
parameters) and turns each ``executionReport`` into an order update (``watch_orders``) and, for an execution
of type ``TRADE``, into a trade (``watch_my_trades``). Each trade is normalized by the same
:func:`~arb.venues.live.normalize.fill_report` as a REST trade, so a pushed fill and the same fill read back by
REST are one :class:`~arb.domain.venue.FillReport` (its trade id keys it).

A push is not a guarantee: while the socket is down trades happen and nobody hears them. So the stream keeps,
per order it knows of (placed through arb and :meth:`~BinancePrivateStream.track`-ed, or seen on the stream),
whether it is open, how much Binance says has filled (``z``, the cumulative filled amount) and how much of
that has been delivered. After every (re)subscription, acknowledged before anything else (pushes from then on
are heard), it reconciles by REST every order that is open or filled more than was delivered: the order's
trades by order id (``GET /api/v3/myTrades?orderId=``, the venue's ``fetch_fills(..., order_id=...)``). Every
trade is delivered once, by trade id, whether it came by push, by a repeated push or by REST.

Failures: ccxt's ``NetworkError`` (a drop, a refused connection, a REST lookup that timed out) re-subscribes
after a full-jitter backoff and reconciles again. Anything else (a refused subscription: a wrong key, a clock
off; an exception from a listener) ends :meth:`~BinancePrivateStream.run` with the error, for the engine's
supervisor to log, count and restart (``runtime/supervisor.py``), as every feed does.

Spot only: USD-M and COIN-M take their user data from a listen key's stream (``ORDER_TRADE_UPDATE``), which
arb does not read yet (:data:`STREAMED`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from arb.backoff import full_jitter
from arb.domain.venue import FillListener, FillReport
from arb.venues.live import normalize
from arb.venues.live.quirks import LiveQuirks

log = logging.getLogger(__name__)

STREAMED = ("binance",)  # the ccxt ids whose fills arb streams: spot
ZERO = Decimal(0)
FINAL = ("closed", "canceled", "expired", "rejected")  # ccxt's order statuses a venue changes no more
# A REST lookup reads the order's trades from a little before arb first heard of it: a trade's time is the
# venue's, arb's clock may be behind it.
LOOKBACK = timedelta(minutes=5)
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.5, 30.0  # re-subscribing after a drop: soon, then no faster than this

FetchFills = Callable[[str, datetime, str], Awaitable[Sequence[FillReport]]]


@dataclass
class _Order:
    symbol: str
    since: datetime  # when arb first heard of it, less LOOKBACK
    client_order_id: str | None = None  # arb's id of it: REST trades do not carry it, pushed ones do (``c``)
    open: bool = True
    filled: Decimal = ZERO  # what Binance says has filled (cumulative)
    delivered: Decimal = ZERO  # what this stream has delivered

    def unsettled(self) -> bool:
        return self.open or self.delivered < self.filled


class BinancePrivateStream:
    """Run :meth:`run` as a supervised task; :meth:`track` every order the venue acknowledges (the
    ``StreamedVenue`` does); listeners hear each trade once."""

    def __init__(self, exchange: Any, venue: str, quirks: LiveQuirks, fetch_fills: FetchFills, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        self.exchange = exchange  # a ccxt.pro binance, holding the account's key
        self.venue = venue
        self.quirks = quirks
        self._fetch_fills = fetch_fills  # the venue's REST lookup of one order's trades
        self._now = now
        self._sleep = sleep
        self._rng = rng
        self._listeners: list[FillListener] = []
        self._orders: dict[str, _Order] = {}  # venue order id -> what is known of it
        self._seen: set[str] = set()  # trade ids delivered
        self.subscriptions = 0  # acknowledged (re)subscriptions: 1 + reconnects

    def counts(self) -> dict[str, int]:
        """The stream's health so far, as the metrics export it (``arb_fill_stream_connections_total``)."""
        return {"connections": self.subscriptions}

    def watch_fills(self, listener: FillListener) -> None:
        self._listeners.append(listener)

    def track(self, order_id: str, symbol: str, client_order_id: str | None = None) -> None:
        """An order the venue acknowledged: reconciled after every reconnect until it is final and every
        trade of it is delivered; its trades read by REST are given its ``client_order_id``."""
        order = self._order(order_id, symbol)
        order.client_order_id = order.client_order_id or client_order_id

    def unsettled(self) -> list[str]:
        """Orders a reconnect would look up now."""
        return [order_id for order_id, order in self._orders.items() if order.unsettled()]

    async def run(self) -> None:
        """Subscribe, reconcile, then deliver pushes; on a network failure, again after a backoff. However it
        ends (an error, the run's end cancelling it), the WebSocket connection is closed."""
        import ccxt

        failures = 0
        try:
            while True:
                try:
                    await self._subscribe()
                    self.subscriptions += 1
                    await self.reconcile()
                    failures = 0
                    await _first_failure(self._trades(), self._order_updates())
                except ccxt.NetworkError as exc:
                    delay = full_jitter(failures, BACKOFF_BASE_S, BACKOFF_CAP_S, self._rng)
                    failures += 1
                    log.warning("%s: private stream lost (%s); subscribing again in %.1f s", self.venue,
                                type(exc).__name__, delay)
                    await self._sleep(delay)
        finally:
            await self.exchange.close()

    async def _subscribe(self) -> None:
        """The user data subscription, acknowledged; the venue's own refusal raised as itself."""
        import ccxt

        try:
            await self.exchange.authenticate({"type": "spot"})
        except KeyError as exc:
            # ccxt 4.5 removes a refused subscription twice (in its error handler, then again as it re-raises),
            # which turns Binance's refusal (a wrong key, a clock off) into a KeyError: the refusal is what
            # the supervisor's line must say.
            if isinstance(exc.__context__, ccxt.BaseError):
                raise exc.__context__ from None
            raise

    async def reconcile(self) -> None:
        """Every order that is open or has fills not yet delivered: its trades by order id, delivered once."""
        for order_id in self.unsettled():
            order = self._orders[order_id]
            for fill in await self._fetch_fills(order.symbol, order.since, order_id):
                self._deliver(fill)

    async def _trades(self) -> None:
        while True:
            for trade in await self.exchange.watch_my_trades():
                fill = normalize.fill_report(self.venue, self.quirks, trade)
                pushed_cid = (trade.get("info") or {}).get("c")  # the executionReport's client order id
                if fill.client_order_id is None and pushed_cid:
                    fill = dataclasses.replace(fill, client_order_id=str(pushed_cid))
                self._deliver(fill)

    async def _order_updates(self) -> None:
        while True:
            for raw in await self.exchange.watch_orders():
                order_id, symbol = raw.get("id"), raw.get("symbol")
                if order_id is None or symbol is None:
                    continue
                order = self._order(str(order_id), symbol)
                order.client_order_id = order.client_order_id or raw.get("clientOrderId")
                order.open = raw.get("status") not in FINAL
                if raw.get("filled") is not None:
                    order.filled = max(order.filled, Decimal(str(raw["filled"])))
                self._forget_if_settled(str(order_id))

    def _order(self, order_id: str, symbol: str) -> _Order:
        order = self._orders.get(order_id)
        if order is None:
            order = self._orders[order_id] = _Order(symbol, self._now() - LOOKBACK)
        return order

    def _deliver(self, fill: FillReport) -> None:
        if fill.trade_id in self._seen:
            return
        self._seen.add(fill.trade_id)
        if fill.venue_order_id is not None:
            order = self._order(fill.venue_order_id, fill.symbol)
            if fill.client_order_id is None and order.client_order_id is not None:
                fill = dataclasses.replace(fill, client_order_id=order.client_order_id)
            order.client_order_id = order.client_order_id or fill.client_order_id
            order.delivered += fill.amount
            order.filled = max(order.filled, order.delivered)
        for listener in self._listeners:
            listener(fill)
        if fill.venue_order_id is not None:
            self._forget_if_settled(fill.venue_order_id)

    def _forget_if_settled(self, order_id: str) -> None:
        order = self._orders.get(order_id)
        if order is not None and not order.unsettled():
            del self._orders[order_id]


async def _first_failure(*loops: Awaitable[None]) -> None:
    """Run ``loops`` until one fails; the others are cancelled and the failure raised."""
    tasks = [asyncio.ensure_future(loop) for loop in loops]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def for_exchange(exchange: Any, venue: str, quirks: LiveQuirks, fetch_fills: FetchFills,
                 ws_api_url: str | None = None) -> BinancePrivateStream:
    """The stream of ``exchange``'s account (ccxt's async ``binance`` the venue trades through): a ccxt.pro
    ``binance`` with the same key, its WebSocket API at ``ws_api_url`` when given (a test's loopback
    server)."""
    import ccxt.pro

    pro = ccxt.pro.binance({"apiKey": exchange.apiKey, "secret": exchange.secret, "options": {"defaultType": "spot"}})
    if ws_api_url is not None:
        pro.urls["api"]["ws"]["ws-api"]["spot"] = ws_api_url
    pro.set_markets(list(exchange.markets.values()) if exchange.markets else [], exchange.currencies or None)
    return BinancePrivateStream(pro, venue, quirks, fetch_fills)

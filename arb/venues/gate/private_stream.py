"""Gate's private WebSocket, the account's side: ``spot.usertrades`` (every trade of ours) and ``spot.orders``
(every change of our orders), authenticated as Gate does (:mod:`ws_auth`), delivered as
:class:`~arb.domain.venue.FillReport`s: :class:`GatePrivateStream` is Gate's
:class:`~arb.domain.venue.FillStream`.

A push is not a guarantee: while the socket is down, trades happen and nobody hears them. So the stream
keeps, per order it knows of (an order placed through arb and :meth:`~GatePrivateStream.track`-ed, or
seen on either channel), whether it is open, how much the venue says has filled and how much of that has
been delivered. After every (re)connection, once both subscriptions are acknowledged (pushes from then on
are heard), it reconciles by REST every order that is open or has fills not yet delivered: the order looked
up (``GET /spot/orders/{id}``), then, if it filled more than was delivered, its trades by order id
(``GET /spot/my_trades?order_id=``: the order's trades, not a time window of the account's). Every trade is
delivered once: by trade id, whether it came by push, by a repeated push or by REST.

The REST half reads Gate's raw rows (:class:`PrivateRest`; :class:`ExchangeRest` over ``GateExchange``'s
signed endpoints), the same endpoint the venue's ``fetch_fills(symbol, since, order_id=...)`` asks through
ccxt, because ccxt folds a trade's ``gt_fee``/``point_fee`` into a list its unified fee drops: here one parser
(:mod:`usertrades`) reads pushes and rows alike, GT fees kept.

Failures: the network (a drop, a refused connection, a REST lookup that timed out or was rate limited)
reconnects after a full-jitter backoff and reconciles again. What is not the network ends :meth:`run` with
the error, for the engine's supervisor to log, count and restart (``runtime/supervisor.py``), as every feed
does: a refused subscription (wrong key, a clock off by more than 60 s), a REST error that is not
transient, and an exception from a listener. A frame that cannot be read is counted and logged; a trade
that cannot be read drops the connection, so the reconciliation reads it again by REST.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import aiohttp
import orjson

from arb.backoff import full_jitter
from arb.domain.venue import FillListener
from arb.errors import OrderNotFound, TransientVenueError, VenueError
from arb.venues.fee_tokens import FeeMarks, in_token, priced
from arb.venues.gate.usertrades import GateTrade, order_of, trade_of
from arb.venues.gate.ws_auth import private_frame

log = logging.getLogger(__name__)

GATE_WS_URL = "wss://api.gateio.ws/ws/v4/"
TRADES, ORDERS = "spot.usertrades", "spot.orders"
CHANNELS = (TRADES, ORDERS)
NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
ZERO = Decimal(0)

TradeListener = Callable[[GateTrade], None]


class PrivateRest(Protocol):
    """The two lookups reconciliation makes, answered with Gate's raw JSON."""

    async def order(self, pair: str, order_id: str) -> Mapping[str, Any]: ...

    async def trades(self, pair: str, order_id: str) -> Sequence[Mapping[str, Any]]: ...


class ExchangeRest:
    """:class:`PrivateRest` over a ``GateExchange``'s signed implicit endpoints; its errors as arb's
    (``errors.translating``)."""

    def __init__(self, exchange: Any, venue: str) -> None:
        self.exchange = exchange
        self.venue = venue

    async def order(self, pair: str, order_id: str) -> Mapping[str, Any]:
        from arb.venues.gate.errors import translating

        with translating(self.venue):
            result: Mapping[str, Any] = await self.exchange.private_spot_get_orders_order_id(
                {"order_id": order_id, "currency_pair": pair})
        return result

    async def trades(self, pair: str, order_id: str) -> Sequence[Mapping[str, Any]]:
        from arb.venues.gate.errors import translating

        with translating(self.venue):
            result: Sequence[Mapping[str, Any]] = await self.exchange.private_spot_get_my_trades(
                {"currency_pair": pair, "order_id": order_id, "limit": 1000})
        return result


@dataclass(slots=True)
class _Order:
    pair: str
    is_open: bool = True  # until a push or a lookup says it finished
    filled: Decimal = ZERO  # as the venue last said
    delivered: Decimal = ZERO  # the amounts of its trades delivered

    @property
    def unsettled(self) -> bool:
        """Whether trades of it may still come that were not delivered."""
        return self.is_open or self.delivered < self.filled


class GatePrivateStream:
    """The fills of the account behind ``key`` in the markets of ``markets`` (engine symbol -> Gate pair),
    under the venue name ``venue``, until cancelled: :meth:`watch_fills`, then run :meth:`run` (under the
    run's supervisor). ``clock_s``: Gate's clock in seconds (``GateExchange.clock``), which signs the
    subscriptions; ``sleep`` and ``rng`` time the reconnects (tests inject both)."""

    def __init__(
        self,
        venue: str,
        markets: Mapping[str, str],
        *,
        ws_url: str,
        key: str,
        secret: str,
        rest: PrivateRest,
        clock_s: Callable[[], float],
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        heartbeat_s: float = 20.0,
        fee_marks: FeeMarks | None = None,
    ) -> None:
        self.venue = venue
        self.pairs = {pair: symbol for symbol, pair in markets.items()}
        self.ws_url = ws_url
        self._key, self._secret = key, secret
        self.rest = rest
        self.clock_s = clock_s
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.heartbeat_s = heartbeat_s
        # GT's price, for the fills charged in GT (venues/gate/fee_marks.py): read at each connection and
        # when a GT fill finds it stale, in a task of its own (a fill is never held for it).
        self.fee_marks = fee_marks
        self._marks_read: asyncio.Task[None] | None = None
        self._listeners: list[FillListener] = []
        self._trade_listeners: list[TradeListener] = []
        self._orders: dict[str, _Order] = {}
        self._delivered: set[str] = set()  # trade ids
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.subscribed = asyncio.Event()  # both channels acknowledged and reconciled on this connection
        self.state_changed = asyncio.Event()  # set on every connect, reconciliation, drop (clear to reuse)
        # Counters (:meth:`counts`, the metrics' ``arb_fill_stream_*``): connections made, trades delivered by
        # push and by REST, pushes of a trade delivered before (left out), frames that could not be read,
        # reconciliations finished.
        self.connections = 0
        self.pushed = 0
        self.recovered = 0
        self.duplicates = 0
        self.malformed = 0
        self.reconciliations = 0

    # ------------------------------------------------------------------------------ what others call
    def counts(self) -> dict[str, int]:
        """The stream's health so far, as the metrics export it."""
        return {"connections": self.connections, "pushed": self.pushed, "recovered": self.recovered,
                "duplicates": self.duplicates, "malformed": self.malformed,
                "reconciliations": self.reconciliations}

    def watch_fills(self, listener: FillListener) -> None:
        """:class:`~arb.domain.venue.FillStream`: ``listener`` gets every trade of the account from now on,
        once (a trade id repeated, by push or by reconciliation, is left out), on the stream's loop."""
        self._listeners.append(listener)

    def watch_trades(self, listener: TradeListener) -> None:
        """The same trades as Gate's record, every fee included (``gt_fee``, ``point_fee``); called before
        the fill listeners."""
        self._trade_listeners.append(listener)

    def track(self, order_id: str, symbol: str, client_order_id: str | None = None) -> None:
        """An order of ours (the venue's id) to reconcile after a drop until it is known to be finished and
        delivered in full: call it when an order is acknowledged; an order the stream hears of is tracked
        anyway. (``client_order_id``: Gate's trades carry it themselves, as ``text``.)"""
        pair = next((p for p, s in self.pairs.items() if s == symbol), symbol)
        self._orders.setdefault(order_id, _Order(pair))

    @property
    def unsettled(self) -> list[str]:
        """The orders a reconciliation would look up now."""
        return [order_id for order_id, order in self._orders.items() if order.unsettled]

    async def disconnect(self) -> None:
        """Drop the connection (``run`` reconnects and reconciles)."""
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------------------------------ the loop
    async def run(self) -> None:
        """Connect, subscribe, reconcile, deliver; reconnect after a backoff whenever the network fails."""
        attempt = 0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._connection(session)
                    attempt = 0  # it worked, then closed: come back promptly
                except NETWORK_ERRORS as exc:
                    log.warning("%s private stream: %s: %s", self.venue, type(exc).__name__, exc)
                except VenueError as exc:
                    if not exc.retryable:
                        raise
                    log.warning("%s private stream: %s", self.venue, exc)
                finally:
                    self._ws = None
                    self.subscribed.clear()
                    self.state_changed.set()
                await self.sleep(full_jitter(attempt, self.backoff_base, self.backoff_cap, self.rng.random))
                attempt += 1

    async def _connection(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self.ws_url, heartbeat=self.heartbeat_s) as ws:
            self._ws = ws
            self.connections += 1
            self.state_changed.set()
            time_s = int(self.clock_s())
            pairs = sorted(self.pairs)
            for request_id, channel in enumerate(CHANNELS, 1):
                frame = private_frame(channel, pairs, time_s, self._key, self._secret, request_id=request_id)
                await ws.send_str(orjson.dumps(frame).decode())  # Gate expects text frames
            acknowledged: set[str] = set()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.ERROR:
                    raise TransientVenueError(self.venue, f"websocket error: {ws.exception()}")
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                acked = self.on_message(msg.data)
                if acked is not None and acked not in acknowledged:
                    acknowledged.add(acked)
                    if acknowledged == set(CHANNELS):
                        # Both channels push from here on: what happened before is read by REST now.
                        await self.reconcile()
                        self.subscribed.set()
                        self.state_changed.set()

    # ---------------------------------------------------------------------------------- one frame
    def on_message(self, data: str | bytes) -> str | None:
        """One frame: trades delivered, order states noted; returns the channel a subscription ack is for.
        Raises :class:`VenueError` for a refused subscription, :class:`TransientVenueError` for a trade it
        cannot read (the reconnect reads it by REST)."""
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            frame = None
        if not isinstance(frame, dict):
            self._malformed("a frame that is not a JSON object", data)
            return None
        channel, event = frame.get("channel"), frame.get("event")
        if channel not in CHANNELS:
            return None  # pongs, other channels
        if frame.get("error"):
            if event == "subscribe":
                raise VenueError(self.venue, f"{channel} subscription refused: {str(frame['error'])[:200]}")
            self._malformed(f"{channel} error", str(frame["error"]))
            return None
        if event == "subscribe":
            return str(channel)
        if event != "update":
            return None
        result = frame.get("result")
        items = result if isinstance(result, list) else [result]
        for item in items:
            if channel == TRADES:
                self._on_trade_item(item)
            else:
                self._on_order_item(item)
        return None

    def _on_trade_item(self, item: object) -> None:
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            trade = trade_of(item)
        except (KeyError, ValueError) as exc:
            self._malformed(f"{TRADES} trade ({type(exc).__name__}: {exc})", item)
            raise TransientVenueError(self.venue, f"{TRADES}: a trade that cannot be read; reconnecting to "
                                      "read it by REST") from None
        if self._deliver(trade):
            self.pushed += 1
        else:
            self.duplicates += 1

    def _on_order_item(self, item: object) -> None:
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            state = order_of(item)
        except (KeyError, ValueError) as exc:
            self._malformed(f"{ORDERS} order ({type(exc).__name__}: {exc})", item)
            return  # an order state only decides what to reconcile; its trades come on their own channel
        order = self._orders.setdefault(state.order_id, _Order(state.pair))
        order.is_open = state.is_open
        order.filled = max(order.filled, state.filled)
        self._forget_if_settled(state.order_id, order)

    def _malformed(self, what: str, data: object) -> None:
        self.malformed += 1
        log.error("%s private stream: left out %s: %.200r", self.venue, what, data)

    # ------------------------------------------------------------------------------- delivering
    def _deliver(self, trade: GateTrade) -> bool:
        """Hand a trade to the listeners unless it was delivered before; whether it was new."""
        if trade.trade_id in self._delivered:
            return False
        self._delivered.add(trade.trade_id)
        order = self._orders.setdefault(trade.order_id, _Order(trade.pair))
        order.delivered += trade.amount
        self._forget_if_settled(trade.order_id, order)
        report = trade.report(self.venue, self.pairs.get(trade.pair, trade.pair.replace("_", "/")))
        if self.fee_marks is not None and in_token(report):
            report = priced(self.fee_marks, report)
            if self.fee_marks.stale and (self._marks_read is None or self._marks_read.done()):
                self._marks_read = asyncio.get_running_loop().create_task(self.fee_marks.refresh())
        for trade_listener in self._trade_listeners:
            trade_listener(trade)
        for listener in self._listeners:
            listener(report)
        return True

    def _forget_if_settled(self, order_id: str, order: _Order) -> None:
        if not order.unsettled:
            del self._orders[order_id]

    async def reconcile(self) -> None:
        """Look up by REST every order whose trades may not all have been delivered, and deliver those that
        were not (oldest first). An order the venue does not find yet (just placed) is left for the next.
        GT's price is read first when it is stale, so the trades delivered here are valued."""
        if self.fee_marks is not None and self.fee_marks.stale:
            await self.fee_marks.refresh()
        for order_id in self.unsettled:
            order = self._orders.get(order_id)
            if order is None:
                continue  # settled by a push while an earlier lookup was on its way
            try:
                state = order_of(await self.rest.order(order.pair, order_id))
            except OrderNotFound:
                continue
            except (KeyError, ValueError) as exc:
                self._malformed(f"order {order_id} lookup ({type(exc).__name__}: {exc})", order_id)
                continue
            order.is_open = state.is_open
            order.filled = max(order.filled, state.filled)
            if order.filled > order.delivered:
                rows = await self.rest.trades(order.pair, order_id)
                trades = []
                for row in rows:
                    try:
                        trades.append(trade_of(row))
                    except (KeyError, ValueError) as exc:
                        self._malformed(f"my_trades row ({type(exc).__name__}: {exc})", row)
                trades.sort(key=lambda t: (t.create_ms, _numeric(t.trade_id)))
                delivered = ZERO
                for trade in trades:
                    if trade.order_id != order_id:
                        continue
                    if self._deliver(trade):
                        self.recovered += 1
                    delivered += trade.amount
                # Every trade it has is delivered now, some maybe before this entry was made (an order
                # tracked again after it had settled and been forgotten): it counts them all.
                order.delivered = max(order.delivered, delivered)
            if order_id in self._orders:
                self._forget_if_settled(order_id, order)
        self.reconciliations += 1


def _numeric(trade_id: str) -> int:
    return int(trade_id) if trade_id.isdigit() else 0


def for_exchange(exchange: Any, venue: str, markets: Mapping[str, str], *, ws_url: str | None = None,
                 **options: Any) -> GatePrivateStream:
    """The stream of a ``GateExchange``'s account: its key, its server clock, its REST endpoints, and its spot
    WebSocket (``for_endpoint``'s ``ws_url``: a sandbox's) unless ``ws_url`` says otherwise; Gate's own when
    the exchange names none."""
    url = ws_url or exchange.urls["api"].get("spot")
    return GatePrivateStream(venue, markets, ws_url=url if isinstance(url, str) else GATE_WS_URL,
                             key=exchange.apiKey, secret=exchange.secret, rest=ExchangeRest(exchange, venue),
                             clock_s=lambda: exchange.clock.server_now_ms() / 1000, **options)

"""The live venue: any ccxt async exchange behind the venue protocol (:class:`LiveVenue`).

Exceptions go through the venue's one translation table (``translate``: its adapter's; the generic ccxt
table by default). This module knows nothing about paper trading (the paper venue is a separate
implementation of the same protocol) and nothing about any one venue: what differs between venues is
data its adapter passes in (:class:`~arb.venues.live.quirks.LiveQuirks`).

**Prepare, then send.** ccxt's ``create_order`` builds, signs and writes in one call, so the second leg of
a pair would be built and signed only after the first had started. ``prepare`` runs ccxt's own
``create_order`` with its request captured instead of sent (:mod:`~arb.venues.live.capture`), or the
exchange's own builder once it has matched ccxt's build (:mod:`~arb.venues.live.builder`), and serializes
the request, with the headers ccxt's session would add, into the exact bytes of an HTTP/1.1 request
(:mod:`~arb.venues.live.wire`). ``send`` writes those bytes on the exchange's order line
(:mod:`~arb.venues.live.line`) with ccxt's timeout, and hands the answer to ccxt's own response handling and
``parse_order``, as ``create_order`` does for spot; the answer is normalized once
(:mod:`~arb.venues.live.normalize`). When the exchange uses a proxy, ``send`` goes through ccxt's ``fetch``
instead (its proxy handling is not repeated here).

**Both legs built before either is written.** A prepared order is bytes, so two legs sent in the same loop
turn reach their sockets back to back, each in its task's first step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.domain.market import MarketRules
from arb.domain.venue import BalanceReport, FillReport, OrderReport, OrderRequest, PreparedOrder
from arb.errors import ArbError, OrderNotFound, VenueError
from arb.eventloop.simloop import time_held
from arb.margin import PositionState
from arb.venues.fee_tokens import FeeMarks, priced_fees
from arb.venues.live import normalize
from arb.venues.live.builder import BuilderCheck, pinned_nonce
from arb.venues.live.capture import Capture, Captured, captured, install_capture, writes_through
from arb.venues.live.errors import translate as ccxt_translate
from arb.venues.live.keep_warm import KEEP_WARM_IDLE_S, keep_warm
from arb.venues.live.line import order_line_of, write
from arb.venues.live.quirks import LiveQuirks
from arb.venues.live.wire import Serializer, WireRequest
from arb.venues.order_line import MAX_IDLE_PER_ORIGIN, OrderLine

log = logging.getLogger(__name__)
HISTORY_MAX_PAGES = 100  # an audit's bound per market and kind: 100 pages of ``fills_page`` rows
Pace = Callable[[], Awaitable[None]]


class LiveVenue:
    """Implements :class:`arb.domain.venue.Venue` over a ccxt async exchange instance."""

    def __init__(
        self,
        name: str,
        exchange: Any,
        *,
        quirks: LiveQuirks = LiveQuirks(),
        translate: Callable[[BaseException, str], ArbError] = ccxt_translate,
        monotonic: Callable[[], float] = time.monotonic,
        fee_marks: FeeMarks | None = None,
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.fee_marks = fee_marks  # prices fees charged in a fee token (Gate's GT: venues/gate/fee_marks.py)
        self.quirks = quirks
        self.client_ids = quirks.client_ids
        self.amends = quirks.amends_in_place
        self._translate = translate
        self._wire_fetch = install_capture(exchange)
        self.line: OrderLine = order_line_of(exchange)
        self.builder = BuilderCheck(name)  # whether the exchange's own order builder may build a shape
        self._rules: dict[str, tuple[dict[str, Any], MarketRules]] = {}  # per symbol, with the market read
        self._monotonic = monotonic
        self.last_request = monotonic()  # when a request last went to the venue (keep_warm reads it)
        self._wire = Serializer(exchange)  # a request as ccxt's ``fetch`` would write it

    def __repr__(self) -> str:
        return f"LiveVenue({self.name!r})"

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.last_request = self._monotonic()
        try:
            return await getattr(self.exchange, method)(*args, **kwargs)
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            raise self._translate(exc, self.name) from exc

    # -- protocol -------------------------------------------------------------------------------
    def market_rules(self, symbol: str) -> MarketRules:
        m = self.exchange.market(symbol)
        known = self._rules.get(symbol)
        if known is not None and known[0] is m:  # ccxt replaces a market's dict when markets are reloaded
            return known[1]
        rules = normalize.market_rules(self.name, symbol, m)
        self._rules[symbol] = (m, rules)
        return rules

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Build and sign the order exactly as ccxt's ``create_order`` would, without sending it.

        An exchange with its own order builder (``build_limit_order``, e.g. Gate's) builds it instead, for
        a market, side and time in force where both builds of one order already came out identical."""
        build = getattr(self.exchange, "build_limit_order", None)
        if build is None:
            return PreparedOrder(self.name, request, await self._capture(request))
        verdict = self.builder.verdict(request)
        if verdict is None:
            return PreparedOrder(self.name, request, await self._capture_and_compare(request, build))
        if verdict:
            built = await self._build(build, request)
            if built is not None:
                return PreparedOrder(self.name, request, self._wire(
                    built.url, built.method, built.headers, built.body, self.exchange.market(request.symbol)))
        return PreparedOrder(self.name, request, await self._capture(request))

    async def _capture(self, request: OrderRequest) -> WireRequest:
        params: dict[str, Any] = {self.quirks.client_id_param: request.client_order_id}
        if request.time_in_force == "poc":
            # Post-only in ccxt's unified words: each exchange class writes it in its own (Gate: time_in_force
            # ``poc``; Binance spot: type ``LIMIT_MAKER``, which takes no timeInForce), where "POC" as a
            # timeInForce is Gate's alone (Binance refuses it: every quote would have been refused).
            params["postOnly"] = True
        else:
            params["timeInForce"] = request.time_in_force.upper()
        amount = request.amount / self._unit(request.symbol)  # ccxt's unit: a contract on a contract market
        cap = await self._captured("write", self.exchange.create_order(
            request.symbol, "limit", request.side.value, str(amount), str(request.price), params))
        if cap is None:  # create_order returned without a write to capture: it placed the order some other way
            raise VenueError(self.name, "create_order sent no capturable request; cannot prepare")
        return self._wire(cap.url, cap.method, cap.headers, cap.body, self.exchange.market(request.symbol))

    async def _build(self, build: Any, request: OrderRequest, nonce_ms: int | None = None) -> Any:
        """The exchange's own build of ``request`` (None where its builder does not cover it)."""
        try:
            return await build(request.symbol, request.side.value, request.amount, request.price,
                               request.time_in_force, request.client_order_id, nonce_ms=nonce_ms)
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            raise self._translate(exc, self.name) from exc

    async def _captured(self, capture: Capture, call: Awaitable[Any]) -> Captured | None:
        try:
            return await captured(capture, call)
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            raise self._translate(exc, self.name) from exc

    async def _capture_and_compare(self, request: OrderRequest, build: Any) -> WireRequest:
        """ccxt's build of ``request`` (the one sent), and the exchange's own build of it at the same pinned
        instant: the builder check's verdict for the order's shape (:mod:`~arb.venues.live.builder`)."""
        with pinned_nonce(self.exchange) as nonce:
            wire = await self._capture(request)
            built = await self._build(build, request, nonce_ms=nonce)
        if built is not None:  # None: not a shape the builder covers for these values; a later order decides
            self.builder.judge(request, built, wire)
        return wire

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        """Write a prepared order now and parse the answer with ccxt's ``parse_order``."""
        wire = prepared.wire
        if not isinstance(wire, WireRequest) or prepared.venue != self.name:
            raise ValueError(f"{self.name}: not an order prepared by this venue")
        self.last_request = self._monotonic()
        try:
            with time_held():  # in a simulation the exchange with the sandbox takes no market time
                if wire.direct:
                    response = await write(self.exchange, self.line, wire)
                else:
                    response = await self._wire_fetch(wire.url, wire.method, wire.headers, wire.body)
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            error = self._translate(exc, self.name)
            if getattr(error, "label", None) in self.quirks.resync_clock_on and hasattr(self.exchange, "sync_clock"):
                await self._resync_clock()
            raise error from exc
        return self._order(self.exchange.parse_order(response, wire.market), prepared.request)

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def keep_warm(self, idle_s: float = KEEP_WARM_IDLE_S, *, connections: int = 1,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Keep open the connections orders will use: ``connections`` of them (as many as pairs may be in
        flight, up to the line's idle limit) are opened now, with a ping each (:meth:`ping`), and pinged again
        after ``idle_s`` without a request (:mod:`~arb.venues.live.keep_warm`). Runs until cancelled."""
        await keep_warm(self, self._monotonic, idle_s, connections=connections, sleep=sleep)

    async def ping(self, connections: int = 1) -> None:
        """ccxt's own ``fetch_time`` request, written on the order line ``connections`` times at once (each on
        a connection of its own): it keeps that many of the line's connections to the venue open. An exchange
        whose ``fetch_time`` makes no request through ``fetch`` is just called."""
        self.last_request = self._monotonic()
        cap = await self._captured("any", self.exchange.fetch_time())
        if cap is None:
            return  # nothing captured: the call itself was the ping
        wire = self._wire(cap.url, cap.method, cap.headers, cap.body, {})
        count = max(1, min(connections, MAX_IDLE_PER_ORIGIN)) if wire.direct else 1
        try:
            with time_held():
                if wire.direct:
                    await asyncio.gather(*(write(self.exchange, self.line, wire) for _ in range(count)))
                else:
                    await self._wire_fetch(wire.url, wire.method, wire.headers, wire.body)
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            raise self._translate(exc, self.name) from exc

    def _by_client_id(self, client_order_id: str) -> dict[str, str]:
        param = self.quirks.lookup_param
        return {param: client_order_id} if param is not None else {}

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport:
        # On the order line, as orders are sent: a kill switch's pull writes every quote's cancel at once, and
        # through ccxt's aiohttp session (several times the line's CPU a request before its bytes leave:
        # bench_executor.py compares them) the last of 16 left a round trip after the switch (bench_pull.py).
        # ccxt still builds, signs and reads it.
        with writes_through(self._on_line):
            return self._order(await self._call("cancel_order", client_order_id, symbol,
                                                self._by_client_id(client_order_id)))

    async def _on_line(self, url: str, method: str, headers: Any, body: Any) -> Any:
        """A request ccxt built, written on the order line (through ccxt's ``fetch`` where it is proxied)."""
        wire = self._wire(url, method, headers, body, {})
        if wire.direct:
            return await write(self.exchange, self.line, wire)
        return await self._wire_fetch(url, method, headers, body)

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        if not self.amends:
            raise VenueError(self.name, "this venue does not amend an order in place")
        # ccxt's edit_order(id, symbol, type, side, amount, price): the client id as the order's id (Gate
        # takes the text there, as it does to cancel), the amount alone.
        units = amount / self._unit(symbol)
        return self._order(await self._call("edit_order", client_order_id, symbol, "limit", None, str(units), None,
                                            self._by_client_id(client_order_id)))

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        try:
            return self._order(await self._call("fetch_order", client_order_id, symbol,
                                                self._by_client_id(client_order_id)))
        except OrderNotFound:
            if not self.quirks.search_closed_on_miss:
                raise
        closed = await self._call("fetch_closed_orders", symbol, None, self.quirks.closed_search_limit)
        for raw in closed:
            if raw.get("clientOrderId") == client_order_id:
                return self._order(raw)
        raise OrderNotFound(self.name, f"no order with client id {client_order_id}", label="ORDER_NOT_FOUND")

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return [self._order(raw) for raw in await self._call("fetch_open_orders", symbol)]

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        since_ms, page = int(since.timestamp() * 1000), self.quirks.fills_page
        if order_id is not None and self.exchange.has.get("fetchOrderTrades") is True:
            # The venue's own per-order query (Gate: ``/spot/my_trades?order_id=``): one order's trades.
            raw = await self._call("fetch_order_trades", order_id, symbol, since_ms, page)
        else:
            raw = await self._call("fetch_my_trades", symbol, since_ms, page)
        if len(raw) >= page:
            # One page is all this asks for; a full one means the venue may hold more that were not read
            # (which ones depends on the venue's order). Said, never silently cut.
            log.warning("%s %s: a full page of %d trades since %s%s: any beyond it were not read", self.name,
                        symbol, page, since.isoformat(timespec="seconds"),
                        f" for order {order_id}" if order_id is not None else "")
        fills = [normalize.fill_report(self.name, self.quirks, t, self._unit(t.get("symbol") or symbol)) for t in raw]
        if self.fee_marks is not None:
            fills = await priced_fees(self.fee_marks, fills)
        return fills if order_id is None else [f for f in fills if f.venue_order_id == order_id]

    async def order_history(self, symbol: str, since: datetime, until: datetime,
                            pace: Pace | None = None) -> list[OrderReport]:
        """The finished orders of ``symbol`` the venue says were made in ``[since, until]``, every page of them
        (ccxt's ``fetch_closed_orders``): what ``arb audit`` holds the database against. Open ones are
        ``fetch_open_orders``'. ``pace`` is awaited before each page (the venue's throttle: a long history
        is many requests)."""
        raw = await self._history("fetch_closed_orders", symbol, since, until, pace)
        return [self._order(o) for o in raw if _within(o.get("timestamp"), since, until)]

    async def trade_history(self, symbol: str, since: datetime, until: datetime,
                            pace: Pace | None = None) -> list[FillReport]:
        """The account's trades of ``symbol`` in ``[since, until]``, every page of them (ccxt's
        ``fetch_my_trades``), ``pace`` awaited before each."""
        raw = await self._history("fetch_my_trades", symbol, since, until, pace)
        return [normalize.fill_report(self.name, self.quirks, t, self._unit(t.get("symbol") or symbol))
                for t in raw if _within(t.get("timestamp"), since, until)]

    async def _history(self, method: str, symbol: str, since: datetime, until: datetime,
                       pace: Pace | None) -> list[dict[str, Any]]:
        """Every row ``method`` holds in the window, page after page until a short one, each row once by its
        id. A venue that pages no history (``LiveQuirks.history_page_param``) answering a full page, or a
        window past ``HISTORY_MAX_PAGES``, is an error naming the venue: a history cut short would pass an
        audit it should fail."""
        size, param = self.quirks.fills_page, self.quirks.history_page_param
        since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        rows: dict[str, dict[str, Any]] = {}
        for page in range(1, HISTORY_MAX_PAGES + 1):
            params: dict[str, Any] = {"until": until_ms, **({param: page} if param else {})}
            if pace is not None:
                await pace()
            batch = await self._call(method, symbol, since_ms, size, params)
            for row in batch:
                rows.setdefault(str(row.get("id")), row)
            if len(batch) < size:
                return list(rows.values())
            if param is None:
                raise VenueError(self.name, f"{symbol}: a full page of {size} rows of history, and the venue pages "
                                 "no further: audit a shorter window")
        raise VenueError(self.name, f"{symbol}: more than {HISTORY_MAX_PAGES} pages of {size} rows of history: "
                         "audit a shorter window")

    async def balances(self) -> dict[str, BalanceReport]:
        return normalize.balance_reports(await self._call("fetch_balance"))

    async def _resync_clock(self) -> None:
        try:
            await self.exchange.sync_clock(force=True)
        except Exception as exc:  # noqa: BLE001 - best effort: the next private request re-measures
            log.warning("%s: clock resync after an expired timestamp failed: %s", self.name, type(exc).__name__)

    async def positions(self, symbols: list[str]) -> dict[str, PositionState]:
        """The perpetual positions the venue holds in ``symbols`` (its names for them), in base, signed: what
        a margin account's figures and the basis read on a live venue; a symbol with none is flat."""
        held = {symbol: PositionState() for symbol in symbols}
        for raw in await self._call("fetch_positions", symbols):
            symbol = raw.get("symbol")
            contracts = normalize.dec(raw.get("contracts"))
            if symbol not in held or not contracts:
                continue
            amount = contracts * self._unit(symbol)
            held[symbol] = PositionState(amount if raw.get("side") == "long" else -amount,
                                         normalize.dec(raw.get("entryPrice")))
        return held

    async def funding_history(self, symbol: str, since: datetime) -> list[tuple[datetime, Decimal]]:
        """The funding the venue paid (> 0) or charged ``symbol``'s position since ``since``: (funding time,
        amount in the settle currency), oldest first. The amount is the venue's own text where ccxt keeps it
        (Gate's ``change``), not ccxt's float."""
        raw = await self._call("fetch_funding_history", symbol, int(since.timestamp() * 1000))
        out = []
        for entry in raw:
            info = entry.get("info") or {}
            amount = normalize.dec(info.get("change", entry.get("amount")))
            out.append((normalize.ms_time(entry["timestamp"]), amount))
        return sorted(out)

    def _unit(self, symbol: str) -> Decimal:
        return normalize.base_per_contract(self.exchange.market(symbol))

    def _order(self, raw: dict[str, Any], request: OrderRequest | None = None) -> OrderReport:
        symbol = raw.get("symbol") or (request.symbol if request else None)
        unit = self._unit(symbol) if symbol else Decimal(1)
        return normalize.order_report(self.name, self.quirks, raw, request, unit)


def _within(ms: Any, since: datetime, until: datetime) -> bool:
    """A row stamped ``ms`` (epoch milliseconds; None: unstamped, kept) lies in ``[since, until]``: a venue's
    ``from``/``to`` are whole seconds, wider than the window asked for."""
    return ms is None or since.timestamp() * 1000 <= ms <= until.timestamp() * 1000

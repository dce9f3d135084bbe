"""The live venue: any ccxt async exchange behind the venue protocol.

Normalizes once, here: ccxt order and trade dicts become :class:`OrderReport` / :class:`FillReport`
with exact ``Decimal`` values (ccxt's floats are printed back with ``repr``, which round-trips the short
decimal strings venues send). Status comes from ``filled``, not from ccxt's status word: venues report a
partially filled IOC as cancelled.

Exceptions go through the venue's one translation table (``translate``: its adapter's; the generic ccxt
table by default). This module knows nothing about paper trading (the paper venue is a separate
implementation of the same protocol) and nothing about any one venue: what differs between venues is
data its adapter passes in (:class:`LiveQuirks`): the client-order-id format and the parameter that
carries it, how an order is looked up by client id, where a trade keeps the client order id, which raw
fields spell the venue's own status, whether a closed order can still be fetched by client id.

**Prepare, then send.** ccxt's ``create_order`` builds, signs and writes in one call, so the second leg of
a pair would be built and signed only after the first had started. ``prepare`` runs ccxt's own
``create_order`` with the exchange's ``fetch`` intercepted: reads it needs first (markets, clock sync,
account mode) go through, and the first write (the order) is captured as URL, headers and body instead
of being sent. The request is then serialized, with the headers ccxt's session would add, into the exact
bytes of an HTTP/1.1 request. ``send`` writes those bytes on the exchange's order line
(:mod:`arb.venues.order_line`: kept-alive connections, nothing built or awaited before the write) with
ccxt's timeout, and hands the answer to ccxt's own response handling (``handle_errors``: Gate's labels) and
``parse_order``, as ``create_order`` does for spot. When the exchange uses a proxy, ``send`` goes through
ccxt's ``fetch`` instead (its proxy handling is not repeated here).

**Both legs built before either is written.** A prepared order is bytes, so two legs sent in the same loop
turn reach their sockets back to back, each in its task's first step.

The interception is per task (a ``ContextVar``): other calls running concurrently on the same exchange
are never captured. Placements are never GETs on any ccxt venue, which is what the interception relies
on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from arb.domain.ids import ClientIdFormat
from arb.domain.market import MarketRules, Side
from arb.domain.orders import VenueState
from arb.domain.venue import BalanceReport, FillReport, OrderReport, OrderRequest, PreparedOrder
from arb.errors import ArbError, OrderNotFound, VenueError
from arb.eventloop.simloop import time_held
from arb.venues.generic.errors import translate as ccxt_translate
from arb.venues.order_line import MAX_IDLE_PER_ORIGIN, OrderLine, RawRequest, ssl_context_of

log = logging.getLogger(__name__)
# Pings an idle order line well before a venue's keep-alive timeout closes it (often 15 s or more).
KEEP_WARM_IDLE_S = 10.0
ZERO = Decimal(0)
_CLOSED = {"closed", "canceled", "cancelled", "expired"}


@dataclass(frozen=True, slots=True)
class LiveQuirks:
    """What one venue does its own way, as data its adapter declares. The defaults are ccxt's unified
    behaviour, no venue's in particular."""

    client_ids: ClientIdFormat = ClientIdFormat()
    # The ``create_order`` param carrying our client order id (ccxt's unified name by default).
    client_id_param: str = "clientOrderId"
    # The ``fetch_order``/``cancel_order`` param naming the order by client id; None: the client id is
    # passed as the order id itself (venues whose order endpoints accept either).
    lookup_param: str | None = "clientOrderId"
    # Keys of the raw trade (ccxt ``info``) that may hold our client order id; ccxt does not map it.
    trade_client_id_keys: tuple[str, ...] = ("clientOrderId",)
    # Keys of the raw order (ccxt ``info``) that together spell the venue's own status (``venue_status``).
    status_keys: tuple[str, ...] = ("status",)
    # Look among finished orders after a lookup by client id misses (venues that find orders by client
    # id only while they are open).
    search_closed_on_miss: bool = False
    closed_search_limit: int = 100
    fills_page: int = 1000
    # Error labels after which the exchange's clock is re-measured (``sync_clock``, if it has one): ccxt's
    # request path may do this, and ``send`` bypasses that path.
    resync_clock_on: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WireRequest:
    """What ccxt would have written for an order: the payload of a live :class:`PreparedOrder`."""

    url: str
    method: str
    headers: dict[str, str] | None = field(repr=False)  # signed: carries the API key
    body: str | None = field(repr=False)
    market: dict[str, Any] = field(repr=False)  # ccxt's market, for parse_order
    # The bytes for the order line, with the headers ccxt's session adds; None when a proxy is configured
    # (``send`` then goes through ccxt's fetch).
    raw: RawRequest | None = field(default=None, repr=False)
    request_headers: dict[str, str] = field(default_factory=dict, repr=False)  # signed + session/UA
    timeout_s: float = 0.0

    @property
    def direct(self) -> bool:
        return self.raw is not None


@dataclass(frozen=True, slots=True)
class _SessionFacts:
    """What ccxt's ``fetch`` adds to every request of one exchange, read once (the first request built):
    whether it goes through a proxy, the headers its session adds, its timeout. arb configures an
    exchange when it opens it and never changes these after, so an order does not pay ccxt's proxy checks
    and header merge again (about a tenth of building and signing a leg)."""

    proxied: bool
    headers: dict[str, str]  # added after the signed ones (ccxt's ``prepare_request_headers`` order)
    timeout_s: float

    @classmethod
    def of(cls, exchange: Any, url: str, method: str, signed: dict[str, str] | None, body: Any) -> _SessionFacts:
        proxied = (
            exchange.check_proxy_url_settings(url, method, signed, body) is not None
            or any(p for p in exchange.check_proxy_settings(url, method, signed, body))
            or exchange.aiohttp_proxy
            or exchange.aiohttp_trust_env  # proxies from the environment: aiohttp's business, not the line's
        )
        return cls(bool(proxied), exchange.prepare_request_headers({}), exchange.timeout / 1000)


def _wire_request(facts: _SessionFacts, url: str, method: str, signed: dict[str, str] | None, body: Any,
                  market: dict[str, Any]) -> WireRequest:
    """Everything ccxt's ``fetch`` computes before writing, computed now (see ccxt's ``fetch``)."""
    if facts.proxied or not isinstance(body, str | None):
        return WireRequest(url, method, signed, body, market)
    headers = {**signed, **facts.headers} if signed else dict(facts.headers)
    return WireRequest(
        url, method, signed, body, market,
        raw=RawRequest.build(url, method, headers, body.encode() if body is not None else None),
        request_headers=headers,
        timeout_s=facts.timeout_s,
    )


# While ``prepare`` runs ccxt's create_order in this task, its next write ("write") is captured, not sent;
# while ``ping`` asks the time, its next request of any method ("any").
_CAPTURING: ContextVar[str | None] = ContextVar("arb_live_capturing", default=None)


class _Captured(Exception):  # a control-flow signal that never leaves ``prepare``
    """Raised by the intercepted ``fetch`` instead of writing; carries the request, never in its text."""

    def __init__(self, url: str, method: str, headers: dict[str, str] | None, body: str | None) -> None:
        super().__init__(f"captured {method} {urlsplit(url).path}")
        self.url, self.method, self.headers, self.body = url, method, headers, body


WireFetch = Callable[[str, str, Any, Any], Awaitable[Any]]


def install_capture(exchange: Any) -> WireFetch:
    """Intercept ``exchange.fetch`` (once per instance), give the exchange its order line (closed with it),
    and return ccxt's own, uncaptured ``fetch``."""
    existing: WireFetch | None = getattr(exchange, "_arb_wire_fetch", None)
    if existing is not None:
        return existing
    wire_fetch: WireFetch = exchange.fetch

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        capturing = _CAPTURING.get()
        if capturing == "any" or (capturing == "write" and method.upper() != "GET"):
            raise _Captured(url, method, headers, body)
        with time_held():  # in a simulation, a request on the wire (to the sandbox) takes no market time
            return await wire_fetch(url, method, headers, body)

    line = OrderLine(str(getattr(exchange, "id", "exchange")), lambda: ssl_context_of(exchange))
    close = exchange.close

    async def close_with_line(*args: Any, **kwargs: Any) -> Any:
        await line.close()
        return await close(*args, **kwargs)

    exchange.fetch = fetch
    exchange.close = close_with_line
    exchange._arb_wire_fetch = wire_fetch
    exchange._arb_order_line = line
    return wire_fetch


def dec(value: Any) -> Decimal:
    if value is None:
        return ZERO
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _ts(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


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
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.quirks = quirks
        self.client_ids = quirks.client_ids
        self._translate = translate
        self._wire_fetch = install_capture(exchange)
        self.line: OrderLine = exchange._arb_order_line
        # Per (symbol, side, time in force): whether the exchange's own order builder agreed with ccxt's.
        self._builder_agrees: dict[tuple[str, Side, str], bool] = {}
        self._rules: dict[str, tuple[dict[str, Any], MarketRules]] = {}  # per symbol, with the market read
        self._monotonic = monotonic
        self.last_request = monotonic()  # when a request last went to the venue (keep_warm reads it)
        self._session_facts: _SessionFacts | None = None

    def _wire(self, url: str, method: str, signed: dict[str, str] | None, body: Any,
              market: dict[str, Any]) -> WireRequest:
        """A request as ccxt's ``fetch`` would write it, with this exchange's session facts (read at the first)."""
        facts = self._session_facts
        if facts is None:
            facts = self._session_facts = _SessionFacts.of(self.exchange, url, method, signed, body)
        return _wire_request(facts, url, method, signed, body, market)

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
        limits = m.get("limits") or {}
        rules = MarketRules(
            venue=self.name,
            symbol=symbol,
            price_step=dec(m["precision"]["price"]),
            amount_step=dec(m["precision"]["amount"]),
            min_amount=dec((limits.get("amount") or {}).get("min")),
            min_notional=dec((limits.get("cost") or {}).get("min")),
        )
        self._rules[symbol] = (m, rules)
        return rules

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Build and sign the order exactly as ccxt's ``create_order`` would, without sending it.

        An exchange with its own order builder (``build_limit_order``, e.g. Gate's) builds it instead, for
        a market, side and time in force where both builds of one order already came out identical."""
        build = getattr(self.exchange, "build_limit_order", None)
        if build is None:
            return PreparedOrder(self.name, request, await self._capture(request))
        shape = (request.symbol, request.side, request.time_in_force)
        checked = self._builder_agrees.get(shape)
        if checked is None:
            return PreparedOrder(self.name, request, await self._capture_and_compare(request, build, shape))
        if checked:
            built = await self._build(build, request)
            if built is not None:
                return PreparedOrder(self.name, request, self._wire(
                    built.url, built.method, built.headers, built.body, self.exchange.market(request.symbol)))
        return PreparedOrder(self.name, request, await self._capture(request))

    async def _capture(self, request: OrderRequest) -> WireRequest:
        params = {"timeInForce": request.time_in_force.upper(), self.quirks.client_id_param: request.client_order_id}
        cap = await self._captured("write", self.exchange.create_order(
            request.symbol, "limit", request.side.value, str(request.amount), str(request.price), params))
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

    async def _captured(self, capture: str, call: Awaitable[Any]) -> _Captured | None:
        """Run a ccxt call with its next request (``"write"``: its next non-GET; ``"any"``) captured instead of
        sent; None if it returned without making one."""
        token = _CAPTURING.set(capture)
        try:
            await call
        except _Captured as cap:
            return cap
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            raise self._translate(exc, self.name) from exc
        finally:
            _CAPTURING.reset(token)
        return None

    async def _capture_and_compare(self, request: OrderRequest, build: Any,
                                   shape: tuple[str, Side, str]) -> WireRequest:
        """ccxt's build of ``request`` (the one sent), and the exchange's own build of it at the same pinned
        instant (``nonce``): identical URL, body and headers let the builder take this shape's next orders."""
        exchange = self.exchange
        nonce = exchange.nonce()
        exchange.nonce = lambda: nonce  # a concurrent request signed meanwhile gets this instant too: harmless
        try:
            wire = await self._capture(request)
            built = await self._build(build, request, nonce_ms=nonce)
        finally:
            del exchange.nonce
        if built is None:
            return wire  # not a shape the builder covers for these values: decided on a later order
        agrees = (built.url, built.method, built.headers, built.body) == (wire.url, wire.method, wire.headers,
                                                                          wire.body)
        self._builder_agrees[shape] = agrees
        if agrees:
            log.info("%s: %s %s %s orders are built by arb's own builder from now on (it matched ccxt's build)",
                     self.name, request.symbol, request.side.value, request.time_in_force)
        else:
            log.warning("%s: arb's order builder and ccxt's differ for %s %s %s; those orders are built by ccxt",
                        self.name, request.symbol, request.side.value, request.time_in_force)
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
                    response = await self._write(wire)
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

    async def _write(self, wire: WireRequest) -> Any:
        """ccxt's ``fetch`` for a prepared request: write it on the order line, then ccxt's own response
        handling."""
        assert wire.raw is not None
        ex = self.exchange
        answer = await self.line.send(wire.raw, wire.timeout_s)
        status, reason, headers = answer.status, answer.reason, answer.headers
        if ex.enableLastResponseHeaders:  # as ccxt's fetch does: a rate limit's reset is read from them
            ex.last_response_headers = headers
        text = ex.on_rest_response(status, reason, wire.url, wire.method, headers, answer.text,
                                   wire.request_headers, wire.body)
        parsed = ex.parse_json(text)
        ex.handle_errors(status, reason, wire.url, wire.method, headers, text, parsed, wire.request_headers,
                         wire.body)
        ex.handle_http_status_code(status, reason, wire.url, wire.method, text)
        return parsed

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def keep_warm(self, idle_s: float = KEEP_WARM_IDLE_S, *, connections: int = 1,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Keep open the connections orders will use: ``connections`` of them (as many as pairs may be in
        flight, up to the line's idle limit) are opened now, with a ping each (:meth:`ping`), and pinged again
        after ``idle_s`` without a request. Otherwise the first order of a run, a second order sent while
        another is in flight, and any order after a quiet spell (a venue closes a connection left idle) would
        first pay a TCP and TLS handshake. Runs until cancelled; a failed ping is logged (once per kind of
        failure) and the next one tried ``idle_s`` later."""
        if not self.exchange.has.get("fetchTime"):
            log.info("%s: no time endpoint in ccxt; connections are not kept warm", self.name)
            return
        failed: set[str] = set()
        while True:  # the first pings at once: nothing has opened the order line yet
            try:
                await self.ping(connections)
            except ArbError as exc:
                self.last_request = self._monotonic()  # not again at once: the next try is idle_s away
                if type(exc).__name__ not in failed:
                    failed.add(type(exc).__name__)
                    log.warning("%s: keeping the connection warm failed: %s", self.name, type(exc).__name__)
            while (wait := idle_s - (self._monotonic() - self.last_request)) > 0:
                await sleep(wait)

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
                    await asyncio.gather(*(self._write(wire) for _ in range(count)))
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
        return self._order(await self._call("cancel_order", client_order_id, symbol,
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
        fills = [self._fill(t) for t in raw]
        return fills if order_id is None else [f for f in fills if f.venue_order_id == order_id]

    async def balances(self) -> dict[str, BalanceReport]:
        raw = await self._call("fetch_balance")
        out = {}
        for asset, free in (raw.get("free") or {}).items():
            out[asset] = BalanceReport(asset, dec(free), dec((raw.get("used") or {}).get(asset)))
        return out

    async def _resync_clock(self) -> None:
        try:
            await self.exchange.sync_clock(force=True)
        except Exception as exc:  # noqa: BLE001 - best effort: the next private request re-measures
            log.warning("%s: clock resync after an expired timestamp failed: %s", self.name, type(exc).__name__)

    # -- normalization --------------------------------------------------------------------------
    def _order(self, raw: dict[str, Any], request: OrderRequest | None = None) -> OrderReport:
        status = (raw.get("status") or "").lower()
        amount = dec(raw.get("amount")) if raw.get("amount") is not None else (request.amount if request else ZERO)
        filled = dec(raw.get("filled"))
        if status == "rejected":
            state = VenueState.REJECTED
        elif status in _CLOSED or (amount and filled >= amount):
            state = VenueState.CLOSED
        else:
            state = VenueState.OPEN
        info = raw.get("info") or {}
        venue_status = "/".join(str(info[k]) for k in self.quirks.status_keys if info.get(k)) or status
        cid = raw.get("clientOrderId") or (request.client_order_id if request else "")
        return OrderReport(
            venue=self.name,
            client_order_id=cid,
            venue_order_id=str(raw["id"]) if raw.get("id") is not None else None,
            symbol=raw.get("symbol") or (request.symbol if request else ""),
            side=Side(raw.get("side") or (request.side.value if request else "buy")),
            price=dec(raw.get("price")) if raw.get("price") is not None else (request.price if request else ZERO),
            amount=amount,
            filled=filled,
            state=state,
            venue_status=venue_status,
            average=dec(raw["average"]) if raw.get("average") else None,
            ts=_ts(raw.get("lastUpdateTimestamp") or raw.get("timestamp")),
        )

    def _fill(self, raw: dict[str, Any]) -> FillReport:
        info = raw.get("info") or {}
        cid = next((info[k] for k in self.quirks.trade_client_id_keys if info.get(k)), None)
        fee = raw.get("fee") or {}
        return FillReport(
            venue=self.name,
            trade_id=str(raw["id"]),
            client_order_id=cid,
            venue_order_id=str(raw["order"]) if raw.get("order") is not None else None,
            symbol=raw["symbol"],
            side=Side(raw["side"]),
            price=dec(raw["price"]),
            amount=dec(raw["amount"]),
            fee=dec(fee.get("cost")),
            fee_currency=str(fee.get("currency") or ""),
            ts=_ts(raw.get("timestamp")) or datetime.now(UTC),
        )

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
of being sent. ``send`` then writes exactly that on the exchange's own aiohttp session, with ccxt's
timeouts, and hands the answer to ccxt's own response handling (``handle_errors``: Gate's labels) and
``parse_order``, as ``create_order`` does for spot. Everything ccxt's ``fetch`` would compute before
writing (merged headers, URL, encoded body, timeout) is computed in ``prepare``, so a leg's own work
between "send" and its bytes on the socket is aiohttp's alone. When the exchange uses a proxy, ``send``
goes through ccxt's ``fetch`` instead (its proxy handling is not repeated here).

**Both legs built before either is written.** aiohttp builds and writes a request in one call (on
Python >= 3.12 the write even starts inside that call), so the second leg of a pair would be built only
after the first one's bytes had left. The body is therefore a payload that yields one loop turn before
writing (aiohttp holds the headers back to coalesce them with the body, so nothing leaves before it):
two legs sent in the same loop turn are both fully built before either reaches the socket, and the two
writes run back to back. Nothing waits on the other leg, so a leg sent alone is held one turn, no more.

The interception is per task (a ``ContextVar``): other calls running concurrently on the same exchange
are never captured. Placements are never GETs on any ccxt venue, which is what the interception relies
on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt
import yarl
from aiohttp.payload import BytesPayload

from arb.domain.ids import ClientIdFormat
from arb.domain.market import MarketRules, Side
from arb.domain.orders import VenueState
from arb.errors import ArbError, OrderNotFound, VenueError
from arb.runtime.simloop import time_held
from arb.venues.generic.errors import translate as ccxt_translate
from arb.venues.protocol import BalanceReport, FillReport, OrderReport, OrderRequest, PreparedOrder

log = logging.getLogger(__name__)
# Below aiohttp's 15 s keep-alive for an idle pooled connection (TCPConnector's keepalive_timeout).
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
    # What ccxt's fetch would compute before writing; ``direct`` is False when a proxy is configured.
    direct: bool = False
    target: yarl.URL | None = field(default=None, repr=False)
    request_headers: dict[str, str] = field(default_factory=dict, repr=False)  # signed + session/UA
    payload: bytes | None = field(default=None, repr=False)
    timeout: aiohttp.ClientTimeout | None = field(default=None, repr=False)


class _OneTurnLaterBody(BytesPayload):
    """An order body that yields one loop turn before aiohttp writes it (see the module docstring)."""

    async def write(self, writer: Any) -> None:  # aiohttp < 3.12 writes through this
        await asyncio.sleep(0)
        await super().write(writer)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        await asyncio.sleep(0)
        await super().write_with_length(writer, content_length)


# ccxt's fetch turns aiohttp's failures into these; the direct write does the same, so the translation
# table sees what it would have seen from ccxt. Most specific first.
_TRANSPORT_ERRORS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], type[Exception]], ...] = (
    (socket.gaierror, ccxt.ExchangeNotAvailable),
    (TimeoutError, ccxt.RequestTimeout),  # asyncio's and concurrent.futures' too, since 3.11
    (aiohttp.ClientConnectionError, ccxt.ExchangeNotAvailable),
    (aiohttp.ClientError, ccxt.ExchangeError),
)


def _wire_request(exchange: Any, cap: _Captured, market: dict[str, Any]) -> WireRequest:
    """Everything ccxt's ``fetch`` computes before writing, computed now (see ccxt's ``fetch``)."""
    proxied = (
        exchange.check_proxy_url_settings(cap.url, cap.method, cap.headers, cap.body) is not None
        or any(p for p in exchange.check_proxy_settings(cap.url, cap.method, cap.headers, cap.body))
        or exchange.aiohttp_proxy
    )
    if proxied or not isinstance(cap.body, str | None):
        return WireRequest(cap.url, cap.method, cap.headers, cap.body, market)
    timeout_s = exchange.timeout / 1000
    return WireRequest(
        cap.url, cap.method, cap.headers, cap.body, market,
        direct=True,
        target=yarl.URL(cap.url, encoded=True),
        request_headers=exchange.prepare_request_headers(dict(cap.headers or {})),
        payload=cap.body.encode() if cap.body else None,
        timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=timeout_s, sock_read=timeout_s),
    )


# True while ``prepare`` runs ccxt's create_order in this task: the next write is captured, not sent.
_CAPTURING: ContextVar[bool] = ContextVar("arb_live_capturing", default=False)


class _Captured(Exception):  # a control-flow signal that never leaves ``prepare``
    """Raised by the intercepted ``fetch`` instead of writing; carries the request, never in its text."""

    def __init__(self, url: str, method: str, headers: dict[str, str] | None, body: str | None) -> None:
        super().__init__(f"captured {method} {urlsplit(url).path}")
        self.url, self.method, self.headers, self.body = url, method, headers, body


WireFetch = Callable[[str, str, Any, Any], Awaitable[Any]]


def install_capture(exchange: Any) -> WireFetch:
    """Intercept ``exchange.fetch`` (once per instance) and return ccxt's own, uncaptured ``fetch``."""
    existing: WireFetch | None = getattr(exchange, "_arb_wire_fetch", None)
    if existing is not None:
        return existing
    wire_fetch: WireFetch = exchange.fetch

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if _CAPTURING.get() and method.upper() != "GET":
            raise _Captured(url, method, headers, body)
        with time_held():  # in a simulation, a request on the wire (to the sandbox) takes no market time
            return await wire_fetch(url, method, headers, body)

    exchange.fetch = fetch
    exchange._arb_wire_fetch = wire_fetch
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
    """Implements :class:`arb.venues.protocol.Venue` over a ccxt async exchange instance."""

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
        self._monotonic = monotonic
        self.last_request = monotonic()  # when a request last went to the venue (keep_warm reads it)

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
        limits = m.get("limits") or {}
        return MarketRules(
            venue=self.name,
            symbol=symbol,
            price_step=dec(m["precision"]["price"]),
            amount_step=dec(m["precision"]["amount"]),
            min_amount=dec((limits.get("amount") or {}).get("min")),
            min_notional=dec((limits.get("cost") or {}).get("min")),
        )

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Build and sign the order exactly as ccxt's ``create_order`` would, without sending it."""
        params = {"timeInForce": request.time_in_force.upper(), self.quirks.client_id_param: request.client_order_id}
        token = _CAPTURING.set(True)
        try:
            await self.exchange.create_order(
                request.symbol, "limit", request.side.value, str(request.amount), str(request.price), params,
            )
        except _Captured as cap:
            wire = _wire_request(self.exchange, cap, self.exchange.market(request.symbol))
            return PreparedOrder(self.name, request, wire)
        except ArbError:
            raise
        except Exception as exc:  # the table decides; unknown ones become VenueError
            raise self._translate(exc, self.name) from exc
        finally:
            _CAPTURING.reset(token)
        # create_order returned without a write to capture: it placed the order some other way.
        raise VenueError(self.name, "create_order sent no capturable request; cannot prepare")

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
        """ccxt's ``fetch`` for a prepared order: write it, then ccxt's own response handling."""
        ex = self.exchange
        ex.open(True)  # the session, created lazily; refuses after close() as ccxt's fetch does
        body = _OneTurnLaterBody(wire.payload) if wire.payload is not None else None
        try:
            async with ex.session.request(wire.method, wire.target, data=body, headers=wire.request_headers,
                                          timeout=wire.timeout) as response:
                text = await response.text(errors="replace")
                headers: dict[str, str] = {}
                for name, value in response.headers.items():  # repeated headers joined, as ccxt does
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                status, reason = response.status, response.reason
        except (socket.gaierror, TimeoutError, aiohttp.ClientError) as exc:
            ccxt_error = next(err for kinds, err in _TRANSPORT_ERRORS if isinstance(exc, kinds))
            raise ccxt_error(f"{ex.id} {wire.method} {urlsplit(wire.url).path}") from exc
        if ex.enableLastResponseHeaders:  # as ccxt's fetch does: a rate limit's reset is read from them
            ex.last_response_headers = headers
        text = ex.on_rest_response(status, reason, wire.url, wire.method, headers, text, wire.request_headers,
                                   wire.body)
        parsed = ex.parse_json(text)
        ex.handle_errors(status, reason, wire.url, wire.method, headers, text, parsed, wire.request_headers,
                         wire.body)
        ex.handle_http_status_code(status, reason, wire.url, wire.method, text)
        return parsed

    async def place(self, request: OrderRequest) -> OrderReport:
        return await self.send(await self.prepare(request))

    async def keep_warm(self, idle_s: float = KEEP_WARM_IDLE_S, *,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Keep the connection an order will use open: after ``idle_s`` without a request, ask the venue its
        time (a public read on the order host). aiohttp closes a connection idle for 15 s, and a leg sent
        after a quiet spell would otherwise pay a new TCP and TLS handshake before its first byte. Runs until
        cancelled; a failed ping is logged (once per kind of failure) and the next one tried."""
        if not self.exchange.has.get("fetchTime"):
            log.info("%s: no time endpoint in ccxt; connections are not kept warm", self.name)
            return
        failed: set[str] = set()
        while True:
            wait = idle_s - (self._monotonic() - self.last_request)
            if wait > 0:
                await sleep(wait)
                continue
            try:
                await self._call("fetch_time")
            except ArbError as exc:
                self.last_request = self._monotonic()  # not again at once: the next try is idle_s away
                if type(exc).__name__ not in failed:
                    failed.add(type(exc).__name__)
                    log.warning("%s: keeping the connection warm failed: %s", self.name, type(exc).__name__)

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

    async def fetch_fills(self, symbol: str, since: datetime) -> list[FillReport]:
        raw = await self._call("fetch_my_trades", symbol, int(since.timestamp() * 1000), self.quirks.fills_page)
        return [self._fill(t) for t in raw]

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

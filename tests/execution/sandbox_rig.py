"""Two sandboxed Gate venues on loopback, driven through GateExchange + LiveVenue, and wire tracing.

``WireLog`` hooks aiohttp's client tracing into the session ccxt uses, and wraps the venue's order line
(orders and pings go there, not through aiohttp), so tests see when each request actually started and when
its response came back, in the same clock the sandbox uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp

from arb.venues.gate import GateExchange
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.clock import ServerClock
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig
from arb.venues.live import LiveVenue
from arb.venues.order_line import RawRequest, RawResponse

KEY, SECRET = "exec-key", "exec-secret-not-real"
PAIR = PairSpec("LINK_USDT", precision=2, amount_precision=2, min_base_amount=Decimal("0.01"),
                min_quote_amount=Decimal("1"), taker_fee=Decimal("0.001"), maker_fee=Decimal("0.001"))
SYMBOL = "LINK/USDT"


class VirtualClock:
    """Wall time plus an offset that ``sleep`` advances: waits cost nothing, order of events is kept.

    A discrete-event clock: time only jumps while no request is in flight (``busy``), so a request is
    received by the sandbox at the virtual time it was sent, and concurrent sleepers wake at their
    target instead of adding their durations up.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __call__(self) -> float:
        return time.time() + self.offset

    @asynccontextmanager
    async def busy(self) -> AsyncIterator[None]:
        self.inflight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.inflight -= 1
            if self.inflight == 0:
                self._idle.set()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        target = self() + max(seconds, 0.0)
        await asyncio.wait_for(self._idle.wait(), timeout=10)
        self.offset += max(0.0, target - self())
        await asyncio.sleep(0)


class InflightVenue:
    """Marks the clock busy for the duration of each venue call (between throttle and answer)."""

    def __init__(self, inner: LiveVenue, clock: VirtualClock) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name

    def market_rules(self, symbol: str) -> object:
        return self.inner.market_rules(symbol)

    def __getattr__(self, method: str) -> Callable[..., object]:
        target = getattr(self.inner, method)

        async def call(*args: object, **kwargs: object) -> object:
            async with self.clock.busy():
                return await target(*args, **kwargs)

        return call


@dataclass
class WireEvent:
    venue: str
    method: str
    path: str
    start: float
    end: float | None = None
    status: int | None = None
    reset_at: float | None = None


@dataclass
class WireLog:
    clock: Callable[[], float] = time.time
    events: list[WireEvent] = field(default_factory=list)

    def trace(self, venue: str) -> aiohttp.TraceConfig:
        tc = aiohttp.TraceConfig()

        async def start(_s: object, ctx: object, params: aiohttp.TraceRequestStartParams) -> None:
            ev = WireEvent(venue, params.method, params.url.path, self.clock())
            ctx.event = ev  # type: ignore[attr-defined]
            self.events.append(ev)

        async def end(_s: object, ctx: object, params: aiohttp.TraceRequestEndParams) -> None:
            ev: WireEvent = ctx.event  # type: ignore[attr-defined]
            ev.end, ev.status = self.clock(), params.response.status
            raw = params.response.headers.get("X-Gate-RateLimit-Reset-Timestamp")
            ev.reset_at = float(raw) if raw else None

        async def failed(_s: object, ctx: object, params: object) -> None:
            ctx.event.end = self.clock()  # type: ignore[attr-defined]

        tc.on_request_start.append(start)
        tc.on_request_end.append(end)
        tc.on_request_exception.append(failed)
        return tc

    def watch_line(self, venue: LiveVenue) -> None:
        line_send = venue.line.send

        async def send(request: RawRequest, timeout_s: float) -> RawResponse:
            ev = WireEvent(venue.name, request.method, request.target.split("?")[0], self.clock())
            self.events.append(ev)
            try:
                answer = await line_send(request, timeout_s)
            finally:
                ev.end = self.clock()
            ev.status = answer.status
            raw = answer.headers.get("X-Gate-RateLimit-Reset-Timestamp")
            ev.reset_at = float(raw) if raw else None
            return answer

        venue.line.send = send  # type: ignore[method-assign]


def sandbox_config(clock: Callable[[], float] = time.time, **kw: object) -> SandboxConfig:
    values: dict[str, object] = dict(
        accounts=(Account(KEY, SECRET, {"USDT": Decimal("100000"), "LINK": Decimal("1000")}),),
        pairs=(PAIR,), clock=clock,
    )
    values.update(kw)
    return SandboxConfig(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def live_gate(name: str, sb: Sandbox, wire: WireLog | None = None,
                    clock: Callable[[], float] | None = None) -> AsyncIterator[LiveVenue]:
    server_clock = ServerClock(lambda: int(clock() * 1000)) if clock else None
    ex = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, KEY, SECRET, enableRateLimit=False,
                                   pairs=[PAIR.to_json()], clock=server_clock)
    if wire is not None:
        ex.session = aiohttp.ClientSession(trace_configs=[wire.trace(name)])
    venue = live_venue(name, ex)
    if wire is not None:
        wire.watch_line(venue)
    try:
        yield venue
    finally:
        await ex.close()
        if wire is not None and ex.session is not None and not ex.session.closed:
            await ex.session.close()


async def gate_venues(urls: dict[str, dict[str, str]]) -> dict[str, LiveVenue]:
    """A ``LiveVenue`` per sandbox named in ``urls`` (name -> {"rest", "ws"}), its clock synced: how a child
    process the SIGKILL tests kill reaches the test's sandboxes."""
    venues = {}
    for name, url in urls.items():
        ex = GateExchange.for_endpoint(url["rest"], url["ws"], KEY, SECRET, enableRateLimit=False,
                                       pairs=[PAIR.to_json()])
        await ex.sync_clock(force=True)
        venues[name] = live_venue(name, ex)
    return venues

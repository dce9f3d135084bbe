"""The sandbox exchange: one aiohttp app serving REST, WebSocket and a control API on loopback.

    async with Sandbox(SandboxConfig()) as sb:
        exchange.urls["api"] = ... sb.rest_url ...
        sb.push_book("LINK_USDT", bids=[...], asks=[...])
        sb.shift_clock(90)
        sb.faults.latency_s = 0.5

The same controls are served over HTTP under ``/_sandbox/`` for a sandbox running in another process
(``arb sandbox``). Clock = the injected ``clock()`` plus an offset tests can shift.

Dead man's switches (``countdown.py``) fire on that clock: by a timer of their own, due at the earliest
trigger time, so an account whose client died mid-quote has its orders cancelled with nobody asking; and
before anything else the sandbox does at a later time (a request, a book or trade event, a shift of the
clock), so a clock that is moved rather than run (a test's) fires them exactly when it passes their time.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterable, Iterator
from decimal import Decimal
from http import HTTPStatus
from types import TracebackType
from typing import Self

from aiohttp import web

from arb.display import printable
from arb.domain.ids import next_venue_id
from arb.http_log import ProtocolErrorLog
from arb.venues.gate.sandbox import values
from arb.venues.gate.sandbox.config import CaptureFeed, Faults, RandomWalkFeed, SandboxConfig
from arb.venues.gate.sandbox.contracts import contract_of, futures_account, ticker_json
from arb.venues.gate.sandbox.control import control_routes
from arb.venues.gate.sandbox.feeds import BookEvent, FundingEvent, capture_events, random_walk
from arb.venues.gate.sandbox.matching import Engine, Event
from arb.venues.gate.sandbox.ratelimit import WindowLimiter
from arb.venues.gate.sandbox.rest import HTTP_LABELS, KEY, RestApi
from arb.venues.gate.sandbox.wallet import Wallet, WithdrawalRecord
from arb.venues.gate.sandbox.wallet_rest import WalletApi
from arb.venues.gate.sandbox.ws import FUTURES_WS_PATH, WsHub
from arb.venues.sim.book import Level


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None, *, peers: Iterable[Sandbox] = ()) -> None:
        self.config = config or SandboxConfig()
        self.clock_offset_s = 0.0
        self.faults = Faults()
        self.faults.rng.seed(self.config.seed)
        self.engine = Engine(self.config.pairs, contracts=self.config.contracts)
        self._countdowns_changed = asyncio.Event()
        self._secrets = {a.key: a.secret for a in self.config.accounts}
        for account in self.config.accounts:
            for currency, amount in account.balances.items():
                self.engine.set_balance(account.key, currency, Decimal(amount))
            for currency, amount in account.futures.items():
                self.engine.set_balance(futures_account(account.key), currency, Decimal(amount))
        self.engine.gt_accounts = {a.key for a in self.config.accounts if a.gt_deduction}
        self.hub = WsHub(self.engine.books, self._secrets, self.now_s, self.engine.amend_text, self.engine.gt_fee,
                         contracts=self.engine.futures.contracts)
        self.rest = RestApi(
            self.engine,
            self._secrets,
            self.faults,
            WindowLimiter(self.config.order_limit, self.config.order_window_s),
            WindowLimiter(self.config.global_limit, self.config.global_window_s),
            self.now_s,
            self.publish,
            self.catch_up,
            self._countdowns_changed.set,
            rights={a.key: a.rights for a in self.config.accounts},
        )
        # Deposit addresses, withdrawals and spot/futures transfers (``wallet.py``): a withdrawal arrives at the
        # sandbox owning its address, this one or a peer (``add_peer``), after the wallet's delay on this clock.
        listed = {c for p in self.config.pairs for c in (p.base, p.quote)} | {c.quote for c in self.config.contracts}
        self.wallet = Wallet(self.config.wallet, sorted(listed), self._secrets,
                             self.config.wallet.salt or secrets.token_hex(8), self.engine.balance, futures_account,
                             next_venue_id)
        self.peers: list[Sandbox] = []
        self.wallet_api = WalletApi(self.wallet, lambda request: request[KEY], self.now_ms, self.rest.futures.read_json,
                                    self.knows_address, self._countdowns_changed.set)
        for peer in peers:
            self.add_peer(peer)
        self._runner: web.AppRunner | None = None
        self._feed_tasks: list[asyncio.Task[None]] = []
        self._countdown_timer: asyncio.Task[None] | None = None
        self.port = 0
        self.feed_done = asyncio.Event()

    # ---- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware])
        app.add_routes(self.rest.routes())
        app.add_routes(self.wallet_api.routes())
        app.add_routes(
            [web.get("/ws/v4/", self.hub.handle), web.get("/{prefix:[^/]+}/ws/v4/", self.hub.handle),
             web.get(FUTURES_WS_PATH, self.hub.handle)]
        )
        app.add_routes(control_routes(self))
        # Short grace on stop: handlers stalled by the latency fault must not hold a test up for 60 s.
        self._runner = _GateShapedRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=0.2,
            logger=ProtocolErrorLog(),  # a client's malformed request: one INFO line
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # aiohttp types _server an AbstractServer: no sockets
        for feed in self.config.feeds:
            self._feed_tasks.append(asyncio.create_task(self._run_feed(feed)))
        self._countdown_timer = asyncio.create_task(self._run_countdowns())

    async def stop(self) -> None:
        tasks = [*self._feed_tasks, self._countdown_timer] if self._countdown_timer else self._feed_tasks
        for task in tasks:
            task.cancel()
        # A feed that failed has said why to whoever awaited ``feeds_finished``; here it must not keep the
        # server from closing (its socket would be left open).
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return self.base_url + "/api/v4"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws/v4/"

    # ---- clock ----------------------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.config.clock() + self.clock_offset_s

    def now_ms(self) -> int:
        return int(self.now_s() * 1000)

    def shift_clock(self, seconds: object) -> None:
        """Move the sandbox clock by ``seconds`` (a number; e.g. +90 s to make every client's timestamps
        stale). The total offset stays within ``values.MAX_CLOCK_OFFSET_S`` and the clock after 1970; a
        shift past either is a ``ValueError`` and moves nothing."""
        limit = values.MAX_CLOCK_OFFSET_S
        offset = self.clock_offset_s + values.number(seconds, "shift_s", -2 * limit, 2 * limit)
        if abs(offset) > limit:
            raise ValueError(f"shift_s would move the sandbox clock {offset:+.0f} s from its clock; "
                             f"at most {limit:.0f} s (a year) either way")
        if self.config.clock() + offset < 0:
            raise ValueError("shift_s would move the sandbox clock before 1970")
        self.clock_offset_s = offset
        self.expire_countdowns()
        self.deliver_withdrawals()
        self._countdowns_changed.set()  # the timer's wait was measured on the clock before the shift

    # ---- control --------------------------------------------------------------------------------------
    def set_balance(self, key: str, currency: str, available: Decimal | str) -> None:
        """Set an account's available balance: a known key, a currency, a plain amount in
        ``[0, values.MAX_AMOUNT]`` (``KeyError`` or ``ValueError`` otherwise, and nothing changes)."""
        if key not in self._secrets:
            raise KeyError(f"account key {key!r}")
        checked = values.amount(available, "available")
        self.engine.set_balance(key, values.currency(currency), checked)

    def push_book(
        self,
        pair: str,
        bids: Iterable[Level | tuple[str, str]],
        asks: Iterable[Level | tuple[str, str]],
        kind: str = "snapshot",
    ) -> list[Event]:
        """Feed one book event as if the market moved (ignored while the book is frozen)."""
        if self.faults.freeze_book:
            return []
        self.expire_countdowns()
        events = self.engine.on_book(pair, kind, _levels(bids), _levels(asks), self.now_ms())
        self.publish(events)
        return events

    def push_trade(self, pair: str, price: Decimal, amount: Decimal, aggressor: str) -> list[Event]:
        """A trade printed in the market: resting orders it reached fill by the matcher's queue rule."""
        self.expire_countdowns()
        events = self.engine.on_trade(pair, price, amount, aggressor, self.now_ms())
        self.publish(events)
        return events

    def push_funding(self, contract: str, mark: Decimal, rate: Decimal, funding_ts: int,
                     index: Decimal | None = None) -> None:
        """A perpetual's mark and the funding rate announced for ``funding_ts`` (ms), as a feed's funding line:
        every funding time the clock has reached is paid to the positions held (``futures.py``), the contract
        states ``funding_ts`` as its ``funding_next_apply`` from now on, and its ``futures.tickers``
        subscribers are pushed the ticker. ``contract``: its name (``ETH_USDT``) or its market's
        (``usdt:ETH_USDT``, where a feed routes its books)."""
        name = contract_of(contract) or contract
        index = Decimal(index) if index is not None else None
        futures = self.engine.futures
        futures.on_funding(name, Decimal(mark), Decimal(rate), funding_ts, self.now_ms(), index)
        spec = futures.contract(name)
        self.hub.publish_ticker(ticker_json(spec, Decimal(mark), index, futures.states[spec.name].rate))

    def publish(self, events: list[Event]) -> None:
        self.hub.publish(events)

    def expire_countdowns(self) -> None:
        """Fire every dead man's switch whose time has come on the sandbox clock, and publish its cancels."""
        self.publish(self.engine.expire_countdowns(self.now_ms()))

    async def _run_countdowns(self) -> None:
        """Fire each countdown at its trigger time, and deliver each withdrawal at its arrival time, with nothing
        else happening: the timer waits (on the event loop, which runs as the sandbox clock does: wall time, or
        market time in a simulation) until the earliest one is due, and looks again whenever a countdown is set,
        ended, a withdrawal made or the clock shifted."""
        while True:
            self.expire_countdowns()
            self.deliver_withdrawals()
            self._countdowns_changed.clear()
            due = [t for t in (self.engine.countdowns.next_trigger_ms(), self.wallet.next_arrival_ms()) if t is not None]
            trigger_ms = min(due) if due else None
            # Measured in whole ms as countdowns fall due, so a wait is never 0 for one not yet due (on a clock
            # that stands still, a test's, that would spin).
            wait = None if trigger_ms is None else (trigger_ms - self.now_ms()) / 1000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._countdowns_changed.wait()

    # ---- wallet ---------------------------------------------------------------------------------------
    def add_peer(self, peer: Sandbox) -> None:
        """Make ``peer`` and this sandbox each other's peers: each may withdraw to the other's deposit addresses,
        which count as whitelisted, and each credits what the other sends there."""
        if peer is self:
            raise ValueError("a sandbox is not its own peer (its own addresses are known to it already)")
        if peer not in self.peers:
            self.peers.append(peer)
            peer.add_peer(self)

    def knows_address(self, currency: str, chain: str, address: str) -> bool:
        return any(sb.wallet.owns(currency, chain, address) for sb in (self, *self.peers))

    def deliver_withdrawals(self) -> None:
        """Credit every withdrawal whose arrival time has come on this sandbox's clock to its address's owner, at
        the owner's time (its deposit's timestamp)."""
        for sent in self.wallet.due(self.now_ms()):
            self._deliver(sent)

    def _deliver(self, sent: WithdrawalRecord) -> None:
        for owner in (self, *self.peers):
            if owner.wallet.receive(sent, owner.now_ms()):
                return
        # Known when it was made (``knows_address``), and peers are never removed: not reachable.
        raise AssertionError(f"withdrawal {sent.id}: no sandbox owns {sent.address}")

    def catch_up(self) -> None:
        """What has come due by now, before a request is answered: dead man's switches, and withdrawals this
        sandbox or a peer (on its own clock) has made that have arrived."""
        self.expire_countdowns()
        for sb in (self, *self.peers):
            sb.deliver_withdrawals()

    def skip_update_id(self, pair: str) -> None:
        """The next book update for ``pair`` leaves a gap of one id."""
        self.engine.books[pair].skip_next = True

    async def close_websockets(self) -> None:
        await self.hub.close_all()

    # ---- feeds ----------------------------------------------------------------------------------------
    async def feeds_finished(self) -> None:
        """Until every feed has played to its end (a random walk never does). A feed that failed (a damaged
        capture: the reader's ``file:line`` error) raises that error here, for whoever runs the sandbox to
        report; waiting here never cancels a feed."""
        for task in list(self._feed_tasks):
            await asyncio.shield(task)

    async def _run_feed(self, feed: RandomWalkFeed | CaptureFeed) -> None:
        events: Iterator[BookEvent | FundingEvent] = (
            random_walk(feed) if isinstance(feed, RandomWalkFeed) else capture_events(feed)
        )
        speed = feed.speed if isinstance(feed, CaptureFeed) else 1.0
        first_ts: int | None = None
        loop = asyncio.get_running_loop()
        start, start_ms = loop.time(), self.now_ms()
        for event in events:
            first_ts = event.ts_ms if first_ts is None else first_ts
            if speed > 0:
                due = start + (event.ts_ms - first_ts) / 1000 / speed
                await asyncio.sleep(max(0.0, due - loop.time()))
            else:
                await asyncio.sleep(0)
            if isinstance(event, FundingEvent):
                if contract_of(event.pair) in self.engine.futures.contracts:
                    # The capture's funding time on the sandbox's clock, as its lines are played: as far after
                    # the feed's start as it is after the capture's first line, at the replay speed.
                    after = (event.funding_ts - first_ts) / (speed or 1.0)
                    self.push_funding(event.pair, event.mark, event.rate, start_ms + round(after), event.index)
            elif event.pair in self.engine.books:
                self.push_book(event.pair, event.bids, event.asks, event.kind)
        self.feed_done.set()


class _GateShapedHandler(web.RequestHandler):
    """aiohttp's connection handler, answering what its HTTP parser refuses before any handler or middleware
    runs (a 60 KB header, thousands of headers, a 64 KB URL, a raw byte in the request line) in Gate's
    ``{"label", "message"}`` shape, with aiohttp's status, instead of aiohttp's plain text: a client keys on
    ``label`` (ccxt raises ``BadRequest`` for it, not a parse error of its own)."""

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs it (ProtocolErrorLog: one INFO line)
        label = HTTP_LABELS.get(status, "BAD_REQUEST" if status < 500 else "SERVER_ERROR")
        what = printable(" ".join(str(message or HTTPStatus(status).phrase).split()))[:200]  # aiohttp's spans lines
        response = web.json_response({"label": label, "message": what}, status=status)
        response.force_close()  # as aiohttp's own answer: the connection's stream is not trusted after it
        return response


class _GateShapedServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _GateShapedHandler(self, loop=self._loop, **self._kwargs)


class _GateShapedRunner(web.AppRunner):
    """The app's runner, its connections handled by :class:`_GateShapedHandler`. aiohttp has no argument for
    the handler's class: the server the app makes is given the subclass that makes them (a test over
    loopback, ``test_hostile_input.py``, holds this to the aiohttp in use)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _GateShapedServer
        return server


def _levels(levels: Iterable[Level | tuple[str, str]]) -> list[Level]:
    return [(Decimal(p), Decimal(s)) for p, s in levels]

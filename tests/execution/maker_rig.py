"""A maker route on two Gate sandboxes over loopback, with the timing of its races in the test's hands.

The maker venue is a sandbox's ``LiveVenue`` with its private fill stream (``StreamedVenue``: the venue's
orders, ``GatePrivateStream``'s fills); the taker venue is a second sandbox's ``LiveVenue``. Timing is
injected, never slept for:

- :class:`Hold`: a point in a sandbox's REST handling (before it handles a request, or after it has handled it
  and before it answers) where the handling waits until the test releases it;
- :class:`Valve`: the maker sandbox's WebSocket publication; what it holds is published when the test says,
  in the order it says, as often as it says, or never (a connection that dropped loses it);
- :class:`ReconnectGate`: the stream's reconnect backoff, which waits until the test opens it.

The route's market time is :class:`MarketClock`, moved by the test. Every wait is on a condition, with a
timeout that only a failing test reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.domain.venue import FillReport, OrderReport, OrderRequest
from arb.errors import ArbError
from arb.execution.lookup import DEFINITIVE
from arb.execution.maker import MakerRoute, RouteSpec
from arb.quoting.ledger import HedgeRules
from arb.quoting.pricing import Level, Quote, QuoteTerms
from arb.quoting.refresh import RefreshRule
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Fill as StoredFill
from arb.store.models import Opportunity
from arb.store.models import Order as StoredOrder
from arb.store.repo import start_run
from arb.venues.gate.private_stream import GatePrivateStream, for_exchange
from arb.venues.gate.sandbox import Account, Sandbox
from arb.venues.gate.sandbox.matching import Event, OrderEvent, TradeEvent
from arb.venues.live import LiveVenue
from arb.venues.live.streamed import StreamedVenue

from .exposure import Exposure
from .sandbox_rig import KEY, PAIR, SYMBOL, live_gate, sandbox_config

D = Decimal
# Bounds a hang only: nothing here tests how fast a wait ends. A wait can take several loopback round trips
# with journal writes (CI's loaded disk took 1.9 s for one), so a tight figure fails passing runs.
TIMEOUT = 60.0
MAX_AGE_MS = 10_000
TAKER_BOOK = ([("27.00", "50"), ("26.99", "50")], [("27.10", "50"), ("27.11", "50")])
MAKER_BOOK = ([("26.50", "10")], [("27.50", "10")])
MIN_AMOUNT = PAIR.min_base_amount
# A fill's hedge goes out in the same turn of the loop (or one task hop later); a loaded 2-core CI machine
# still does that well within this.
HEDGE_SLACK_S = 0.5


class Hold:
    """A pause in a sandbox's handling of one request: :attr:`reached` when the request got there; it goes
    on when :meth:`release` is called."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._released = asyncio.Event()

    async def __call__(self) -> None:
        self.reached.set()
        await self._released.wait()

    async def wait_reached(self) -> None:
        await asyncio.wait_for(self.reached.wait(), TIMEOUT)

    def release(self) -> None:
        self._released.set()


class HeldRest:
    """A sandbox's REST handlers with holds the test arms: ``arm("cancel_order", before=True)`` stops the next
    cancel before the sandbox handles it; ``arm("create_order", before=False)`` lets the next placement be
    made and holds its answer. Installed before the sandbox starts (its routes are bound then)."""

    HANDLERS = ("create_order", "cancel_order", "amend_order")

    def __init__(self, sb: Sandbox) -> None:
        self._armed: dict[tuple[str, bool], Hold] = {}
        for name in self.HANDLERS:
            setattr(sb.rest, name, self._wrapped(name, getattr(sb.rest, name)))

    def arm(self, handler: str, *, before: bool) -> Hold:
        assert handler in self.HANDLERS
        hold = self._armed[handler, before] = Hold()
        return hold

    def _wrapped(self, name: str, handler: Callable[[web.Request], Awaitable[web.Response]]
                 ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def held(request: web.Request) -> web.Response:
            hold = self._armed.pop((name, True), None)
            if hold is not None:
                await hold()
            response = await handler(request)
            hold = self._armed.pop((name, False), None)
            if hold is not None:
                await hold()
            return response

        return held


class Valve:
    """The maker sandbox's WebSocket publication. While :attr:`holding` says so, an event is kept instead of
    published; :meth:`release` publishes kept events (all, or those given, in the order given)."""

    def __init__(self, sb: Sandbox) -> None:
        self._publish = sb.hub.publish
        sb.hub.publish = self  # type: ignore[method-assign]
        self.holding: Callable[[Event], bool] = lambda event: False
        self.held: list[Event] = []

    def __call__(self, events: Sequence[Event]) -> None:
        passing = []
        for event in events:
            (self.held if self.holding(event) else passing).append(event)
        self._publish(passing)

    def hold(self, holding: Callable[[Event], bool]) -> None:
        self.holding = holding

    def open(self) -> None:
        self.holding = lambda event: False

    def release(self, events: Sequence[Event] | None = None) -> None:
        events = list(self.held) if events is None else list(events)
        for event in events:
            if event in self.held:
                self.held.remove(event)
        self._publish(events)

    def drop(self) -> list[Event]:
        dropped, self.held = self.held, []
        return dropped


def private(event: Event) -> bool:
    return isinstance(event, OrderEvent | TradeEvent)


class ReconnectGate:
    """The stream's ``sleep`` between connections: it waits here until the test opens it."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self._opened = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.waiting.set()
        await self._opened.wait()
        self._opened.clear()
        self.waiting.clear()

    def open(self) -> None:
        self._opened.set()


@dataclass
class MarketClock:
    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class SandboxBooks:
    """The route's view of both books: each sandbox's own book of the pair, always fresh."""

    def __init__(self, sandboxes: dict[str, Sandbox]) -> None:
        self.sandboxes = sandboxes

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[Level]:
        book = self.sandboxes[venue].engine.books[PAIR.id]
        return book.sorted_bids(20) if side == "bids" else book.sorted_asks(20)

    def age_ms(self, venue: str, symbol: str) -> int:
        return 0


@dataclass
class Journal:
    """The route's journal, checked: every order is recorded before its sandbox knows it."""

    sandboxes: dict[str, Sandbox]
    store: StoreJournal  # arb's own journal on a real database: every call is passed on to it
    sent: list[tuple[str, OrderRequest, str]] = field(default_factory=list)  # (venue, request, purpose)
    answers: list[tuple[str, OrderReport]] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)
    quotes: dict[str, Quote] = field(default_factory=dict)
    maker_fills: list[FillReport] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    exposure: Exposure = field(default_factory=lambda: Exposure(MIN_AMOUNT))  # the unhedged base over time

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None:
        known = {o.client_id for o in self.sandboxes[venue].engine.orders.values()}
        assert request.client_order_id not in known, f"{request.client_order_id} recorded after it was sent"
        if purpose == "hedge":
            self.exposure.sent(request.client_order_id, request.side)
        await self.store.before_send(venue, request, purpose, quote, answers, reference)
        self.sent.append((venue, request, purpose))
        if quote is not None:
            self.quotes[request.client_order_id] = quote
        await self._changed()

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        if isinstance(error, DEFINITIVE):  # else looked up next: not answered yet
            self.exposure.answered(client_order_id, D(0))
        await self.store.refused(venue, client_order_id, error)
        self.refusals.append((venue, client_order_id))

    async def absent(self, venue: str, client_order_id: str, detail: str) -> None:
        self.exposure.answered(client_order_id, D(0))
        await self.store.absent(venue, client_order_id, detail)
        await self._changed()

    async def not_sent(self, venue: str, client_order_id: str, error: ArbError) -> None:
        self.exposure.answered(client_order_id, D(0))
        await self.store.not_sent(venue, client_order_id, error)
        self.refusals.append((venue, client_order_id))

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        self.exposure.answered(report.client_order_id, report.filled)
        await self.store.answered(venue, report, reason)
        self.answers.append((venue, report))
        await self._changed()

    async def amended(self, venue: str, report: OrderReport) -> None:
        await self.store.amended(venue, report)
        self.answers.append((venue, report))
        await self._changed()

    async def carried(self, client_order_id: str, answered: Sequence[tuple[str, D]]) -> None:
        await self.store.carried(client_order_id, answered)
        await self._changed()

    async def maker_fill(self, fill: FillReport) -> None:
        await self.store.maker_fill(fill)
        self.maker_fills.append(fill)
        await self._changed()

    async def _changed(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT), self.changed:
            await self.changed.wait_for(condition)

    def sent_to(self, venue: str, purpose: str | None = None) -> list[OrderRequest]:
        return [r for v, r, p in self.sent if v == venue and purpose in (None, p)]


@dataclass
class Rig:
    sb_maker: Sandbox
    sb_taker: Sandbox
    rest: HeldRest  # the maker sandbox's
    taker_rest: HeldRest
    valve: Valve
    gate: ReconnectGate
    stream: GatePrivateStream
    maker: StreamedVenue
    taker: LiveVenue
    journal: Journal
    clock: MarketClock
    route: MakerRoute
    listeners: list[Callable[[FillReport], None]]  # what the route gave the fill stream
    sessions: sessionmaker[Session]  # the database the journal's store writes
    funds: dict[str, Funds] = field(default_factory=dict)  # "now": what the route may quote on, a test changes it

    # -- the market ---------------------------------------------------------------------------------------
    def print_at_quote(self, side: Side, amount: Decimal) -> list[Event]:
        """A market trade through the resting quote of ``side`` (nothing shown ahead of it): it fills up to
        ``amount`` of it."""
        quote = self.route.resting[side]
        aggressor = "sell" if side is Side.BUY else "buy"
        return self.sb_maker.push_trade(PAIR.id, quote.price, amount, aggressor)

    def move_taker_book(self, shift: Decimal) -> None:
        bids, asks = TAKER_BOOK
        self.sb_taker.push_book(PAIR.id, [(D(p) + shift, D(s)) for p, s in bids],
                                [(D(p) + shift, D(s)) for p, s in asks])

    # -- waiting --------------------------------------------------------------------------------------------
    async def fills(self, count: int) -> None:
        """Until the route has journalled ``count`` maker fills."""
        await self.journal.until(lambda: len(self.journal.maker_fills) >= count)

    async def settled(self) -> None:
        """Until the route has no task left (hedges sent and answered)."""
        async with asyncio.timeout(TIMEOUT):
            while self.route._tasks:
                await asyncio.wait(set(self.route._tasks))

    async def connected(self) -> None:
        await asyncio.wait_for(self.stream.subscribed.wait(), TIMEOUT)

    async def drop_socket(self) -> None:
        """The maker's private WebSocket drops; the stream waits at :attr:`gate` to reconnect."""
        await self.sb_maker.close_websockets()
        await asyncio.wait_for(self.gate.waiting.wait(), TIMEOUT)
        assert not self.stream.subscribed.is_set()

    async def reconnect(self) -> None:
        """Let the stream reconnect; until it has subscribed and reconciled."""
        reconciled = self.stream.reconciliations
        self.gate.open()
        await self.until_stream(lambda: self.stream.subscribed.is_set() and self.stream.reconciliations > reconciled)

    async def until_stream(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                self.stream.state_changed.clear()
                await self.stream.state_changed.wait()

    # -- what must hold at the end ---------------------------------------------------------------------------
    def account_trades(self, sb: Sandbox) -> list[Any]:
        return [t for t in sb.engine.trades if t.account == KEY]

    def assert_hedged_once(self) -> None:
        """The maker sandbox's trades of the account are the fills the route journalled, once each; every
        maker fill has exactly its hedge (but for dust below the taker's minimum); both venues' orders are
        exactly the journal's."""
        made = self.account_trades(self.sb_maker)
        assert made, "nothing filled: the scenario did not happen"
        assert sorted(f.trade_id for f in self.journal.maker_fills) == sorted(str(t.id) for t in made)
        by_id = {str(t.id): t for t in made}
        for fill in self.journal.maker_fills:
            trade = by_id[fill.trade_id]
            assert (fill.amount, fill.price, fill.side.value, fill.client_order_id) == (
                trade.amount, trade.price, trade.side, trade.client_id)
        hedges = self.account_trades(self.sb_taker)
        for side in Side:
            filled = sum((t.amount for t in made if t.side == side.value), D(0))
            hedged = sum((t.amount for t in hedges if t.side == side.opposite.value), D(0))
            assert self.route.ledger.filled(side) == filled, side
            assert self.route.ledger.hedged(side) == hedged, side
            assert D(0) <= filled - hedged < MIN_AMOUNT, (side, filled, hedged)
        assert {t.role for t in made} == {"maker"} and {t.role for t in hedges} <= {"taker"}
        for name, sb in (("maker", self.sb_maker), ("taker", self.sb_taker)):
            ours = {o.client_id for o in sb.engine.orders.values() if o.account == KEY}
            assert ours == {r.client_order_id for r in self.journal.sent_to(name)}, name
        assert {o.time_in_force for o in self.sb_maker.engine.orders.values() if o.account == KEY} == {"poc"}
        assert {o.time_in_force for o in self.sb_taker.engine.orders.values()} <= {"ioc"}
        assert self.route.errors == []
        # Every fill the route saw was hedged at once: unhedged no longer than a hedge's round trip.
        self.journal.exposure.assert_hedged_at_once(HEDGE_SLACK_S)
        self.journal.store.settle_all()
        assert_database_agrees(self.sessions, self.sb_maker, self.sb_taker)


def assert_database_agrees(sessions: sessionmaker[Session], sb_maker: Sandbox, sb_taker: Sandbox) -> None:
    """arb's database (as ``arb run`` writes it): its fills are both sandboxes' trades of the account, once
    each; every order they hold is a row with the sandbox's outcome; each maker pair's hedges filled what its
    quote filled (but for dust), and it is settled (the journal's ``settle_all`` first)."""
    made = [t for t in sb_maker.engine.trades if t.account == KEY]
    hedges = [t for t in sb_taker.engine.trades if t.account == KEY]
    with sessions() as s:
        fills = {(f.venue, f.trade_id): (f.amount, f.price) for f in s.scalars(select(StoredFill))}
        orders = {o.client_order_id: o for o in s.scalars(select(StoredOrder))}
        pairs = list(s.scalars(select(Opportunity)))
        trades = {("maker", str(t.id)): (t.amount, t.price) for t in made}
        trades |= {("taker", str(t.id)): (t.amount, t.price) for t in hedges}
        assert fills == trades
        for name, sb in (("maker", sb_maker), ("taker", sb_taker)):
            for order in sb.engine.orders.values():
                if order.account == KEY:
                    row = orders[order.client_id]
                    # its amount too: a quote cut in place (amend) is stored at the venue's new amount
                    assert (row.venue, row.amount, row.filled) == (name, order.amount, order.filled_amount), \
                        order.client_id
                    assert row.status in ("filled", "canceled"), (order.client_id, row.status)
        for pair in pairs:
            assert pair.strategy == "maker" and pair.settled_at is not None
            quoted = sum((o.filled for o in pair.orders if o.purpose == "quote"), D(0))
            hedged = sum((o.filled for o in pair.orders if o.purpose == "hedge"), D(0))
            assert quoted == pair.size and D(0) <= quoted - hedged < MIN_AMOUNT, (pair.id, quoted, hedged)
        assert sum((p.size for p in pairs), D(0)) == sum((t.amount for t in made), D(0))



def settle_builder_check(venue: LiveVenue) -> None:
    """The hedges' shapes as after their first order: built by Gate's own builder, which matched ccxt's (the
    check itself, two first hedges compared at once, is ``test_two_first_orders_of_a_shape_prepared_at_once``).
    The races here are about fills, so the verdict is the one a run has after its first hedge of each side."""
    for side in Side:
        venue.builder.agrees[SYMBOL, side, "ioc"] = True


def spec(sides: tuple[Side, ...] = (Side.BUY,), size: Decimal = D("1"), levels: int = 1) -> RouteSpec:
    return RouteSpec(
        SYMBOL, "maker", "taker", sides, size,
        QuoteTerms(min_profit_bps=D("1"), slippage_buffer_bps=D("2"), maker_fee=PAIR.maker_fee,
                   taker_fee=PAIR.taker_fee, maker_tick=D("0.01")),
        RefreshRule(refresh_bps=D("5"), max_quote_age_ms=MAX_AGE_MS),
        HedgeRules(D("0.01"), MIN_AMOUNT, PAIR.min_quote_amount, max_unhedged=D("2"), max_attempts=3,
                   retry_ms=50),
        max_notional=D("1000"), levels=levels, level_step_bps=D("10"),
    )


@contextlib.contextmanager
def _database() -> Iterator[tuple[sessionmaker[Session], int]]:
    """A SQLite database at the schema's head in a directory of its own, with one run's row."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/maker.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            with sessions.begin() as s:
                run_id = start_run(s, mode="live", config_snapshot={}, started_at=datetime.now(UTC)).id
            yield sessions, run_id
        finally:
            engine.dispose()


@contextlib.asynccontextmanager
async def maker_rig(sides: tuple[Side, ...] = (Side.BUY,), levels: int = 1,
                    others: tuple[Account, ...] = ()) -> AsyncIterator[Rig]:
    """Both sandboxes with their books, the route over them, and the maker's stream connected. ``others``:
    more accounts on the maker sandbox, other traders whose orders may take the route's quotes."""
    async with AsyncExitStack() as stack:
        maker_accounts = (*sandbox_config().accounts, *others)
        sb_maker, sb_taker = Sandbox(sandbox_config(accounts=maker_accounts)), Sandbox(sandbox_config())
        rest, taker_rest, valve = HeldRest(sb_maker), HeldRest(sb_taker), Valve(sb_maker)
        await stack.enter_async_context(sb_maker)
        await stack.enter_async_context(sb_taker)
        sb_maker.push_book(PAIR.id, *MAKER_BOOK)
        sb_taker.push_book(PAIR.id, *TAKER_BOOK)
        maker_live = await stack.enter_async_context(live_gate("maker", sb_maker))
        taker = await stack.enter_async_context(live_gate("taker", sb_taker))
        settle_builder_check(taker)
        gate = ReconnectGate()
        stream = for_exchange(maker_live.exchange, "maker", {SYMBOL: PAIR.id}, sleep=gate)
        maker = StreamedVenue(maker_live, stream)
        listeners: list[Callable[[FillReport], None]] = []
        watch = stream.watch_fills
        stream.watch_fills = lambda listener: (listeners.append(listener), watch(listener))[-1]  # type: ignore
        sandboxes = {"maker": sb_maker, "taker": sb_taker}
        clock, ids = MarketClock(), itertools.count(1)
        sessions, run_id = stack.enter_context(_database())
        books = SandboxBooks(sandboxes)
        fees = {name: VenueFees(PAIR.maker_fee, PAIR.taker_fee) for name in sandboxes}
        store = StoreJournal(sessions, run_id, {"maker": maker, "taker": taker}, books, fees,
                             lambda: datetime.fromtimestamp(clock() / 1000, UTC))
        stack.callback(store.close)  # its kept connection, before the database goes
        journal = Journal(sandboxes, store)
        funds = {"now": Funds(D("1000"), D("100000"), D("1000"), D("100000"))}
        route = MakerRoute(spec(sides, levels=levels), maker, taker, books, journal, funds=lambda: funds["now"],
                           now_ms=clock, new_client_id=lambda purpose: f"t-{purpose}-{next(ids)}",
                           max_book_age_ms=5_000)
        watch(journal.exposure.seen)  # after the route's listener: it sees each fill as the route does
        store.owes = route.owes
        store.taker_of["maker", SYMBOL] = "taker"
        task = asyncio.create_task(stream.run())
        try:
            rig = Rig(sb_maker, sb_taker, rest, taker_rest, valve, gate, stream, maker, taker, journal, clock,
                      route, listeners, sessions, funds)
            await rig.connected()
            yield rig
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""Build the venues a config names, all behind :class:`arb.domain.venue.Venue`.

- ``paper``: :class:`PaperVenue`, the one matcher in-process, issuing client ids in the real venue's format;
- ``sandbox``: the venue adapter's local exchange (the Gate adapter's: arb's Gate-compatible sandbox,
  started in-process on loopback, the same matcher behind Gate's protocol) and the adapter's real client to it.

In a simulation both are fed the venue's side of the capture by the run's market source, at the capture's
time (:attr:`VenueSet.markets`), and both answer after their configured latency (:class:`LatentVenue`),
under one arrival rule (:class:`MarketArrival`): an order is matched against the venue's book as it stands
when the order arrives, every event at or before that instant applied, not as detection saw it. On live
books a paper venue mirrors arb's book and a sandbox plays its capture itself, in wall time.
- ``live``: the real venue through its adapter, keys from the environment.

A sandbox or live venue is behind its order budget (:class:`~arb.venues.guard.BudgetedVenue`, the windows
:func:`arb.venues.registry.order_budget` gives), on the run's clock: an order waits for room, or is refused
before it leaves when it would wait longer than ``[execution] order_timeout_s``. A paper venue sends nothing.

Which adapter speaks a venue is the registry's answer (:mod:`arb.venues.registry`, the config's
``adapter``): nothing here names a venue. The executor never learns which kind it got: there is no
``if paper:`` anywhere past this module.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.config import Config, MarketSection
from arb.detection import FeeMode
from arb.domain.ids import ClientIdFormat
from arb.domain.market import EXACT, MarketKind, MarketRules, Symbol
from arb.domain.market_names import MarketNames
from arb.domain.venue import FundingReport, Venue
from arb.eventloop.clock import MarketClock, WallClock
from arb.eventloop.simloop import time_held
from arb.margin import AccountMargin, PositionState, account_margin, buying_power
from arb.marketdata.books import BookStore
from arb.positions import mid
from arb.runtime.arrival import MarketArrival
from arb.venues.adapter import SandboxLink, VenueRef
from arb.venues.guard import BudgetedVenue
from arb.venues.latency_profile import venue_profile
from arb.venues.latent import Latency, LatentVenue, OrderLatency
from arb.venues.live import LiveVenue
from arb.venues.paper.venue import ACCOUNT, EPOCH, MS, PaperConfig, PaperVenue
from arb.venues.registry import order_budget, ref_for
from arb.venues.renamed import RenamedVenue
from arb.venues.sim.book import CrossedBook
from arb.venues.sim.matching import Matcher
from arb.venues.sim.orders import SimMarket
from arb.venues.sim.queue import QueueModel
from arb.venues.throttle import SEND_JITTER_S, OrderBudget, VenueThrottle
from arb.venues.transfers import TransferVenue


@dataclass(frozen=True, slots=True)
class SimulatedMarket:
    """Where a simulation's market source delivers one simulated venue's events: its book and trades, under
    the venue's own market names (``markets``: engine symbol -> the venue's market id)."""

    markets: dict[str, str]
    on_book: Callable[[str, str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], int], object]
    on_trade: Callable[[str, Decimal, Decimal, str, int], object]
    # A perpetual's mark and funding line (market id, mark, rate, funding time ms, now ms); a spot venue's none.
    on_funding: Callable[[str, Decimal, Decimal, int, int], object] = lambda *_: None
    # The markets whose book the venue's matcher found crossed after an event (market id -> where; none, normally).
    crossed: Callable[[], Mapping[str, CrossedBook]] = dict
    # Its matcher's queue model (``arb/venues/sim/queue.py``), as the run's summary says it.
    queue: str = "conservative"
    # Whether any order rests on the venue now (None: not known, as of a sandbox's matcher behind its feed): the
    # market source delivers an instant line by line only while none does (``runtime/feeds.py``).
    resting: Callable[[], bool] | None = None


@dataclass(frozen=True)
class MarginAccount:
    """A venue whose markets are linear perpetuals: its leverage, largest fee rate, the markets it trades
    (engine symbol -> base, settle currency) and the books its sizing reads marks from."""

    leverage: Decimal
    fee_rate: Decimal
    markets: dict[str, tuple[str, str]]
    books: BookStore
    rules: Callable[[str], MarketRules]
    maintenance_rate: Decimal
    # The positions as the account holds them (engine symbol -> position): a paper venue's matcher, or what a
    # live (or sandbox) venue last reported (``LivePositions``, read with the balances).
    positions: Callable[[], dict[str, PositionState]] | None = None
    # A live venue's: read its positions again (before its margin figures), and its funding history.
    refresh: Callable[[], Awaitable[None]] | None = None
    funding: Callable[[str, datetime], Awaitable[list[tuple[datetime, Decimal]]]] | None = None

    def margin(self, name: str, wallet: Decimal) -> AccountMargin | None:
        """The account's margin figures now, its positions at its books' mids (None: positions unknown)."""
        if self.positions is None:
            return None
        held = self.positions()
        return account_margin(wallet, [(symbol, held[symbol], mid(*_top(self.books, name, symbol)))
                                       for symbol in self.markets if symbol in held], self.maintenance_rate)


@dataclass
class VenueSet:
    venues: dict[str, Venue] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    refs: dict[str, VenueRef] = field(default_factory=dict)  # name -> its adapter and ccxt id
    sandboxes: dict[str, SandboxLink] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Live venues' keep-warm loops (``LiveVenue.keep_warm``), for the engine to run under its supervisor.
    warmers: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    # Maker venues' fill streams (a live or sandbox venue's private stream), run by the engine's supervisor.
    fill_streams: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    fill_stream_counts: dict[str, Callable[[], dict[str, int]]] = field(default_factory=dict)  # for the metrics
    # A simulation: each simulated venue's market, fed by the market source, and the arrival rule they share.
    markets: dict[str, SimulatedMarket] = field(default_factory=dict)
    arrival: MarketArrival | None = None
    budgets: dict[str, OrderBudget] = field(default_factory=dict)  # venues with an order budget
    # Who hears a simulated perpetual's funding payments (the engine, which stores them).
    funding_listeners: list[Callable[[FundingReport], None]] = field(default_factory=list)
    # Margin accounts (venues whose markets are perpetuals): what sizing takes as their funds.
    margin: dict[str, MarginAccount] = field(default_factory=dict)
    # A simulated venue's wallet, which a simulated transfer moves (``runtime/rebalance.py``): add ``amount``
    # of an engine asset (< 0: take it; False, and nothing taken, when it holds less free).
    ledgers: dict[str, Callable[[str, Decimal], bool]] = field(default_factory=dict)
    # A live (or live-mode sandbox) venue's withdrawals and deposits, which an automatic transfer goes through
    # (``runtime/live_transfers.py``): only with ``transfers = "auto"``, only venues rebalancing names.
    transfers: dict[str, TransferVenue] = field(default_factory=dict)

    def pay_funding(self, name: str, paper: PaperVenue, names: MarketNames, market_id: str, mark: Decimal,
                    rate: Decimal, funding_ts: int, now_ms: int) -> None:
        """A simulated perpetual's funding line: what it paid the account, told to ``funding_listeners``
        under the engine's names."""
        for p in paper.on_funding(market_id, mark, rate, funding_ts, now_ms):
            report = FundingReport(name, names.engine_symbol(p.market), EPOCH + p.ts_ms * MS, p.rate, p.mark,
                                   p.position, p.amount, names.engine_asset(p.currency))
            for listener in self.funding_listeners:
                listener(report)

    def free_base(self, name: str, sym: Symbol, funds: Mapping[str, Decimal]) -> Decimal:
        """What a sell of ``sym`` on venue ``name`` may sell now, from ``funds`` (its sizing funds): the base
        held; on a margin account, what its buying power (``funds``' settle currency) buys at the ask now.
        On detection's path: a spot venue's is one lookup."""
        account = self.margin.get(name)
        if account is None:
            return funds.get(sym.base, Decimal(0))
        symbol = str(sym)
        ask = account.books.book(name, symbol).best_ask()
        power = funds.get(sym.quote, Decimal(0))
        return account.rules(symbol).round_amount(power / ask) if ask else Decimal(0)

    def sizing_funds(self, name: str, free: dict[str, Decimal]) -> dict[str, Decimal]:
        """What detection and quoting size on for venue ``name``: its free balances; on a margin account, under
        its settle currency the notional that currency holds margin for (``arb.margin.buying_power``). A
        perpetual sells without holding base: what a sell may sell is that notional at the ask now
        (:meth:`free_base`), not a figure of these funds."""
        account = self.margin.get(name)
        if account is None:
            return free
        out = dict(free)
        for settle in {settle for _, settle in account.markets.values()}:
            out[settle] = buying_power(free.get(settle, Decimal(0)), account.leverage, account.fee_rate)
        return out

    def forgetful(self) -> set[str]:
        """The venues that start empty in every run, knowing none of an earlier run's orders: paper venues, and
        sandboxes this process started (an external ``arb sandbox`` outlives the run, and is asked)."""
        return {name for name, kind in self.kinds.items() if kind == "paper"} | {
            name for name, link in self.sandboxes.items() if link.sandbox is not None}

    def order_budget(self) -> dict[str, dict[str, Any]]:
        """Each budgeted venue's orders held back and headroom now (``OrderBudget.snapshot``): what the status
        view, the metrics and the run summary show."""
        return {name: budget.snapshot() for name, budget in sorted(self.budgets.items())}

    def requests_held(self) -> dict[str, dict[str, int]]:
        """Each throttled venue's requests held back so far, by what held them (``VenueThrottle.held``: an
        announced window, our own buckets): what the metrics and the status view show."""
        out = {}
        for name, venue in sorted(self.venues.items()):
            seen: object = venue
            while seen is not None and not isinstance(getattr(seen, "throttle", None), VenueThrottle):
                seen = getattr(seen, "inner", None)
            if seen is not None:
                out[name] = seen.throttle.held()  # type: ignore[attr-defined]  # found just above
        return out

    def crossed_books(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Each simulated venue's books its matcher found crossed after a market event (venue -> engine symbol
        -> events left crossed, times it became so, and where it first did): what the run's summary shows."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name, market in sorted(self.markets.items()):
            symbols = {market_id: symbol for symbol, market_id in market.markets.items()}
            found = {symbols.get(market_id, market_id): {"events": c.events, "times": c.times, "first_ms": c.first_ms,
                                                         "bid": str(c.bid), "ask": str(c.ask)}
                     for market_id, c in market.crossed().items()}
            if found:
                out[name] = found
        return out

    def queue_models(self) -> dict[str, str]:
        """Each simulated venue's queue model (venue -> ``conservative``, ``power n=2``, ``log``): what the run's
        summary says its resting orders were matched by."""
        return {name: market.queue for name, market in sorted(self.markets.items())}

    def fee_mode(self, config: Config, venue: str) -> FeeMode:
        """How a taker buy pays its fee there: ``buy_fee_in`` on a spot venue; in the settle currency, on top
        of the notional, on a perpetual's (a venue is one kind of account: ``config/load.py``)."""
        section = config.venues[venue]
        if derivative_venue(config, venue):
            return FeeMode.QUOTE
        return FeeMode(section.buy_fee_in)

    async def close(self) -> None:
        while self.closers:
            closer = self.closers.pop()
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing must go on for the other venues
                pass


def derivative_venue(config: Config, venue: str) -> bool:
    """Whether ``venue`` is a margin account (its markets perpetuals), not a spot wallet."""
    section = config.venues[venue]
    return any(MarketKind(section.market_kind(s)).derivative for s in config.venue_markets(venue).symbols)


def rules_from_config(venue: str, symbol: str, market: MarketSection, kind: str) -> MarketRules:
    return MarketRules(venue, symbol, market.price_step, market.amount_step, market.min_amount,
                       market.min_notional, MarketKind(kind))


async def open_venues(
    config: Config,
    books: BookStore,
    clock: WallClock | MarketClock,
    *,
    force_paper: bool = False,
) -> VenueSet:
    from arb.venues.live.errors import translating

    out = VenueSet(arrival=MarketArrival() if isinstance(clock, MarketClock) else None)
    try:
        for name, section in config.venues.items():
            kind = "paper" if force_paper or (config.engine.dry_run and section.kind == "live") else section.kind
            ref = out.refs[name] = ref_for(config, name)
            out.kinds[name] = kind
            venue: Venue
            if kind == "paper":
                paper = _paper(config, name, books, clock, ref.adapter.client_ids(ref.ccxt_id),
                               mirror=out.arrival is None, amends=ref.adapter.amends_in_place(ref.ccxt_id))
                if out.arrival is not None:
                    names = config.venue_markets(name)
                    out.markets[name] = SimulatedMarket({s: names.market(s) for s in names.symbols},
                                                        paper.on_book, paper.on_trade,
                                                        functools.partial(out.pay_funding, name, paper, names),
                                                        paper.crossed_books, _queue_of(paper.matcher.markets),
                                                        paper.matcher.rests)
                venue = _latent(config, name, paper, out.arrival)
                out.ledgers[name] = functools.partial(_move, paper.matcher, ACCOUNT, config.venue_markets(name))
            else:
                # A venue that cannot be reached (no network, an external sandbox that is down) is one arb
                # error naming it (the adapter's own table first), not a ccxt traceback.
                with translating(name):
                    if kind == "sandbox":
                        sandbox, link = await ref.adapter.open_sandbox(config, ref, clock, out.closers)
                        out.sandboxes[name] = link
                        if out.arrival is not None and link.sandbox is not None:
                            out.markets[name] = _sandbox_market(link)
                        if link.sandbox is not None and link.account is not None:
                            out.ledgers[name] = functools.partial(_move, link.sandbox.engine.matcher, link.account,
                                                                  config.venue_markets(name))
                        venue = _latent(config, name, sandbox, out.arrival)
                    else:
                        venue = await ref.adapter.open_live(config, ref, out.closers)
                        live = _live_inside(venue)
                        if live is not None:
                            out.warmers[name] = functools.partial(  # a connection per pair that may be in flight
                                live.keep_warm, connections=config.execution.max_pairs_in_flight)
                    venue = _budgeted(config, name, venue, out.budgets, isinstance(clock, MarketClock))
                    if out.arrival is None and name in _auto_transfers(config):
                        out.transfers[name] = ref.adapter.transfers(venue, name)
                    quoted = config.quoted_on(name)
                    if quoted and out.arrival is None:  # quotes rest here: its fills come from its stream
                        names = config.venue_markets(name)
                        streaming = ref.adapter.fill_stream(venue, name, [names.market(s) for s in quoted])
                        venue, out.fill_streams[name] = streaming.venue, streaming.run
                        out.fill_stream_counts[name] = streaming.counts
            out.venues[name] = _renamed(config, name, venue)
            names = config.venue_markets(name)
            if any(out.venues[name].market_rules(s).kind.derivative for s in names.symbols):  # live: ccxt's say
                out.margin[name] = _margin_account(config, name, kind, out.venues[name], books,
                                                   paper if kind == "paper" else None)
        _connect_sandboxes(config, out)
    except BaseException:
        await out.close()
        raise
    return out


def _auto_transfers(config: Config) -> set[str]:
    """The venues automatic transfers move money between."""
    if config.rebalance.transfers != "auto":
        return set()
    return {venue for asset in config.rebalance.assets.values() for venue in asset.targets}


def _connect_sandboxes(config: Config, out: VenueSet) -> None:
    """In-process sandboxes an automatic transfer goes between are each other's peers: a withdrawal from one to
    the other's deposit address arrives there, as between two accounts on real venues."""
    linked = [out.sandboxes[name].sandbox for name in sorted(_auto_transfers(config) & set(out.transfers))
              if name in out.sandboxes]
    present = [sandbox for sandbox in linked if sandbox is not None]
    for i, sandbox in enumerate(present):
        for peer in present[i + 1:]:
            sandbox.add_peer(peer)


@dataclass
class LivePositions:
    """A live margin account's positions as its venue last reported them, under the engine's symbols."""

    venue: LiveVenue
    names: MarketNames
    held: dict[str, PositionState] = field(default_factory=dict)

    async def read(self) -> None:
        with time_held():  # in a simulation against a sandbox, a read takes no market time (as balances)
            reported = await self.venue.positions([self.names.market(s) for s in self.names.symbols])
        self.held = {s: reported[self.names.market(s)] for s in self.names.symbols}

    def __call__(self) -> dict[str, PositionState]:
        return dict(self.held)

    async def funding(self, symbol: str, since: datetime) -> list[tuple[datetime, Decimal]]:
        with time_held():
            return await self.venue.funding_history(self.names.market(symbol), since)


def _margin_account(config: Config, name: str, kind: str, venue: Venue, books: BookStore,
                    paper: PaperVenue | None) -> MarginAccount:
    section, names = config.venues[name], config.venue_markets(name)
    account = functools.partial(
        MarginAccount, section.leverage, max(section.taker_fee, section.maker_fee or section.taker_fee),
        {s: (Symbol.parse(s).base, Symbol.parse(s).quote) for s in names.symbols}, books, venue.market_rules,
        section.maintenance_margin)
    if kind == "paper":
        assert paper is not None
        return account(functools.partial(_paper_positions, paper, names))
    live = _live_inside(venue)
    if live is None:
        return account()
    reader = LivePositions(live, names)
    return account(reader, reader.read, reader.funding)


def _paper_positions(paper: PaperVenue, names: MarketNames) -> dict[str, PositionState]:
    """A paper venue's positions, under the engine's symbols."""
    return {symbol: paper.matcher.position(ACCOUNT, names.market(symbol)) for symbol in names.symbols}


def _top(books: BookStore, name: str, symbol: str) -> tuple[Decimal | None, Decimal | None]:
    book = books.book(name, symbol)
    return book.best_bid(), book.best_ask()


def _live_inside(venue: Venue) -> LiveVenue | None:
    """The ccxt venue under an adapter's wrappers (throttle guard, renaming), each of which keeps its
    ``inner``: the one that owns the connections to keep warm."""
    seen: object = venue
    while not isinstance(seen, LiveVenue):
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return seen


def _budgeted(config: Config, name: str, venue: Venue, budgets: dict[str, OrderBudget], simulated: bool) -> Venue:
    """``venue`` behind its order budget, when it has one. An order that would wait for room longer than
    ``order_timeout_s``, the time arb gives an order to be answered, is refused rather than sent that late:
    the decision it carries is older than any answer arb would wait for. Outside a simulation its orders cross
    a real transport, and each window is held :data:`~arb.venues.throttle.SEND_JITTER_S` longer."""
    windows = order_budget(config, name)
    if not windows:
        return venue
    budgets[name] = OrderBudget(name, windows, max_wait_s=config.execution.order_timeout_s,
                                jitter_s=0.0 if simulated else SEND_JITTER_S)
    return BudgetedVenue(venue, budgets[name])


def _renamed(config: Config, name: str, venue: Venue) -> Venue:
    """The venue under the engine's names, when it names a market otherwise or trades only some symbols
    (``arb/venues/renamed.py``); everything inside speaks the venue's own names."""
    names = config.venue_markets(name)
    return RenamedVenue(venue, names) if names.renames or names.symbols != config.engine.symbols else venue


def _sandbox_market(link: SandboxLink) -> SimulatedMarket:
    """An in-process sandbox's market in a simulation: the market source's events, pushed as the sandbox's own
    feed would push them (its clock is the run's market clock)."""
    sandbox = link.sandbox
    assert sandbox is not None
    return SimulatedMarket(dict(link.pairs),
                           lambda pair, kind, bids, asks, _ms: sandbox.push_book(pair, bids, asks, kind),
                           lambda pair, price, amount, aggressor, _ms: sandbox.push_trade(pair, price, amount,
                                                                                          aggressor),
                           lambda market, mark, rate, funding_ts, _ms: sandbox.push_funding(market, mark, rate,
                                                                                            funding_ts),
                           lambda: sandbox.engine.matcher.crossed, _queue_of(sandbox.engine.matcher.markets))


def _queue_of(markets: Mapping[str, SimMarket]) -> str:
    """A simulated venue's queue model as its markets have it (one per venue: ``[venues.<name>] queue_model``)."""
    return ", ".join(sorted({str(m.queue) for m in markets.values()})) or "conservative"


def _latent(config: Config, name: str, venue: Venue, arrival: MarketArrival | None) -> Venue:
    """A simulated venue behind its configured order latency (``arb/venues/latent.py``): its latency profile
    (``arb/venues/latency_profile.py``), else ``latency_ms`` and the keys beside it; in a simulation, the
    arrival rule too."""
    section = config.venues[name]
    latency: OrderLatency | None = venue_profile(config, name)
    if latency is None:
        back = section.latency_ms if section.ack_latency_ms is None else section.ack_latency_ms
        latency = Latency(section.latency_ms / 1000, back / 1000, section.latency_jitter_ms / 1000)
    if latency.zero:  # handled at the decision's instant, whose events are all applied already
        return venue
    return LatentVenue(venue, latency, settled=arrival.settled if arrival is not None else None)


def _move(matcher: Matcher, account: str, names: MarketNames, asset: str, amount: Decimal) -> bool:
    """A simulated wallet's ``asset`` (the engine's name) changed by ``amount``: a transfer leaving (< 0, never
    more than it holds free) or arriving."""
    balance = matcher.balance(account, names.venue_amounts({asset: amount}).popitem()[0])
    after = EXACT.add(balance.available, amount)
    if after < 0:
        return False
    balance.available = after
    return True


def _paper(config: Config, name: str, books: BookStore, clock: WallClock | MarketClock,
           client_ids: ClientIdFormat, *, mirror: bool, amends: bool) -> PaperVenue:
    """A paper venue speaks the venue's names like any other; :func:`_renamed` puts the engine's names on it.
    ``mirror``: on live books it mirrors the engine's books (under the engine's symbols); in a simulation the
    market source feeds it."""
    section = config.venues[name]
    names = config.venue_markets(name)
    rules = {names.market(s): rules_from_config(name, names.market(s), section.markets[s], section.market_kind(s))
             for s in names.symbols}
    paper_config = PaperConfig(fee_rate=section.taker_fee, buy_fee_in=section.buy_fee_in,
                               maker_fee_rate=section.maker_fee, leverage=section.leverage,
                               queue=QueueModel(section.queue_model, section.queue_power))
    return PaperVenue(
        name,
        {names.market(s): books.book(name, s) for s in names.symbols} if mirror else None,
        rules,
        names.venue_amounts(section.balances),
        config=paper_config,
        clock=clock.now,
        client_ids=client_ids,
        amends=amends,
    )

"""The run's maker-taker desk: one :class:`~arb.execution.maker.MakerRoute` per maker symbol and direction
(``[symbols.X] strategy = "maker"``), driven by the decision loop, journalled to the store.

- **Driven on the one event path.** The decision loop hands a maker symbol's book updates here instead of
  to detection (:meth:`QuotingDesk.on_books`, awaited as an execution is), so a replay, a paper run and a
  sweep point decide quotes at the same market instants. Fills come from the maker venue's fill stream.
- **Journalled before sent** (``runtime/maker_journal.py``): every quote, hedge and flatten is an ``orders``
  row before its request leaves; a quote's fills open its pair, which its hedges join, settled by the one
  accounting once it is done.
- **Risk.** A quote's notional is capped by ``[risk] max_notional_per_trade``; the kill switch and the run's
  stop cancel every quote (:meth:`QuotingDesk.close`); a stale taker book pulls the quote (the route's
  ``stale_book``); a symbol an operator paused (``RiskGate.pause``) has its quotes pulled and places none;
  a side whose hedges failed ``hedge_attempts`` times runs the leg policy: ``halt`` stops
  the run, halted, naming what is owed; ``flatten`` closes it on the maker venue and goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from arb.accounting import Settlement
from arb.config import Config
from arb.domain.ids import ClientIdFactory
from arb.domain.market import Side, Symbol, on_step
from arb.errors import ConfigError
from arb.eventloop.simloop import tick
from arb.execution.maker import FoundQuote, MakerRoute, RouteSpec
from arb.execution.risk import RiskGate
from arb.marketdata.books import BookStore
from arb.quoting.ledger import HedgeRules
from arb.quoting.pricing import Level, QuoteTerms
from arb.quoting.refresh import RefreshRule
from arb.quoting.sizing import Funds
from arb.runtime.balances import refresh_balances
from arb.runtime.funnel import Funnel
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.runtime.state import RunState
from arb.runtime.trades import TradeRecord
from arb.runtime.venues import VenueSet
from arb.store.maker_pairs import PairRow, UnfinishedQuote, unfinished_quotes

log = logging.getLogger("arb.engine")
SIDES = {"both": (Side.BUY, Side.SELL), "bid": (Side.BUY,), "ask": (Side.SELL,)}
HUGE_AGE_MS = 1 << 62  # a book that never updated: older than any limit


class RunBooks:
    """The run's normalized books as a route reads them (``execution/maker.Books``)."""

    def __init__(self, books: BookStore, now_ms: Callable[[], int], depth: int) -> None:
        self._books, self._now_ms, self._depth = books, now_ms, depth

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[Level]:
        return self._books.book(venue, symbol).levels(side, self._depth)

    def age_ms(self, venue: str, symbol: str) -> int:
        received = self._books.book(venue, symbol).received_ts
        return HUGE_AGE_MS if received is None else self._now_ms() - received


def maker_fee_of(config: Config, venue: str) -> Decimal:
    section = config.venues[venue]
    return section.taker_fee if section.maker_fee is None else section.maker_fee


class QuotingDesk:
    """Every maker route of the run, built from the config once its venues are open and its row exists."""

    def __init__(self, config: Config, venues: VenueSet, books: BookStore, state: RunState,
                 sessions: sessionmaker[Session], run_id: int, *, now: Callable[[], datetime],
                 now_ms: Callable[[], int], funnel: Funnel, risk: RiskGate, ids: ClientIdFactory | None = None,
                 ) -> None:
        self.state = state
        self.venues = venues
        self._risk = risk
        self._moved: set[str] = set()  # venues whose balances a settled pair changed since they were read
        self._reading: asyncio.Task[None] | None = None  # the balance read in the background, if one runs
        self._failures: list[BaseException] = []  # of the background reads: raised by the next decision
        self.books = RunBooks(books, now_ms, config.engine.book_depth)
        fees = {name: VenueFees(maker_fee_of(config, name), section.taker_fee)
                for name, section in config.venues.items()}

        def settled(row: PairRow, result: Settlement, word: str) -> None:
            funnel.executed_pair(row.expected_profit, result.realized_pnl, word)
            self._moved.update((row.buy_venue, row.sell_venue))  # their balances are read again, off the loop
            self._read_moved()
            state.trades.record_maker_pair(
                TradeRecord(row.opportunity_id, now(), row.symbol, row.buy_venue, row.sell_venue, row.size,
                            row.expected_profit, result.realized_pnl, word), result.open_base, result.open_price)
            risk.record_pnl(result.realized_pnl)  # the daily loss limit counts maker pairs too

        self.journal = StoreJournal(sessions, run_id, venues.venues, self.books, fees, now, settled)
        self.routes: dict[str, list[MakerRoute]] = {}
        self._unfinished: dict[tuple[str, str], list[UnfinishedQuote]] = {}  # by (symbol, maker venue)
        self._cancel_at_start: dict[str, bool] = {}  # by symbol
        self.journal.owes = lambda quote_id: any(r.owes(quote_id) for rs in self.routes.values() for r in rs)
        ids = ids or ClientIdFactory()
        for symbol in config.maker_symbols:
            maker = config.symbols[symbol].maker
            assert maker is not None
            directions = [(maker.maker_venue, maker.taker_venue)]
            if maker.both_ways:
                directions.append((maker.taker_venue, maker.maker_venue))
            self.routes[symbol] = [self._route(config, venues, symbol, m, t, ids, now_ms) for m, t in directions]
            self._cancel_at_start[symbol] = maker.cancel_at_start

    def _route(self, config: Config, venues: VenueSet, symbol: str, maker_name: str, taker_name: str,
               ids: ClientIdFactory, now_ms: Callable[[], int]) -> MakerRoute:
        section = config.symbols[symbol].maker
        assert section is not None
        maker, taker = venues.venues[maker_name], venues.venues[taker_name]
        maker_rules, taker_rules = maker.market_rules(symbol), taker.market_rules(symbol)
        for rules in (maker_rules, taker_rules):  # a live venue's rules, read now (preflight checked the config's)
            if not on_step(section.quote_size, rules.amount_step) or section.quote_size < rules.min_amount:
                raise ConfigError(str(config.path), f"symbols.{symbol}.maker.quote_size",
                                  f"{section.quote_size:f} does not fit {rules.venue}'s market (amount step "
                                  f"{rules.amount_step:f}, minimum {rules.min_amount:f})")
        terms = QuoteTerms(section.min_profit_bps, section.slippage_buffer_bps, maker_fee_of(config, maker_name),
                           config.venues[taker_name].taker_fee, maker_rules.price_step, section.join_top)
        hedge = HedgeRules(taker_rules.amount_step, taker_rules.min_amount, taker_rules.min_notional,
                           section.quote_size * section.levels if section.max_unhedged is None
                           else section.max_unhedged,
                           section.hedge_attempts, section.hedge_retry_ms, section.hedge_widen_bps)
        spec = RouteSpec(symbol, maker_name, taker_name, SIDES[section.sides], section.quote_size, terms,
                         RefreshRule(section.refresh_bps, section.max_quote_age_ms), hedge,
                         config.risk.max_notional_per_trade, section.leg_policy, section.flatten_slippage_bps,
                         section.levels, section.level_step_bps)
        venue_of = {"quote": maker, "flatten": maker, "hedge": taker}
        self.journal.taker_of[maker_name, symbol] = taker_name
        sym = Symbol.parse(symbol)
        balances = self.state.balances

        def funds() -> Funds:
            def free(venue: str, asset: str) -> Decimal:
                return balances.get(venue, {}).get(asset, Decimal(0))

            def sellable(venue: str) -> Decimal:  # a perpetual's: its buying power at the ask now
                return venues.free_base(venue, sym, balances.get(venue, {}))
            return Funds(sellable(maker_name), free(maker_name, sym.quote), sellable(taker_name),
                         free(taker_name, sym.quote))

        try:
            return MakerRoute(spec, maker, taker, self.books, self.journal, funds, now_ms,
                              lambda purpose: ids.next(venue_of[purpose].client_ids, purpose),
                              config.detection.max_book_age_ms, on_failed=self._failed(symbol))
        except TypeError:  # the venue (under its wrappers) has no fill stream
            raise ConfigError(str(config.path), f"symbols.{symbol}.maker.maker_venue",
                              f"{maker_name} ({venues.kinds[maker_name]}) has no fill stream to take a resting "
                              "quote's fills from: a paper venue can be a maker venue") from None

    def _failed(self, symbol: str) -> Callable[[Side, Decimal], None]:
        def failed(side: Side, waiting: Decimal) -> None:
            routes = self.routes[symbol]
            if any(route.halted for route in routes) and not self.state.halted:
                self.journal.halted()
                self.state.halted = True
                # As the executor's ("halted after opportunity 12"): every surface puts "halted:" before it.
                base = symbol.split("/")[0]
                owed = f"{waiting.normalize():f} {base} owed a hedge"
                self.state.stop_reason = f"halted after the {symbol} maker {side.value} side's hedges failed, {owed}"
                # As the executor halts: the risk gate's kill switch, so the status view, the metrics, the
                # incidents and the alerts all say halt (RiskEvent "halt").
                self._risk.engage_kill_switch(f"halt:maker_hedge_failed:{symbol} {side.value}: {owed}")
                self.state.stop.set()
        return failed

    def find_unfinished(self, sessions: sessionmaker[Session]) -> int:
        """Read the quotes earlier runs left resting or unhedged (after reconciliation); each route takes its
        own over at its symbol's first book update, when the taker book can price their hedges. Returns how
        many were found. A paper maker venue is new in every run: what an earlier run left on its own paper
        venue (another replay's simulated market) is not this run's, and is left alone."""
        with sessions() as s:
            for symbol, routes in self.routes.items():
                for route in routes:
                    if self.venues.kinds[route.spec.maker] == "paper":
                        continue
                    found = unfinished_quotes(s, route.spec.maker, symbol)
                    if found:
                        self._unfinished[symbol, route.spec.maker] = found
        return sum(len(found) for found in self._unfinished.values())

    async def _take_over(self, route: MakerRoute) -> None:
        """``route``'s unfinished quotes, taken over once its taker book can value them."""
        key = (route.spec.symbol, route.spec.maker)
        if await take_over(route, self.journal, self._unfinished[key], cancel=self._cancel_at_start[key[0]]):
            del self._unfinished[key]

    def _read_moved(self) -> None:
        """Start reading the balances a settled pair moved, in a task of its own, as the pair settles: the read
        overlaps whatever comes before the next book update, instead of starting at it."""
        if self._reading is not None and not self._reading.done():
            return  # the running read takes what moved since, before it ends

        async def read() -> None:
            while self._moved:
                moved, self._moved = sorted(self._moved), set()
                await refresh_balances(self.venues, self.state, moved, strict=False)

        def ended(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and (failure := task.exception()) is not None:
                self._failures.append(failure)

        self._reading = asyncio.ensure_future(read())
        self._reading.add_done_callback(ended)

    async def on_books(self, symbol: str) -> None:
        """A book of ``symbol`` changed: each of its routes re-prices (first taking over what an earlier run
        left it), on balances read since the last pair settled: quotes are sized on what both venues hold
        now, so a hedge is never sized past the taker's funds. The read started when the pair settled
        (:meth:`_read_moved`); only what is left of it is waited for here."""
        if self._reading is not None and not self._reading.done():
            await asyncio.wait([self._reading])
        self._raise_failures()
        for route in self.routes[symbol]:
            if (symbol, route.spec.maker) in self._unfinished:
                await self._take_over(route)
            await route.on_books()
        self._raise_failures()

    async def close(self, reason: str = "stop") -> None:
        """Cancel every resting quote, wait for the hedges in flight (the run's end, a stop, the kill switch):
        every route's cancels are on the wire at once."""
        await asyncio.gather(*[route.close(reason) for routes in self.routes.values() for route in routes])
        if self._reading is not None:
            await asyncio.wait([self._reading])
        self._raise_failures()

    async def pull(self, reason: str, symbol: str | None = None) -> None:
        """Cancel every resting quote (of ``symbol``) at once, each answer stored with ``reason``; the routes
        quote again at their next book update unless the risk gate says not to (an operator's pause)."""
        await asyncio.gather(*[route.pull(reason) for s, routes in self.routes.items() if symbol in (None, s)
                               for route in routes])
        self._raise_failures()

    async def guard(self, stop_reason: Callable[[], str | None], stale_after_ms: int) -> None:
        """Safety on the run's clock (market time in a simulation), not on the next book update, which a silent
        feed never brings: every check interval (a quarter of ``stale_after_ms``, at most a second, as the feed
        watchdog's) quotes are pulled while ``stop_reason`` names one (the kill switch, the daily loss limit),
        and a route's quotes once either of its books has been silent past ``stale_after_ms``. A stale route
        quotes again at its next book update with both books fresh (its refresh judges the book age)."""
        interval_s = min(1.0, stale_after_ms / 4000)
        while True:
            await tick(interval_s, self._nothing_to_guard)
            await self.check(stop_reason(), stale_after_ms)

    def _nothing_to_guard(self) -> bool:
        """No quote rests and no failure waits to be raised: a check finds nothing to do, and time alone
        changes that for none (``simloop.tick``)."""
        return not self._failures and not any(route.resting_levels or route.errors
                                              for routes in self.routes.values() for route in routes)

    async def check(self, stop_reason: str | None, stale_after_ms: int) -> None:
        """One check of :meth:`guard`."""
        if stop_reason is not None:
            if any(route.resting_levels for routes in self.routes.values() for route in routes):
                log.warning("pulling every quote: %s", stop_reason)
                await self.close(stop_reason)
            return
        # A symbol an operator paused (runtime/operator.py): its quotes go within one check interval.
        paused = [route for symbol, routes in self.routes.items() if self._risk.paused(symbol) for route in routes
                  if route.resting_levels]
        await asyncio.gather(*[route.pull("paused") for route in paused])
        stale = [route for routes in self.routes.values() for route in routes
                 if route.resting_levels and route.book_age_ms() > stale_after_ms]
        for route in stale:
            log.warning("%s: a book silent for %d ms: pulling %s's quotes", route.spec.symbol, route.book_age_ms(),
                        route.spec.maker)
        await asyncio.gather(*[route.pull("stale") for route in stale])
        self._raise_failures()

    def settle(self) -> None:
        """Every pair settled as it stands at the run's end (``close`` first); the journal's connection given
        back."""
        self.journal.settle_all()
        self.journal.close()

    def _raise_failures(self) -> None:
        if self._failures:
            raise self._failures[0]  # a background balance read failed: the run fails, never silently
        for routes in self.routes.values():
            for route in routes:
                if route.errors:
                    raise route.errors[0]  # a route's background task failed: the run fails, never silently


async def take_over(route: MakerRoute, journal: StoreJournal, found: list[UnfinishedQuote], *, cancel: bool) -> bool:
    """Hand ``route`` the quotes an earlier run left on its maker venue (oldest first; each taken is removed
    from ``found``): the journal learns their rows, the route hedges what they filled unanswered and resumes
    (or, ``cancel``, cancels) what still rests. False while the taker book cannot value them yet."""
    while found:
        row = found[0]
        taken = FoundQuote(row.client_order_id, row.side, row.price, row.amount, row.filled,
                           max(row.filled - row.hedged, Decimal(0)), row.resting, row.trade_ids)
        valued = route.valued(taken)
        if valued is None:
            return False
        journal.adopt(route.spec.maker, route.spec.symbol, row, valued)
        found.pop(0)
        log.info("%s: took over quote %s from an earlier run (%s, %s unhedged)", route.spec.symbol,
                 row.client_order_id, "resting" if row.resting else "done", taken.unhedged)
        await route.adopt(taken, valued, cancel=cancel)
    return True

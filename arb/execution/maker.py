"""One maker-taker route at work: post-only quotes resting on the maker venue, every fill of them hedged on
the taker venue with an IOC, exactly once.

The pure rules are :mod:`arb.quoting` (pricing, sizing, refresh, the hedge ledger); this module only moves
orders. Its two inputs:

- :meth:`MakerRoute.on_books`, after either venue's book for the symbol changed: each quoting side is
  re-priced from the books and the free funds; a resting quote with a refresh reason is cancelled, and a
  side with none resting gets a fresh one if one pays and the side may quote (the ledger's bound);
- the maker venue's fill stream (:class:`arb.domain.venue.FillStream`): a fill of one of this route's quotes
  goes to the ledger, keyed by trade id, and the hedges it makes due are sent at once. Fills are taken from
  the stream only, never from an order's answer or state, so a fill during a cancel's flight, after the
  cancel's acknowledgement or before the placement's acknowledgement is hedged like any other, once. A
  repeated trade id (a stream delivers at least once) is neither journalled nor hedged again. A quote whose
  fills reach its amount no longer rests; a cancel the venue answers "not found" or "closed" found it
  finished (filled while the cancel was on its way), and any other failed cancel leaves it resting for the
  next refresh.

A quote whose final answer said nothing filled (cancelled, refused, never landed) is forgotten
``FINISHED_KEPT_MS`` after that answer, as the journal forgets it: a route re-quoting for days keeps a minute of
its client ids, not the run's. No fill can follow such an answer; one that does within the minute (a venue
contradicting itself) is hedged as any other and logged as an error.

Every order is given to the :class:`Journal` before it is sent (an order sent is an order recorded), and
every answer after. A hedge that comes back short is retried after the ledger's backoff, its limit widened;
past ``max_attempts`` the side has failed and quoting stops on it; the leg policy (``RouteSpec.leg_policy``)
then halts the route or flattens what is owed on the maker venue, and ``on_failed`` is told.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol

from arb.domain.market import Side
from arb.domain.orders import OrderStatus, VenueState, status_from_report
from arb.domain.venue import DeadMansSwitch, FillReport, FillStream, OrderReport, OrderRequest, Venue
from arb.errors import ArbError, InvalidOrder, OrderNotFound
from arb.eventloop.eager import start_now
from arb.execution.lookup import FILL_LOOKBACK, lookup_by_client_id
from arb.execution.order_runner import OrderRunner
from arb.quoting.ledger import HedgeLedger, HedgeRequest, HedgeRules, MakerFill
from arb.quoting.lots import Lots, Piece
from arb.quoting.pricing import BPS, Level, NoQuote, Quote, QuoteTerms, Walk, hedge_limit, valued_quote, walk
from arb.quoting.refresh import RefreshRule, may_quote_again, refresh_reason
from arb.quoting.sizing import Funds, size_quote

log = logging.getLogger(__name__)

# How long a quote finished with nothing filled is remembered after its final answer, here (its client id) and
# by the journal (its row id and terms): room for answers that cross. Kept for the whole run, every quote cost
# ~100 B here and ~1.4 KB in the journal.
FINISHED_KEPT_MS = 60_000


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A maker symbol's route, as configured."""

    symbol: str
    maker: str  # venue names
    taker: str
    sides: tuple[Side, ...]  # the maker sides quoted
    size: Decimal  # base units per quote
    terms: QuoteTerms
    refresh: RefreshRule
    hedge: HedgeRules
    max_notional: Decimal
    # What a side whose hedges failed ``max_attempts`` times does with the base still owed a hedge: ``halt``
    # (every quote cancelled, nothing more quoted, the owed base left open and reported: a person decides) or
    # ``flatten`` (that side's quote cancelled and the owed base closed by an IOC on the maker venue, at the
    # maker's book widened by ``flatten_slippage_bps``; the other side keeps quoting).
    leg_policy: Literal["halt", "flatten"] = "halt"
    flatten_slippage_bps: Decimal = Decimal("50")
    # Quotes per side: level ``k`` (from 0) rests ``size`` more, priced on the taker depth behind the ``k``
    # levels in front (``k x size`` deeper) and asking ``k x level_step_bps`` more profit, so it rests further
    # out and every level that fills still pays on the depth its hedge will take.
    levels: int = 1
    level_step_bps: Decimal = Decimal(0)
    # Where the maker venue cancels by itself once arb falls silent (Gate's countdown_cancel_all), the route
    # keeps that countdown armed for its symbol while it quotes, set afresh every third of it: the quotes of
    # an arb that was killed rest at most this long. Gate's minimum is 5 s.
    dead_man_s: int = 15

    def terms_at(self, level: int) -> QuoteTerms:
        """The quote terms of ``level``: ``min_profit_bps`` raised by ``level x level_step_bps``."""
        if not level:
            return self.terms
        return dataclasses.replace(self.terms, min_profit_bps=self.terms.min_profit_bps + level * self.level_step_bps)


class Books(Protocol):
    """The run's books as the route reads them: a side's levels best first, and the book's age."""

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[Level]: ...

    def age_ms(self, venue: str, symbol: str) -> int: ...


class Journal(Protocol):
    """Where the route's orders are recorded: ``before_send`` is awaited before the request leaves.
    ``answers``: the client order id of the quote whose fills a hedge or flatten answers; for a quote, its
    own. ``reference``: a hedge's walked price on the taker book as it is sent (the accounting's adverse
    selection is measured to it)."""

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None: ...

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        """An order's answer; ``reason``: why arb cancelled it (a cancel's answer)."""
        ...

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        """The request failed: refused outright (``rejected``: ``execution/lookup.DEFINITIVE``), or with an
        outcome it cannot prove (``unknown``, looked up next)."""
        ...

    async def absent(self, venue: str, client_order_id: str, detail: str) -> None:
        """An order whose outcome was unknown, proved by its lookup never to have landed: ``rejected``."""
        ...

    async def not_sent(self, venue: str, client_order_id: str, error: ArbError) -> None:
        """Refused before it left (a market rule, the order budget): ``rejected``, never ``submitted``."""
        ...

    async def carried(self, client_order_id: str, answered: Sequence[tuple[str, Decimal]]) -> None:
        """Hedge (or flatten) ``client_order_id``, whose answer is recorded next, filled base other quotes owed:
        ``answered`` (quote, base), dust it carried with it. Their pairs are answered by it, not left owing."""
        ...

    async def amended(self, venue: str, report: OrderReport) -> None:
        """A quote's amend answered: its amount is ``report.amount`` from now on (what filled included)."""
        ...

    def maker_fill(self, fill: FillReport) -> Awaitable[None]:
        """A quote's fill, seen now: called as the route takes it, before its hedge is sent, so the time the
        fill is stored as received (where fill -> hedge starts) is taken here; the awaitable records it."""
        ...


@dataclass(frozen=True, slots=True)
class FoundQuote:
    """A quote an earlier run left (``arb/store/maker_pairs.unfinished_quotes``), as the route takes it over."""

    client_order_id: str
    side: Side
    price: Decimal
    amount: Decimal
    filled: Decimal
    unhedged: Decimal  # filled with no hedge (or flatten) fill yet
    resting: bool
    trade_ids: tuple[str, ...]


Slot = tuple[Side, int]  # a side and a level (0: the one nearest the market)


@dataclass(slots=True)
class _Resting:
    quote: Quote
    client_order_id: str
    quoted_at_ms: int
    cancelling: bool = False
    amending: bool = False  # an amend of its amount on the wire (``MakerRoute._amend``)
    filled: Decimal = Decimal(0)  # its fills from the stream


@dataclass
class MakerRoute:
    spec: RouteSpec
    maker: Venue
    taker: Venue
    books: Books
    journal: Journal
    funds: Callable[[], Funds]
    now_ms: Callable[[], int]
    new_client_id: Callable[[str], str]  # purpose ("quote", "hedge") -> a client order id for its venue
    max_book_age_ms: int
    on_failed: Callable[[Side, Decimal], None] = lambda side, waiting: None  # told after the leg policy ran
    halted: bool = False
    ledger: HedgeLedger = field(init=False)
    _resting: dict[Slot, _Resting] = field(default_factory=dict)
    _ours: dict[str, Side] = field(default_factory=dict)  # client order id of every quote kept -> its side
    # Quotes whose final answer said nothing filled -> the route's ms then, oldest first: out of ``_ours``
    # FINISHED_KEPT_MS on (_forget_finished).
    _finished: dict[str, int] = field(default_factory=dict)
    # Per maker side, each filled quote's base not yet hedged, oldest first: whose fills a hedge answers.
    _lots: dict[Side, Lots] = field(default_factory=lambda: {Side.BUY: Lots(), Side.SELL: Lots()})
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)
    errors: list[BaseException] = field(default_factory=list)
    # A slot's last refused quote (price, market ms): it waits before quoting into the same refusal again.
    _refused: dict[Slot, tuple[Decimal, int]] = field(default_factory=dict)
    _heartbeat: asyncio.Task[None] | None = None  # keeps the maker venue's dead man's switch armed
    # Every order goes out through the run's one order runner (execution/order_runner.py): an ambiguous outcome
    # (timeout, 5xx, a dropped answer) is looked up by client id before anything else is sent (a hedge whose
    # answer was lost had filled, and was sent again). Its clock is set to the route's.
    orders: OrderRunner = field(default_factory=lambda: OrderRunner(None))

    def __post_init__(self) -> None:
        self.ledger = HedgeLedger(self.spec.hedge)
        self.orders.clock = lambda: datetime.fromtimestamp(self.now_ms() / 1000, UTC)
        if not isinstance(self.maker, FillStream):
            raise TypeError(f"{self.spec.maker}: a maker venue needs a fill stream")
        self.maker.watch_fills(self._on_fill)

    # -- quotes ---------------------------------------------------------------------------------------
    async def on_books(self) -> None:
        """Re-price each side; cancel what must go, place what pays."""
        if self.halted:
            return
        for side in self.spec.sides:
            for level in range(self.spec.levels):
                await self._refresh((side, level))

    async def _refresh(self, slot: Slot) -> None:
        spec, now = self.spec, self.now_ms()
        side = slot[0]
        stale = self.books.age_ms(spec.taker, spec.symbol) > self.max_book_age_ms
        fresh = self._fresh(slot) if not stale else NoQuote("stale_book")
        resting = self._resting.get(slot)
        if resting is not None:
            if resting.cancelling or resting.amending:
                return
            reason = refresh_reason(resting.quote, resting.quoted_at_ms, fresh, now, spec.refresh,
                                    taker_book_stale=stale)
            if reason is None and self.ledger.may_quote(side):
                return
            if reason == "smaller" and self.maker.amends and isinstance(fresh, Quote) and self.ledger.may_quote(side):
                await self._amend(slot, resting, fresh)
                return
            reason = reason or "max_unhedged"  # the side may not quote: too much of it waits for hedges
            log.debug("%s %s quote %s at %s: %s", spec.symbol, side, resting.client_order_id, resting.quote.price,
                      reason)
            await self._cancel(slot, resting, reason)
            # The cancel took its round trip: books, funds and the ledger may have moved meanwhile.
            stale = self.books.age_ms(spec.taker, spec.symbol) > self.max_book_age_ms
            fresh = self._fresh(slot) if not stale else NoQuote("stale_book")
        if isinstance(fresh, Quote) and self.ledger.may_quote(side) and slot not in self._resting:
            refused = self._refused.get(slot)
            if refused is not None and not may_quote_again(*refused, fresh.price, self.now_ms(), spec.refresh):
                return
            await self._place(fresh, slot)

    def _fresh(self, slot: Slot) -> Quote | NoQuote:
        spec = self.spec
        side, level = slot
        hedge_side = "bids" if side is Side.BUY else "asks"
        own_same = self.books.levels(spec.maker, spec.symbol, "bids" if side is Side.BUY else "asks")
        own_other = self.books.levels(spec.maker, spec.symbol, "asks" if side is Side.BUY else "bids")
        levels = list(self.books.levels(spec.taker, spec.symbol, hedge_side))
        return size_quote(side, spec.size, levels, spec.terms_at(level), self._free_for(slot, levels),
                          spec.max_notional, self.maker.market_rules(spec.symbol),
                          self.taker.market_rules(spec.symbol),
                          maker_best_same=own_same[0][0] if own_same else None,
                          maker_best_opposite=own_other[0][0] if own_other else None,
                          behind=level * spec.size)

    def _free_for(self, slot: Slot, taker_levels: Sequence[Level]) -> Funds:
        """The free balances, less what this side's hedges still need: base filled on the maker venue and not
        yet hedged will take taker funds when its hedge goes (a maker sell's hedge buys with the taker's quote
        currency, at the walked price widened by the buffer and the taker fee), so a new quote never counts on
        funds a pending hedge needs (Hummingbot #855: maker fills outrunning the taker's balance). With levels,
        the side's other resting quotes count as owed too: each of them may fill and need its hedge."""
        side = slot[0]
        others = sum((r.quote.amount - r.filled for s, r in self._resting.items() if s[0] is side and s != slot),
                     Decimal(0))
        funds, owed = self.funds(), self.ledger.unhedged(side) + max(others, Decimal(0))
        if others > 0:  # what they hold on the maker venue (a bid's quote currency, an ask's base)
            if side is Side.BUY:
                held = sum((r.quote.price * (r.quote.amount - r.filled) for s, r in self._resting.items()
                            if s[0] is side and s != slot), Decimal(0))
                funds = dataclasses.replace(funds, maker_quote=max(funds.maker_quote - held, Decimal(0)))
            else:
                funds = dataclasses.replace(funds, maker_base=max(funds.maker_base - others, Decimal(0)))
        if not owed:
            return funds
        if side is Side.BUY:  # its hedges sell the taker's base
            return dataclasses.replace(funds, taker_base=max(funds.taker_base - owed, Decimal(0)))
        walked = _reference(taker_levels, owed)
        cost = (walked.notional * (1 + self.spec.terms.slippage_buffer_bps / BPS) * (1 + self.spec.terms.taker_fee)
                if walked is not None else funds.taker_quote)
        return dataclasses.replace(funds, taker_quote=max(funds.taker_quote - cost, Decimal(0)))

    async def _place(self, quote: Quote, slot: Slot) -> None:
        request = OrderRequest(self.new_client_id("quote"), self.spec.symbol, quote.side, quote.amount, quote.price,
                               "poc")
        self._forget_finished()
        self._ours[request.client_order_id] = quote.side
        resting = self._resting[slot] = _Resting(quote, request.client_order_id, self.now_ms())
        if self._heartbeat is None and isinstance(self.maker, DeadMansSwitch) and self.maker.cancels_on_silence:
            await self._arm()  # before the first quote leaves: no quote rests unguarded
            self._heartbeat = asyncio.ensure_future(self._keep_armed())
            self._heartbeat.add_done_callback(self._done)
        await self.journal.before_send(self.spec.maker, request, "quote", quote, request.client_order_id)
        try:
            report = await self._send(self.maker, self.spec.maker, request)
        except Unresolved:  # it may rest: left in its slot, so the next refresh cancels it by client id
            return
        if report is None:  # refused (post-only would take, funds), or never landed: nothing rests
            self._forget(slot, resting)
            self._refused[slot] = (quote.price, self.now_ms())
            self._finished_unfilled(resting)
            return
        self._refused.pop(slot, None)
        if report.state is not VenueState.OPEN:
            self._forget(slot, resting)
            if report.finished_unfilled:
                self._finished_unfilled(resting)

    async def _send(self, venue: Venue, name: str, order: OrderRequest,
                    before_answer: Callable[[OrderReport], Awaitable[None]] | None = None) -> OrderReport | None:
        """Send ``order`` (its row is written) through the run's one order runner (``order_runner.py``, as the
        taker legs go), every step journalled: the venue's report (journalled, after ``before_answer``), or
        None when it holds nothing of it (refused before it left or by the venue, or an ambiguous outcome whose
        lookup by client id proved it never landed). An ambiguous outcome is looked up before anything else is
        sent; one no lookup could resolve raises :class:`Unresolved` (the row stays ``unknown``: the order may
        have filled, so nothing may be sent in its place)."""
        try:
            prepared = await venue.prepare(order)
        except ArbError as exc:  # refused before it left (a market rule, the order budget): never sent
            await self.journal.not_sent(name, order.client_order_id, exc)
            return None
        record = _JournalRecord(self.journal, name, order.client_order_id, before_answer)
        # A quote's fills come from its venue's stream, never from its answer; an IOC's trades are fetched.
        outcome = await self.orders.run(venue, prepared, record, trades=order.time_in_force != "poc")
        if outcome.unresolved:
            raise Unresolved(f"{order.client_order_id} on {name}: {outcome.error}")
        if outcome.error is not None:
            log.info("%s %s %s on %s: %s, %s", self.spec.symbol, order.time_in_force, order.client_order_id, name,
                     outcome.error, "found by client id" if outcome.report else "refused or never landed")
        return outcome.report

    async def _cancel(self, slot: Slot, resting: _Resting, reason: str) -> None:
        """Cancel a resting quote for ``reason`` (stored with its answer: a refresh rule's word, ``stale``,
        ``kill_switch``, ``stop``, ``leg_policy``, ``start``). Whatever becomes of the cancel, the quote's row
        ends where the venue says it is:

        - answered: the answer is recorded;
        - the venue no longer holds it open (Gate's ``ORDER_CLOSED``, not found): it finished meanwhile,
          filled in full during the cancel's flight, ended by the venue's dead man's switch or by an earlier
          cancel whose answer was lost. Its final state is looked up by client id and recorded (its fills come,
          or came, from the stream like any other); left unrecorded, its row stayed ``open`` for good;
        - no answer (a timeout, a 5xx, a dropped connection: the cancel may have landed): looked up likewise.
          Still open, or nothing learned, it is left resting for the next refresh (or the run's end) to
          cancel again."""
        side = slot[0]
        resting.cancelling = True
        try:
            report = await self.maker.cancel(resting.client_order_id, self.spec.symbol)
        except ArbError as exc:
            finished = isinstance(exc, (OrderNotFound, InvalidOrder))
            found = await self._look_up(resting)
            if found is None and finished:
                log.info("%s %s quote %s already finished (%s); its final state not found", self.spec.symbol, side,
                         resting.client_order_id, exc)
                self._forget(slot, resting)
                return
            if found is None or found.state is VenueState.OPEN:
                log.warning("%s %s quote %s: cancel failed: %s; %s", self.spec.symbol, side, resting.client_order_id,
                            exc, "still resting" if found is not None else "its state unknown, left resting")
                resting.cancelling = False
                return
            log.info("%s %s quote %s: cancel answered %s; looked up by client id: %s", self.spec.symbol, side,
                     resting.client_order_id, exc, found.venue_status)
            report = found
        await self.journal.answered(self.spec.maker, report, reason)
        self._forget(slot, resting)
        if report.finished_unfilled:
            self._finished_unfilled(resting)

    async def _look_up(self, resting: _Resting) -> OrderReport | None:
        """``resting`` as its venue holds it now, looked up by client id with the order runner's spaced
        retries (a filled quote no longer listed is found by its trades); None when nothing could tell."""
        quote = resting.quote
        request = OrderRequest(resting.client_order_id, self.spec.symbol, quote.side, quote.amount, quote.price, "poc")
        placed = datetime.fromtimestamp(resting.quoted_at_ms / 1000, UTC)
        try:
            result = await lookup_by_client_id(self.maker, request, since=placed - FILL_LOOKBACK,
                                               policy=self.orders.lookup, sleep=self.orders.sleep)
        except ArbError:
            return None
        return result.report

    async def _amend(self, slot: Slot, resting: _Resting, fresh: Quote) -> None:
        """``smaller``: cut the resting quote in place to what may rest now (its fills so far plus the fresh
        quote's amount), keeping its place in the queue, which a cancel and a new quote would give up (the
        venue's amend: ``Venue.amends``). A fill during the amend's flight comes from the stream like any
        other; an amend that fails falls back to the cancel the refresh would otherwise make."""
        target = resting.filled + fresh.amount
        if target >= resting.quote.amount:
            return  # what is left of it fits already
        resting.amending = True
        try:
            report = await self.maker.amend(resting.client_order_id, self.spec.symbol, target)
        except ArbError as exc:
            log.info("%s %s quote %s: amend failed (%s); cancelling it", self.spec.symbol, slot[0],
                     resting.client_order_id, exc)
            resting.amending = False
            if not resting.cancelling:
                await self._cancel(slot, resting, "smaller")
            return
        resting.amending = False
        old = resting.quote
        resting.quote = dataclasses.replace(old, amount=target, expected_profit=old.expected_profit * target / old.amount)
        await self.journal.amended(self.spec.maker, report)
        if report.state is not VenueState.OPEN or resting.filled >= target:
            self._forget(slot, resting)

    def _forget(self, slot: Slot, resting: _Resting) -> None:
        """``resting`` no longer rests (a later quote in its slot, if any, is left alone)."""
        if self._resting.get(slot) is resting:
            del self._resting[slot]

    def _finished_unfilled(self, resting: _Resting) -> None:
        """``resting``'s final answer said nothing filled: its client id goes ``FINISHED_KEPT_MS`` on, unless
        the stream brought a fill of it first (then it never goes)."""
        if not resting.filled:
            self._finished[resting.client_order_id] = self.now_ms()

    def _forget_finished(self) -> None:
        horizon = self.now_ms() - FINISHED_KEPT_MS
        finished = self._finished
        gone = []
        for coid, at in finished.items():  # oldest first: the few due are at the front
            if at > horizon:
                break
            gone.append(coid)
        for coid in gone:
            del finished[coid]
            self._ours.pop(coid, None)

    async def pull(self, reason: str, side: Side | None = None) -> None:
        """Every resting quote (of ``side``) cancelled at once for ``reason``: the cancels are on the wire
        together, so pulling N quotes takes one round trip, not N. Each cancel is a task of the route's: a
        caller stopped meanwhile (the quote guard, stopped as the run ends) leaves it running, and :meth:`close`
        waits for it, so no cancel's answer is lost with the caller that asked for it."""
        cancels = [self._spawn(self._cancel(slot, resting, reason)) for slot, resting in list(self._resting.items())
                   if (side is None or slot[0] is side) and not resting.cancelling]
        if cancels:
            await asyncio.wait(cancels)

    async def close(self, reason: str = "stop") -> None:
        """Cancel every resting quote and wait for the hedges in flight (the run's end, the kill switch); the
        venue's dead man's switch is then ended (its countdown would cancel nothing of ours, but another
        program's orders on the account)."""
        await self.pull(reason)
        while self._tasks:
            await asyncio.gather(*self._tasks)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
            await self._arm(0)

    async def _arm(self, timeout_s: int | None = None) -> None:
        """Set the maker venue's countdown for this symbol (``dead_man_s``; 0 ends it). A failure is said and
        the next beat tries again: quoting goes on, as it did before the switch existed."""
        assert isinstance(self.maker, DeadMansSwitch)
        try:
            await self.maker.arm_cancel_all(self.spec.dead_man_s if timeout_s is None else timeout_s,
                                            self.spec.symbol)
        except ArbError as exc:
            log.warning("%s on %s: dead man's switch not set: %s", self.spec.symbol, self.spec.maker, exc)

    async def _keep_armed(self) -> None:
        while True:
            await asyncio.sleep(self.spec.dead_man_s / 3)
            await self._arm()

    def book_age_ms(self) -> int:
        """The age of the older of the route's two books."""
        return max(self.books.age_ms(self.spec.maker, self.spec.symbol),
                   self.books.age_ms(self.spec.taker, self.spec.symbol))

    def owes(self, quote_id: str) -> bool:
        """Whether some of the quote ``quote_id``'s filled base has no hedge fill yet (its pair is not done)."""
        return any(quote_id in lots.open for lots in self._lots.values())

    @property
    def resting(self) -> dict[Side, Quote]:
        """Each side's resting quote nearest the market (its lowest level resting)."""
        out: dict[Side, Quote] = {}
        for (side, _), r in sorted(self._resting.items(), key=lambda item: item[0][1]):
            out.setdefault(side, r.quote)
        return out

    @property
    def resting_levels(self) -> dict[Slot, Quote]:
        return {slot: r.quote for slot, r in self._resting.items()}

    def valued(self, found: FoundQuote) -> Quote | None:
        """``found`` as the taker book values it now (None: no taker book yet)."""
        spec = self.spec
        levels = self.books.levels(spec.taker, spec.symbol, "bids" if found.side is Side.BUY else "asks")
        return valued_quote(found.side, found.price, found.amount, levels, spec.terms)

    async def adopt(self, found: FoundQuote, quote: Quote, *, cancel: bool) -> None:
        """Take over a quote an earlier run left (a restart): what it filled meanwhile and no hedge answered is
        hedged now; its trades are known, so the stream replaying one adds nothing. Still resting, it is
        resumed as this side's quote (the refresh rule then judges it like any other), or cancelled with
        ``cancel`` (``cancel_at_start``), or when the side is not quoted or already has one."""
        self._ours[found.client_order_id] = found.side
        self.ledger.adopt(found.side, found.trade_ids, found.unhedged)
        if found.unhedged > 0:
            self._lots[found.side].filled(found.client_order_id, found.unhedged)
        if found.resting:
            resting = _Resting(quote, found.client_order_id, self.now_ms(), filled=found.filled)
            free = [(found.side, k) for k in range(self.spec.levels) if (found.side, k) not in self._resting]
            if cancel or not free or found.side not in self.spec.sides:
                # no slot of its own: nothing to forget
                await self._cancel((found.side, -1), resting, "start" if cancel else "no_slot")
            else:
                self._resting[free[0]] = resting
        if found.unhedged > 0:
            self._send_due(found.side)

    # -- fills and hedges -----------------------------------------------------------------------------
    def _on_fill(self, fill: FillReport) -> None:
        side = self._ours.get(fill.client_order_id or "")
        if side is None or fill.symbol != self.spec.symbol:
            return  # another route's, or an order of the taker-taker executor on the same venue
        if self.ledger.knows(fill.trade_id):
            return  # a stream delivers at least once: a repeat is neither journalled nor hedged again
        assert fill.client_order_id is not None  # it is one of ours
        if self._finished.pop(fill.client_order_id, None) is not None:  # kept for good from now on
            log.error("%s %s quote %s filled %s (trade %s) after %s answered that it had finished with nothing "
                      "filled: hedged as any fill", self.spec.symbol, side.value, fill.client_order_id, fill.amount,
                      fill.trade_id, self.spec.maker)
        self._lots[side].filled(fill.client_order_id, fill.amount)
        slot, resting = next(((s, r) for s, r in self._resting.items()
                              if s[0] is side and r.client_order_id == fill.client_order_id), ((side, 0), None))
        if resting is not None:
            resting.filled += fill.amount
            if resting.filled >= resting.quote.amount and not resting.cancelling:
                self._forget(slot, resting)  # filled in full: nothing rests, its slot may quote again
        recorded = self.journal.maker_fill(fill)  # seen now, before its hedge goes out
        price = self._hedge_price(side, fill.amount)
        for request in self.ledger.on_fill(MakerFill(fill.trade_id, side, fill.amount, fill.price), price,
                                           self.now_ms()):
            # Started now (eventloop/eager.py): its row and request go out in the stream's own turn of the
            # loop, not a turn later behind whatever else is ready (~0.09 ms of bench_maker's 1.3 ms).
            self._spawn(start_now(self._hedge(request)))
        # After the hedge: recording the fill never delays it (the hedge order itself is journalled before it
        # is sent, in _hedge). The journal opens pairs in the order their quotes filled all the same.
        self._spawn(recorded)

    def _hedge_price(self, side: Side, amount: Decimal) -> Decimal:
        """The taker's best price for ``side``'s hedge: what the ledger checks a hedge's minimum notional at."""
        levels = self.books.levels(self.spec.taker, self.spec.symbol, "bids" if side is Side.BUY else "asks")
        return levels[0][0] if levels else Decimal(0)

    async def _hedge(self, request: HedgeRequest) -> None:
        """Send ``request`` as one IOC per quote whose base it answers (oldest first, :class:`Lots`), so each
        pair's hedges are its own; the ledger hears the total."""
        spec = self.spec
        levels = self.books.levels(spec.taker, spec.symbol, "bids" if request.maker_side is Side.BUY else "asks")
        reference = _reference(levels, request.amount)
        if reference is None:  # an empty book: nothing to price a limit on; the backoff, then again
            self._hedge_done(request, Decimal(0))
            return
        limit = hedge_limit(request.maker_side, reference, spec.terms.slippage_buffer_bps + request.widen_bps,
                            self.taker.market_rules(spec.symbol).price_step)
        lots = self._lots[request.maker_side]
        pieces = lots.take(request.amount, self.spec.hedge, limit)
        # Each piece started at once (eventloop/eager.py): its row and request go out in this turn of the loop,
        # not behind the maker fill's journalling, queued meanwhile (a task hop cost a hedge ~100 ms there). One
        # piece (the usual hedge) is simply awaited: the same, without a task and a gather of one.
        if len(pieces) == 1:
            filled = [await self._hedge_piece(request, pieces[0], limit, reference.average)]
        else:
            filled = await asyncio.gather(*[start_now(self._hedge_piece(request, piece, limit, reference.average))
                                            for piece in pieces])
        if None in filled:
            # A piece whose outcome no lookup could learn may have filled: no retry may be sent in its place
            # (the ledger keeps the request in flight), and the route stops as a failed side does: a person
            # decides, with the order named in the log and left ``unknown`` for the next start's reconciliation.
            self._spawn(self._halt_unresolved(request.maker_side))
            return
        self._hedge_done(request, sum((f for f in filled if f is not None), Decimal(0)))

    async def _hedge_piece(self, request: HedgeRequest, piece: Piece, limit: Decimal,
                           reference: Decimal) -> Decimal | None:
        """One IOC of a hedge, answering ``piece.quote_id``'s fills (and the dust it carries); what it filled
        (None: its outcome could not be learned, its base stays in flight)."""
        spec = self.spec
        order = OrderRequest(self.new_client_id("hedge"), spec.symbol, request.side, piece.amount, limit, "ioc")
        await self.journal.before_send(spec.taker, order, "hedge", None, piece.quote_id, reference)
        lots = self._lots[request.maker_side]

        async def credited(report: OrderReport) -> None:
            # The lots first: the journal, recording the answer, settles the pair once no base of it is owed.
            carried = lots.answered(piece, report.filled)
            if carried:
                await self.journal.carried(order.client_order_id, carried)

        try:
            report = await self._send(self.taker, spec.taker, order, credited)
        except Unresolved as exc:
            log.error("%s hedge %s %s: %s", spec.symbol, request.side, piece.amount, exc)
            return None
        if report is None:
            log.warning("%s hedge %s %s filled nothing: refused", spec.symbol, request.side, piece.amount)
            lots.answered(piece, Decimal(0))
            return Decimal(0)
        return report.filled

    def _hedge_done(self, request: HedgeRequest, filled: Decimal) -> None:
        side = request.maker_side
        if self.ledger.on_hedge_done(request.key, filled, self.now_ms()):
            self._spawn(self._apply_leg_policy(side))
            return
        self._send_due(side)

    async def _halt_unresolved(self, side: Side) -> None:
        self.halted = True
        await self.pull("unresolved_hedge")
        self.on_failed(side, self.ledger.waiting(side))

    async def _apply_leg_policy(self, side: Side) -> None:
        """A side's hedges failed ``max_attempts`` times (the ledger stops hedging and quoting it)."""
        spec = self.spec
        log.warning("%s: hedges of the maker %s side failed %d times; %s %s owed", spec.symbol, side,
                    spec.hedge.max_attempts, spec.leg_policy, self.ledger.waiting(side))
        if spec.leg_policy == "halt":
            self.halted = True
            await self.pull("leg_policy")
        else:
            await self.pull("leg_policy", side)
            await self._flatten(side)
        self.on_failed(side, self.ledger.waiting(side))

    async def _flatten(self, side: Side) -> None:
        """Close the base ``side`` owes on the maker venue with one IOC: a maker buy's base sold into the maker's
        bids, a maker sell's bought back from its asks."""
        spec = self.spec
        rules = self.maker.market_rules(spec.symbol)
        amount = rules.round_amount(self.ledger.waiting(side))
        levels = self.books.levels(spec.maker, spec.symbol, "bids" if side is Side.BUY else "asks")
        if amount <= 0 or amount < rules.min_amount or not levels:
            log.warning("%s: %s owed on the maker %s side cannot be flattened (%s)", spec.symbol,
                        self.ledger.waiting(side), side, "no book" if not levels else "below the minimum")
            return
        reference = _reference(levels, amount)
        assert reference is not None  # levels is not empty
        limit = hedge_limit(side, reference, spec.flatten_slippage_bps, rules.price_step)
        order = OrderRequest(self.new_client_id("flatten"), spec.symbol, side.opposite, amount, limit, "ioc")
        oldest = self._lots[side].oldest()
        await self.journal.before_send(spec.maker, order, "flatten", None, oldest)

        async def settled(report: OrderReport) -> None:
            if report.filled:
                self.ledger.settled_by_flatten(side, report.filled)
                carried = [c for c in self._lots[side].flattened(report.filled) if c[0] != oldest]
                if carried:  # it closed the other quotes' owed base too: their pairs are answered by it
                    await self.journal.carried(order.client_order_id, carried)

        try:
            report = await self._send(self.maker, spec.maker, order, settled)
        except Unresolved as exc:  # it may have filled: not sent again, the row left unknown
            log.error("%s flatten %s %s: %s", spec.symbol, order.side, amount, exc)
            return
        if report is None:
            log.warning("%s flatten %s %s filled nothing: refused", spec.symbol, order.side, amount)

    def _send_due(self, side: Side) -> None:
        """Send what is due now (the rest of a short hedge, fills that waited for it); if the rest waits for
        its backoff, come back then."""
        now = self.now_ms()
        due = self.ledger.due(now, {side: self._hedge_price(side, self.ledger.waiting(side))})
        for request in due:
            self._spawn(self._hedge(request))
        retry_at = self.ledger.retry_at_ms(side)
        if not due and retry_at > now:
            self._spawn(self._send_due_at(side, retry_at))

    async def _send_due_at(self, side: Side, at_ms: int) -> None:
        await asyncio.sleep((at_ms - self.now_ms()) / 1000)
        self._send_due(side)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            log.error("%s maker route task failed: %r", self.spec.symbol, exc)
            self.errors.append(exc)  # the run checks this: no background task dies silently


class Unresolved(Exception):
    """An order's outcome is unknown and no lookup by its client id could learn it."""


@dataclass(frozen=True, slots=True)
class _JournalRecord:
    """A maker order's steps, as the order runner learns them, written through the route's journal (which
    keeps each maker pair's rows). ``before_answer``: what the route settles first when an answer comes (a
    hedge's lots and the dust it carried), so the journal, recording it, settles the pair on it."""

    journal: Journal
    venue: str
    client_order_id: str
    before_answer: Callable[[OrderReport], Awaitable[None]] | None = None

    async def answered(self, report: OrderReport, sent_at: datetime, answered_at: datetime | None,
                       detail: str | None) -> OrderStatus:
        if self.before_answer is not None:
            await self.before_answer(report)
        await self.journal.answered(self.venue, report)
        return status_from_report(report.amount, report.filled, report.state)

    async def failed(self, error: Exception, sent_at: datetime) -> None:
        await self.journal.refused(self.venue, self.client_order_id, error)

    async def absent(self, detail: str) -> None:
        await self.journal.absent(self.venue, self.client_order_id, detail)


def _reference(levels: Sequence[Level], amount: Decimal) -> Walk | None:
    """What a hedge of ``amount`` is priced on: the walk, or when the book holds less, its deepest level
    (the IOC takes what there is and the rest is retried)."""
    walked = walk(levels, amount)
    if walked is None and levels:
        deepest = levels[-1][0]
        walked = Walk(amount, deepest * amount, deepest)
    return walked

"""The maker routes' journal on the run's database (``execution/maker.Journal``): the only writer of a
maker run's orders, fills and pairs (through ``arb/store``).

- Every quote, hedge and flatten is an ``orders`` row in ``submitted`` before its request leaves.
- A quote's answers are recorded at the fills stored (``store/orders.record_quote_report``): its fills come
  from the fill stream, which may deliver them after the answer. A hedge's answer without all its trades (a
  live venue's) has them looked up by order id first.
- A quote's first fill (or the first hedge answering it, which is sent before the fill is journalled) opens
  its pair (``store/maker_pairs.py``); hedges and flattens join the pair of the quote they answer. Pairs open
  in the order their quotes first filled (:meth:`StoreJournal.maker_fill` is called as each fill is seen).
- A pair is settled by the one accounting once every one of its orders is final and none of its base is
  owed a hedge (``owes``, the routes' word), again when a late fill changes it; :meth:`settle_all` settles
  what is left at the run's end, base still owed shown as its open position. A pair settled since the last
  write to anything its settlement reads is not computed again there: the same figures, its time moved to the
  end (``store/settlement.settled_again``).
- What it keeps in memory of a quote that finished with nothing filled (cancelled, refused) goes
  ``FINISHED_KEPT`` after its final answer: a route re-quoting for days keeps a minute of them, not the run's.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from arb.accounting import Settlement, mark_price
from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.domain.outcomes import maker_outcome
from arb.domain.venue import FillReport, OrderReport, OrderRequest, Venue
from arb.errors import ArbError
from arb.execution.lookup import DEFINITIVE
from arb.execution.maker import FINISHED_KEPT_MS, Books
from arb.quoting.pricing import Quote
from arb.store import maker_pairs
from arb.store import orders as order_store
from arb.store.kept import KeptConnection, KeptSessions
from arb.store.maker_pairs import MakerPairTerms, PairRow, UnfinishedQuote
from arb.store.settlement import settle_opportunity, settled_again
from arb.store.write_ahead import WriteAheadRecord

# How long what is kept of a quote that finished with nothing filled stays after its final answer: no fill can
# follow it, but answers may cross on the way (an amend's arriving after its cancel's). The route's own window
# (its client ids): one figure, so neither forgets a quote the other would still take a fill for.
FINISHED_KEPT = timedelta(milliseconds=FINISHED_KEPT_MS)


@dataclass(slots=True)
class _Order:
    """What the journal keeps of an order it wrote, for the answers, fills and links still to come."""

    row: int  # its ``orders`` row
    purpose: str  # "quote", "hedge" or "flatten"
    answers: str  # the client order id of the quote it answers (a quote's own)
    sent_at: datetime
    started: bool = False  # past its write-ahead record: its first event written


@dataclass(frozen=True, slots=True)
class VenueFees:
    maker: Decimal  # a resting order's fill; negative: a rebate
    taker: Decimal


class StoreJournal:
    """The routes' journal (``execution/maker.Journal``), on the run's database."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int, venues: Mapping[str, Venue], books: Books,
                 fees: Mapping[str, VenueFees], now: Callable[[], datetime],
                 on_settled: Callable[[PairRow, Settlement, str], None] = lambda row, settled, word: None,
                 ) -> None:
        # Everything it writes runs on one connection it keeps, as the executor's (store/kept.py): no pool
        # checkout per order, and the write-ahead INSERT on the hot path of a hedge.
        self._kept = KeptConnection(sessions.kw["bind"])
        self._sessions = KeptSessions(self._kept)
        self._write_ahead = WriteAheadRecord(self._kept)
        self._run_id, self._venues, self._books = run_id, venues, books
        self._fees, self._now, self._on_settled = fees, now, on_settled
        self._orders: dict[str, _Order] = {}  # client order id -> what is kept of it
        self._carried_for: dict[str, list[str]] = {}  # ... -> older quotes whose dust it answered (``carried``)
        self._terms: dict[str, MakerPairTerms] = {}  # a quote's client order id -> what it promised
        self._pairs: dict[str, int] = {}  # a quote's client order id -> its pair's row, once it filled
        self._unpaired: dict[str, None] = {}  # quotes seen filled whose pair is not open yet, in that order
        # Quotes finished with nothing filled (cancelled, refused), oldest first, with when: their entries above
        # go FINISHED_KEPT later. A route re-quoting each side each second finishes ~170k a day, ~1.4 KB each.
        self._finished: deque[tuple[datetime, str]] = deque()
        self._settled: set[int] = set()
        # Pairs whose stored settlement is what settling them again would write: settled since the last write
        # to their row, their orders or the orders that answered part of their base (``carried``).
        self._fresh: set[int] = set()
        self._carried_by: dict[str, set[str]] = {}  # a hedge's or flatten's client order id -> the quotes it carried
        self.taker_of: dict[tuple[str, str], str] = {}  # (maker venue, symbol) -> its hedges' venue
        # Whether a quote's filled base still waits for a hedge (the routes know): its pair is not done yet.
        self.owes: Callable[[str], bool] = lambda quote_id: False

    def adopt(self, venue: str, symbol: str, found: UnfinishedQuote, valued: Quote) -> None:
        """A quote an earlier run left, taken over by a route: its row, its pair (or what the pair will be
        given, valued on the taker book now, if it has none yet)."""
        coid = found.client_order_id
        # An earlier run's order: past its write-ahead record.
        self._orders[coid] = _Order(found.order_id, "quote", coid, found.sent_at, started=True)
        self._terms[coid] = self._pair_terms(venue, symbol, valued, found.sent_at)
        if found.pair_id is not None:
            self._pairs[coid] = found.pair_id

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None:
        """The order's row, committed before it is sent: one prepared INSERT (``store/write_ahead.py``), as
        an entry's, since a hedge is on the way to the wire. Its first event, ``submitted`` and its pair's
        link are written with its first answer (or fill), after the send."""
        now = self._now()
        self._forget_finished(now)
        if quote is not None:
            self._terms[request.client_order_id] = self._pair_terms(venue, request.symbol, quote, now)
        coid = request.client_order_id
        row = self._write_ahead.order(order_store.NewOrder(
            self._run_id, None, venue, request.symbol, request.side.value, request.price, request.amount, coid,
            purpose=purpose, time_in_force=request.time_in_force, reference_price=reference), now)
        self._orders[coid] = _Order(row, purpose, answers, now)

    def _started(self, s: Session, coid: str) -> int:
        """The order's row brought past its write-ahead record (once): its first event, ``submitted`` at its
        sending, and a hedge's or flatten's link to its pair. Returns its id."""
        order = self._orders[coid]
        if order.started:
            return order.row
        order_store.record_sent(s, order.row, order.sent_at, created_at=order.sent_at)
        if order.purpose != "quote":
            maker_pairs.link(s, order.row, self._pair(s, order.answers))
        order.started = True
        return order.row

    def _touched(self, coid: str) -> None:
        """Order ``coid`` is written: the pairs whose settlement reads it are no longer fresh."""
        for quote_id in (self._orders[coid].answers, *self._carried_by.get(coid, ())):
            pair = self._pairs.get(quote_id)
            if pair is not None:
                self._fresh.discard(pair)

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        coid = report.client_order_id
        order = self._orders[coid]
        if order.purpose != "quote" and report.filled > sum((f.amount for f in report.fills), Decimal(0)):
            # An IOC's answer without all its trades (a live venue's): its trades by order id, then the answer.
            fills = await self._venues[venue].fetch_fills(report.symbol, order.sent_at,
                                                          order_id=report.venue_order_id)
            report = dataclasses.replace(report, fills=tuple(fills))
        now = self._now()
        self._touched(coid)
        with self._sessions.begin() as s:
            order_id = self._started(s, coid)
            if order.purpose == "quote":
                terms = self._terms.get(coid)
                if terms is not None and report.amount < terms.quote_amount:
                    # Cut in place by an amend whose answer was lost (its cancel answers at the venue's amount
                    # now): the venue's amount is the truth, as the start's reconciliation takes it.
                    self._cut(s, coid, order_id, report.amount, now, source="its answer")
                order_store.record_quote_report(s, order_id, report, now, reason=reason)
            else:
                order_store.record_report(s, order_id, report, now)
        if report.finished_unfilled:
            self._finished_unfilled(coid, now)
        self._settle(order.answers)
        for quote_id in self._carried_for.pop(coid, ()):
            self._settle(quote_id)

    async def amended(self, venue: str, report: OrderReport) -> None:
        """A quote cut in place: its row's amount (and its pair's quote amount) is the venue's now, then the
        answer is recorded as any quote's."""
        coid = report.client_order_id
        now = self._now()
        self._touched(coid)
        with self._sessions.begin() as s:
            order_id = self._started(s, coid)
            self._cut(s, coid, order_id, report.amount, now)
            order_store.record_quote_report(s, order_id, report, now)
        self._settle(self._orders[coid].answers)

    def _cut(self, s: Session, coid: str, order_id: int, amount: Decimal, now: datetime, *,
             source: str | None = None) -> None:
        """Quote ``coid``'s amount is ``amount`` from now on: its terms, its row (an event saying from what and,
        with ``source``, who found it) and its pair's quote amount."""
        if coid in self._terms:
            self._terms[coid] = dataclasses.replace(self._terms[coid], quote_amount=amount)
        order_store.record_amend(s, order_id, amount, now, source=source)
        if coid in self._pairs:
            maker_pairs.quote_amended(s, self._pairs[coid], amount)

    async def carried(self, client_order_id: str, answered: Sequence[tuple[str, Decimal]]) -> None:
        """Hedge (or flatten) ``client_order_id``, whose answer is recorded next, filled base older quotes
        owed: the parts are written on both pairs (``maker_pairs.carry``) before the answer settles its own
        pair, and the older pairs are settled after it (``answered``), when its fills are stored."""
        self._carried_by.setdefault(client_order_id, set()).update(quote_id for quote_id, _ in answered)
        self._touched(client_order_id)
        with self._sessions.begin() as s:
            order = self._orders[client_order_id]
            to_pair = self._pair(s, order.answers)
            for quote_id, amount in answered:
                maker_pairs.carry(s, self._pair(s, quote_id), to_pair, order.row, amount)
        self._carried_for[client_order_id] = [quote_id for quote_id, _ in answered]

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        """A request that failed: refused outright (``rejected``: ``execution/lookup.DEFINITIVE``), or with an
        outcome it cannot prove (``unknown``: a timeout, a 5xx; the order runner looks it up next)."""
        to = OrderStatus.REJECTED if isinstance(error, DEFINITIVE) else OrderStatus.UNKNOWN
        self._touched(client_order_id)
        now = self._now()
        with self._sessions.begin() as s:
            order_id = self._started(s, client_order_id)
            order_store.record_transition(s, order_id, to, now, detail=str(error)[:500])
        if to is OrderStatus.REJECTED:
            self._finished_unfilled(client_order_id, now)
        self._settle(self._orders[client_order_id].answers)

    async def not_sent(self, venue: str, client_order_id: str, error: ArbError) -> None:
        """Refused before it left (a market rule, the order budget: ``OrderBudgetExceeded``): ``rejected``, its
        first event written but never ``submitted``."""
        self._touched(client_order_id)
        now = self._now()
        with self._sessions.begin() as s:
            order = self._orders[client_order_id]
            order_store.add_first_event(s, order.row, order.sent_at)
            order.started = True
            order_store.record_transition(s, order.row, OrderStatus.REJECTED, now,
                                          detail=f"not sent: {str(error)[:480]}")
        self._finished_unfilled(client_order_id, now)
        self._settle(order.answers)

    async def absent(self, venue: str, client_order_id: str, detail: str) -> None:
        """An ``unknown`` order whose lookup proved it never landed: ``rejected``, saying how it was found."""
        self._touched(client_order_id)
        now = self._now()
        with self._sessions.begin() as s:
            order_store.record_transition(s, self._started(s, client_order_id), OrderStatus.REJECTED, now,
                                          detail=detail)
        self._finished_unfilled(client_order_id, now)
        self._settle(self._orders[client_order_id].answers)

    def maker_fill(self, fill: FillReport) -> Coroutine[Any, Any, None]:
        """The fill, received now: its time is taken at the call (the route's, as it takes the fill), not
        when the recording runs, after the hedge it set off has gone out (``maker_views.answered_fill``)."""
        assert fill.client_order_id is not None
        if fill.client_order_id not in self._pairs:
            self._unpaired.setdefault(fill.client_order_id, None)
        return self._record_fill(fill, self._now())

    async def _record_fill(self, fill: FillReport, received_at: datetime) -> None:
        assert fill.client_order_id is not None
        self._touched(fill.client_order_id)
        with self._sessions.begin() as s:
            order_id = self._started(s, fill.client_order_id)
            order_store.record_fills(s, order_id, [fill], received_at)
            maker_pairs.quote_filled(s, self._pair(s, fill.client_order_id), order_id)
        self._settle(fill.client_order_id)

    def _finished_unfilled(self, coid: str, now: datetime) -> None:
        """Order ``coid`` is final with nothing filled: a quote's entries are forgotten ``FINISHED_KEPT`` on
        (a hedge's or flatten's are read by its pair until the pair settles)."""
        if self._orders[coid].purpose == "quote" and coid not in self._pairs and coid not in self._unpaired:
            self._finished.append((now, coid))

    def _forget_finished(self, now: datetime) -> None:
        horizon = now - FINISHED_KEPT
        finished = self._finished
        while finished and finished[0][0] <= horizon:
            _, coid = finished.popleft()
            if coid not in self._pairs and coid not in self._unpaired:  # no fill after all (kept if one came)
                self._orders.pop(coid, None)
                self._terms.pop(coid, None)

    def _pair(self, s: Session, quote_coid: str) -> int:
        """The quote's pair, opened if it has none yet. Pairs open in the order their quotes first filled: a
        hedge starts as its fill is seen, ahead of the recording of that fill and of any other seen in the
        same turn of the loop (a dust quote's, which the hedge may carry), so those older quotes' pairs open
        first."""
        pair = self._pairs.get(quote_coid)
        if pair is None:
            if quote_coid in self._unpaired:
                for older in list(itertools.takewhile(lambda coid: coid != quote_coid, self._unpaired)):
                    self._open_pair(s, older)
            pair = self._open_pair(s, quote_coid)
        return pair

    def _open_pair(self, s: Session, quote_coid: str) -> int:
        self._unpaired.pop(quote_coid, None)
        quote_row = self._orders[quote_coid].row
        pair = self._pairs[quote_coid] = maker_pairs.open_pair(s, self._run_id, quote_row, self._terms[quote_coid])
        # Fills stored before the pair (an earlier run's quote, its fills recorded by reconciliation).
        maker_pairs.quote_filled(s, pair, quote_row)
        return pair

    def close(self) -> None:
        """Give the kept connection back (the run's end)."""
        self._kept.close()

    def halted(self) -> None:
        """The run halts (a route's ``halt`` leg policy): every pair whose base is owed a hedge now is the
        halt's (``maker_pairs.halt_pair``); settled at the end, their outcome says so."""
        for quote_coid, pair in self._pairs.items():
            if self.owes(quote_coid):
                self._fresh.discard(pair)
                with self._sessions.begin() as s:
                    maker_pairs.halt_pair(s, pair)

    def settle_all(self) -> None:
        """At the end: every pair settled as it stands, base still owed a hedge shown as its open position. A
        pair settled since its rows last changed would get the same figures again (a maker replay's ends
        re-settled every pair, ~1% of its time): only its settlement's time is moved to now, as settling
        wrote it."""
        with self._sessions.begin() as s:
            for pair in self._pairs.values():
                if pair in self._fresh:
                    settled_again(s, pair, self._now())
        for quote_coid, pair in list(self._pairs.items()):
            if pair not in self._fresh:
                self._settle(quote_coid, final=True)

    def _settle(self, quote_coid: str, *, final: bool = False) -> None:
        """Settle the quote's pair once it is done: every one of its orders final and none of its base owed a
        hedge (the first time: counted); again when a late fill or hedge changes it."""
        pair = self._pairs.get(quote_coid)
        if pair is None or (self.owes(quote_coid) and not final):
            return
        with self._sessions.begin() as s:
            result = settle_opportunity(s, pair, self._now())
            if result is None:
                return
            self._fresh.add(pair)
            if pair in self._settled:
                return
            self._settled.add(pair)
            row = maker_pairs.pair_row(s, pair)
        self._on_settled(row, result, maker_outcome(result.open_base, row.flattened, settled=True, halted=row.halted))

    def _pair_terms(self, maker: str, symbol: str, quote: Quote, now: datetime) -> MakerPairTerms:
        taker = self.taker_of[maker, symbol]
        maker_fee, taker_fee = self._fees[maker].maker, self._fees[taker].taker
        hedge_average = quote.hedge.average
        if quote.side is Side.BUY:
            buy, sell = (maker, quote.price, quote.price, maker_fee), (taker, hedge_average, quote.hedge.worst,
                                                                      taker_fee)
        else:
            buy, sell = (taker, hedge_average, quote.hedge.worst, taker_fee), (maker, quote.price, quote.price,
                                                                              maker_fee)
        bids = self._books.levels(buy[0], symbol, "bids")
        mark = mark_price(bids[0][0] if bids else None, self._fees[buy[0]].taker)
        return MakerPairTerms(symbol, buy[0], sell[0], buy[1], sell[1], buy[2], sell[2], buy[3], sell[3],
                              quote.expected_profit / quote.amount, mark, quote.amount, now)

"""One order runner for every order a run sends: a taker leg, a corrective order, a quote, a hedge, a flatten.

Every order's row is written before it is sent, by its caller (the executor's entry record, a corrective's
row, the maker journal's ``before_send``). :meth:`OrderRunner.run` then sends the prepared order (built and
signed, :meth:`arb.domain.venue.Venue.prepare`), reads the answer and hands each step to the order's
:class:`OrderRecord`, the caller's way of writing it (``StoreRecord``: the executor's rows;
``execution/maker._JournalRecord``: the maker journal, which keeps each maker pair's rows). Outcomes:

- an answer (ack, even an unfilled IOC)        -> ``submitted`` + the reported status
- a definitive refusal (``lookup.DEFINITIVE``: funds, a rule, the symbol, the key, a 429)
                                               -> ``submitted -> rejected``; the venue did nothing with it
- anything else (timeout, 5xx, dropped socket) -> ``submitted -> unknown``, then the order is looked up by
  the same client id with spaced retries (``lookup.resolve``): found, its answer is recorded; proved never
  to have landed, ``rejected``; neither, it stays ``unknown`` (unresolved). Never a resend under a new id.

Trades an answer did not carry (ccxt's create_order returns none) are fetched *before* the answer is
recorded, so an order's ``filled`` and its fills are written together and always agree
(:mod:`arb.store.orders`); a quote's fills come from its venue's fill stream instead (``trades=False``). A
leg left ``unknown`` makes the executor halt the pair rather than hedge against a guess; a maker order
left ``unknown`` halts its route.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from arb.domain.orders import OrderStatus
from arb.domain.venue import FillReport, OrderReport, OrderRequest, PreparedOrder, Venue
from arb.errors import AuthenticationError, RateLimited
from arb.execution.lookup import DEFINITIVE, LookupPolicy, resolve, with_trades
from arb.execution.risk import RiskGate
from arb.store import orders as repo


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    order_id: int | None  # the row, where the record knows it (the executor's)
    request: OrderRequest
    venue: str
    status: OrderStatus
    filled: Decimal
    fills: tuple[FillReport, ...]
    sent_ns: int  # perf counter right before the request was handed to the venue
    answered_ns: int  # perf counter when the first answer (or failure) came back
    error: str | None = None
    lookups: int = 0
    # On the run's clock (market time in a simulation): handed to the venue, and its direct answer (None when
    # it did not answer: a failure or a lookup). The order row stores the same two as sent_at/acked_at.
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    report: OrderReport | None = None  # the venue's answer, or what the lookup found

    @property
    def resolved(self) -> bool:
        return self.status.is_terminal

    @property
    def unresolved(self) -> bool:
        """Its outcome is unknown and no lookup could learn it: nothing may be sent in its place."""
        return self.status is OrderStatus.UNKNOWN and self.report is None

    @property
    def fills_complete(self) -> bool:
        return sum((f.amount for f in self.fills), Decimal(0)) == self.filled


class OrderRecord(Protocol):
    """Where one order's life is written, step by step, as :meth:`OrderRunner.run` learns it."""

    async def answered(self, report: OrderReport, sent_at: datetime, answered_at: datetime | None,
                       detail: str | None) -> OrderStatus:
        """The venue's answer (``answered_at`` set), or what a lookup found (``detail`` says how); the status
        it gives the order."""
        ...

    async def failed(self, error: Exception, sent_at: datetime) -> None:
        """The request failed: ``rejected`` for a definitive refusal (``lookup.DEFINITIVE``), else ``unknown``
        (looked up next)."""
        ...

    async def absent(self, detail: str) -> None:
        """An ``unknown`` order its lookup proved never landed: ``rejected``."""
        ...


@dataclass
class OrderRunner:
    risk: RiskGate | None  # venue failures counted for its breakers (the executor's; None: not counted)
    lookup: LookupPolicy = field(default_factory=LookupPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    perf_ns: Callable[[], int] = time.perf_counter_ns

    async def run(self, venue: Venue, prepared: PreparedOrder, record: OrderRecord, *, order_id: int | None = None,
                  trades: bool = True) -> OrderOutcome:
        """Send ``prepared`` and bring it to a resolved state (or leave it ``unknown`` when nothing could
        tell), every step written through ``record``. ``trades``: fetch the trades behind what an answer says
        filled (not for a quote, whose fills come from its venue's stream)."""
        request = prepared.request
        sent_at = self.clock()
        sent_ns = self.perf_ns()

        def outcome(status: OrderStatus, answered_ns: int, report: OrderReport | None = None, **kw: object
                    ) -> OrderOutcome:
            filled, fills = (report.filled, report.fills) if report is not None else (Decimal(0), ())
            return OrderOutcome(order_id, request, venue.name, status, filled, fills, sent_ns, answered_ns,
                                sent_at=sent_at, report=report, **kw)  # type: ignore[arg-type]  # kw: OrderOutcome's own fields

        try:
            report = await venue.send(prepared)
        except DEFINITIVE as exc:
            answered_ns = self.perf_ns()
            self.count_failure(venue.name, exc)
            await record.failed(exc, sent_at)
            return outcome(OrderStatus.REJECTED, answered_ns, error=type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - any other outcome proves nothing: resolve by lookup
            answered_ns = self.perf_ns()
            if self.risk is not None:
                self.risk.record_failure(venue.name)
            await record.failed(exc, sent_at)
            error = type(exc).__name__
            found = await resolve(venue, request, sent_at, policy=self.lookup, sleep=self.sleep)
            if found.report is not None:
                status = await record.answered(found.report, sent_at, None, found.detail)
                return outcome(status, answered_ns, found.report, error=error, lookups=found.attempts)
            if found.absent:
                await record.absent(found.detail)
                return outcome(OrderStatus.REJECTED, answered_ns, error=error, lookups=found.attempts)
            # Every lookup failed for another reason: nothing learned, the order stays unknown.
            return outcome(OrderStatus.UNKNOWN, answered_ns, lookups=found.attempts,
                           error=f"{error}; {found.detail}" if not found.attempts else error)
        answered_ns = self.perf_ns()
        answered_at = self.clock()
        if self.risk is not None:
            self.risk.record_success(venue.name)
        if trades:
            report = await with_trades(venue, request, report, sent_at, policy=self.lookup, sleep=self.sleep)
        status = await record.answered(report, sent_at, answered_at, None)
        return outcome(status, answered_ns, report, answered_at=answered_at)

    def count_failure(self, venue: str, exc: Exception) -> None:
        if self.risk is None:
            return
        if isinstance(exc, AuthenticationError):
            self.risk.record_auth_failure(venue)
        if not isinstance(exc, RateLimited):
            # A 429 is our pacing, not the venue failing; the throttle deals with it.
            self.risk.record_failure(venue)


@dataclass
class StoreRecord:
    """An order row of the executor's (a pair's leg, a corrective order) written straight to the store: its
    first event and ``submitted`` with its first write after the send (``created_at``: the row was written
    without its first event, as an entry's write-ahead record is), then every step through the state
    machine (:mod:`arb.store.orders`)."""

    sessions: sessionmaker[Session]
    order_id: int
    clock: Callable[[], datetime]
    created_at: datetime | None = None
    _submitted: bool = False

    def _started(self, s: Session, sent_at: datetime) -> None:
        if self._submitted:
            return
        repo.record_sent(s, self.order_id, sent_at, created_at=self.created_at)
        self._submitted = True

    async def answered(self, report: OrderReport, sent_at: datetime, answered_at: datetime | None,
                       detail: str | None) -> OrderStatus:
        with self.sessions.begin() as s:
            self._started(s, sent_at)
            return repo.record_report(s, self.order_id, report, self.clock(), acked_at=answered_at,
                                      detail=detail).to_status

    async def failed(self, error: Exception, sent_at: datetime) -> None:
        with self.sessions.begin() as s:
            self._started(s, sent_at)
            if isinstance(error, DEFINITIVE):  # every one of them is a VenueError, which carries the venue's word
                repo.record_transition(s, self.order_id, OrderStatus.REJECTED, self.clock(),
                                       venue_status=error.label, detail=type(error).__name__)
            else:
                repo.record_transition(s, self.order_id, OrderStatus.UNKNOWN, self.clock(),
                                       detail=f"ambiguous: {type(error).__name__}")

    async def absent(self, detail: str) -> None:
        with self.sessions.begin() as s:
            repo.record_transition(s, self.order_id, OrderStatus.REJECTED, self.clock(), detail=detail)

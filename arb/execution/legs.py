"""Sending one order and bringing it to a resolved state: the unit both legs and policies share.

The order row already exists in ``created`` (written before this runs) and the order has been prepared
(built and signed, :meth:`arb.domain.venue.Venue.prepare`); :meth:`LegRunner.run` writes it and
records what came back. Outcomes:

- an answer (ack, even an unfilled IOC)        -> ``submitted`` + the reported status, one transaction
- a definitive refusal (funds, rule, auth, 429) -> ``submitted -> rejected``; the venue refused it
- anything else (timeout, 5xx, dropped socket) -> ``submitted -> unknown``, then lookup by the same
  client id with spaced retries; never a resend under a new id

Gate answers 429 before accepting anything, so a rate-limited placement is a refusal, not an ambiguity.
Trades the answer did not carry (ccxt's create_order returns none) are fetched *before* the answer is
recorded, so the order's ``filled`` and its fills are written in one transaction and always agree
(:mod:`arb.store.orders`). If they cannot all be found, the order is recorded ``unknown`` with what was
found; the leg is then unresolved and the executor halts the pair rather than hedge against a guess.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from arb.domain.orders import OrderStatus
from arb.domain.venue import FillReport, OrderRequest, PreparedOrder, Venue
from arb.errors import (
    AuthenticationError,
    RateLimited,
)
from arb.execution.lookup import DEFINITIVE, LookupPolicy, resolve, with_trades
from arb.execution.risk import RiskGate
from arb.store import orders as repo


@dataclass(frozen=True, slots=True)
class LegOutcome:
    order_id: int
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

    @property
    def resolved(self) -> bool:
        return self.status.is_terminal

    @property
    def fills_complete(self) -> bool:
        return sum((f.amount for f in self.fills), Decimal(0)) == self.filled


def _submitted(s: Session, order_id: int, sent_at: datetime, created_at: datetime | None) -> None:
    if created_at is not None:
        repo.add_first_event(s, order_id, created_at)
    repo.record_transition(s, order_id, OrderStatus.SUBMITTED, sent_at, sent_at=sent_at)


@dataclass
class LegRunner:
    sessions: sessionmaker[Session]
    risk: RiskGate
    lookup: LookupPolicy = field(default_factory=LookupPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    perf_ns: Callable[[], int] = time.perf_counter_ns

    async def run(self, venue: Venue, order_id: int, prepared: PreparedOrder, *,
                  created_at: datetime | None = None) -> LegOutcome:
        """``created_at``: the order was recorded without its first event (an entry's write-ahead record),
        which this leg's first transaction writes, at that time, before its first transition."""
        request = prepared.request
        sent_at = self.clock()
        sent_ns = self.perf_ns()
        try:
            report = await venue.send(prepared)
        except DEFINITIVE as exc:
            answered_ns = self.perf_ns()
            self.count_failure(venue.name, exc)
            with self.sessions.begin() as s:
                _submitted(s, order_id, sent_at, created_at)
                repo.record_transition(s, order_id, OrderStatus.REJECTED, self.clock(),
                                       venue_status=exc.label, detail=type(exc).__name__)
            return LegOutcome(order_id, request, venue.name, OrderStatus.REJECTED, Decimal(0), (),
                              sent_ns, answered_ns, error=type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - any other outcome proves nothing: resolve by lookup
            answered_ns = self.perf_ns()
            self.risk.record_failure(venue.name)
            with self.sessions.begin() as s:
                _submitted(s, order_id, sent_at, created_at)
                repo.record_transition(s, order_id, OrderStatus.UNKNOWN, self.clock(),
                                       detail=f"ambiguous: {type(exc).__name__}")
            return await self._resolve(venue, order_id, request, sent_at, sent_ns, answered_ns,
                                       type(exc).__name__)
        answered_ns = self.perf_ns()
        answered_at = self.clock()
        self.risk.record_success(venue.name)
        report = await with_trades(venue, request, report, sent_at, policy=self.lookup, sleep=self.sleep)
        with self.sessions.begin() as s:
            _submitted(s, order_id, sent_at, created_at)
            t = repo.record_report(s, order_id, report, self.clock(), acked_at=answered_at)
        return LegOutcome(order_id, request, venue.name, t.to_status, report.filled, report.fills, sent_ns,
                          answered_ns, sent_at=sent_at, answered_at=answered_at)

    async def _resolve(self, venue: Venue, order_id: int, request: OrderRequest, sent_at: datetime,
                       sent_ns: int, answered_ns: int, error: str) -> LegOutcome:
        found = await resolve(venue, request, sent_at, policy=self.lookup, sleep=self.sleep)
        if found.report is not None:
            with self.sessions.begin() as s:
                t = repo.record_report(s, order_id, found.report, self.clock(), detail=found.detail)
            return LegOutcome(order_id, request, venue.name, t.to_status, found.report.filled, found.report.fills,
                              sent_ns, answered_ns, error=error, lookups=found.attempts)
        if not found.absent:  # nothing learned: the order stays unknown
            return LegOutcome(order_id, request, venue.name, OrderStatus.UNKNOWN, Decimal(0), (), sent_ns,
                              answered_ns, error=f"{error}; {found.detail}" if not found.attempts else error,
                              lookups=found.attempts)
        with self.sessions.begin() as s:
            repo.record_transition(s, order_id, OrderStatus.REJECTED, self.clock(), detail=found.detail)
        return LegOutcome(order_id, request, venue.name, OrderStatus.REJECTED, Decimal(0), (), sent_ns,
                          answered_ns, error=error, lookups=found.attempts)

    def count_failure(self, venue: str, exc: Exception) -> None:
        if isinstance(exc, AuthenticationError):
            self.risk.record_auth_failure(venue)
        if not isinstance(exc, RateLimited):
            # A 429 is our pacing, not the venue failing; the throttle deals with it.
            self.risk.record_failure(venue)

"""The paired executor: an approved opportunity in, two concurrent IOC legs out, imbalance handled.

One pair, step by step (each step's failure mode in brackets):

1. plan both legs together, rounded and validated       [a leg cannot be sent -> neither is]
2. risk check                                            [refused -> opportunity recorded with the reason]
3. one transaction: opportunity + both orders ``created`` [a crash after this leaves ids to look up]
   (``store/write_ahead.py``: prepared statements, not a unit of work: it is on the way to the wire)
4. both legs prepared (built and signed) right after, before either is written
                                                         [either fails -> neither is sent; both rejected]
5. both legs written **concurrently**, back to back (each leg's task started eagerly, ``eventloop/eager.py``,
   so its first step writes its request at once; then ``asyncio.gather``); each leg runs to
   a resolved state on its own (``order_runner.OrderRunner``: ack, refusal, or ``unknown`` resolved by client-id lookup)
6. imbalance: net base across the fills; the configured policy (unwind / complete / halt) runs once;
   an unresolved leg forces ``halt`` because nothing can be hedged against an unknown
7. outcome recorded on the opportunity: policy, per-venue positions, unhedged exposure; once every order
   is final the pair is settled (``arb.accounting``: realized PnL and its attribution, stored on the row);
   the risk gate learns the exposure and the realized PnL
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.ids import ClientIdFactory
from arb.domain.market import MarketRules, Symbol
from arb.domain.opportunity import OpportunityLike
from arb.domain.orders import OrderStatus
from arb.domain.venue import FillReport, OrderRequest, PreparedOrder, Venue
from arb.errors import StoreError, UnrecordedOrders
from arb.eventloop.eager import start_now
from arb.execution.imbalance import (
    Corrective,
    ImbalancePolicy,
    corrective_order,
    net_base,
    net_base_by_venue,
)
from arb.execution.lookup import LookupPolicy
from arb.execution.order_runner import OrderOutcome, OrderRunner, StoreRecord
from arb.execution.plan import PairPlan, PlanRefused, plan_pair
from arb.execution.risk import RiskGate
from arb.store import orders as repo
from arb.store.kept import KeptConnection, KeptSessions
from arb.store.models import Opportunity
from arb.store.settlement import settle_opportunity
from arb.store.write_ahead import WriteAheadRecord


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    slippage_bps: Decimal = Decimal(0)
    policy: ImbalancePolicy = ImbalancePolicy.UNWIND
    policy_bound_bps: Decimal = Decimal(50)  # how much worse than the reference a corrective IOC may trade
    lookup: LookupPolicy = field(default_factory=LookupPolicy)


@dataclass(frozen=True, slots=True)
class PairResult:
    opportunity_id: int
    executed: bool
    reason: str | None = None  # why not executed
    legs: tuple[OrderOutcome, ...] = ()
    corrective: tuple[OrderOutcome, ...] = ()
    policy: str | None = None  # the policy that ran, if any
    outcome: str = "rejected"  # hedged | imbalanced | halted | nothing_filled | rejected
    net_base: Decimal = Decimal(0)  # unhedged base across venues after everything (+ long)
    exposure: Mapping[str, Decimal] = field(default_factory=dict)  # per venue, unhedged base
    positions: Mapping[str, Decimal] = field(default_factory=dict)  # per venue, net base traded
    realized_pnl: Decimal | None = None  # quote, as settled; None while an order is unresolved
    open_base: Decimal = Decimal(0)  # as settled (arb/accounting.py): base left open, not in realized
    open_price: Decimal | None = None  # its cost


class PairedExecutor:
    def __init__(
        self,
        venues: Mapping[str, Venue],
        sessions: sessionmaker[Session],
        run_id: int,
        risk: RiskGate,
        *,
        ids: ClientIdFactory | None = None,
        config: ExecutorConfig = ExecutorConfig(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.venues = venues
        # Everything the executor writes runs on one connection it keeps (store/kept.py): the entry's
        # write-ahead record, and the sessions of its legs, settlement and refusals.
        self.kept = KeptConnection(sessions.kw["bind"])
        self.sessions = KeptSessions(self.kept)
        self.run_id = run_id
        self.risk = risk
        self.ids = ids or ClientIdFactory()
        self.config = config
        self.clock = clock
        self.orders = OrderRunner(risk, lookup=config.lookup, clock=clock, sleep=sleep)
        self.write_ahead = WriteAheadRecord(self.kept)  # the entry's rows, committed before sending
        # Called with a stage's name as each step of an entry ends ("planned", "recorded", "prepared"):
        # bench/bench_executor.py times where a pair's way to the wire goes. None in a run.
        self.trace: Callable[[str], None] | None = None

    def close(self) -> None:
        """Give back the connection the executor keeps between pairs."""
        self.kept.close()

    async def execute(self, opp: OpportunityLike, *, detected_at: datetime | None = None) -> PairResult:
        detected_at = detected_at or self.clock()
        try:
            if opp.buy_venue not in self.venues or opp.sell_venue not in self.venues:
                raise PlanRefused("unknown_venue")
            plan = plan_pair(
                opp,
                self.venues[opp.buy_venue].market_rules(opp.symbol),
                self.venues[opp.sell_venue].market_rules(opp.symbol),
                slippage_bps=self.config.slippage_bps,
                detected_at=detected_at,
            )
        except PlanRefused as refused:
            return self._refuse(opp, detected_at, refused.reason)
        base = Symbol.parse(plan.symbol).base
        decision = self.risk.check(
            buy_venue=plan.buy.venue, sell_venue=plan.sell.venue, base_asset=base,
            size=max(plan.buy.amount, plan.sell.amount), buy_limit=plan.buy.price, sell_limit=plan.sell.price,
            symbol=opp.symbol,
        )
        if not decision.allowed:
            return self._refuse(opp, detected_at, decision.reason or "risk", plan)
        # Held from the check (nothing awaited in between) to the pair's end: a pair decided meanwhile is
        # judged against this one's worst case too ([execution] max_pairs_in_flight).
        release = self.risk.hold(buy_venue=plan.buy.venue, sell_venue=plan.sell.venue, base_asset=base,
                                 size=max(plan.buy.amount, plan.sell.amount))
        try:
            return await self._send_pair(opp, plan, detected_at)
        finally:
            release()

    async def _send_pair(self, opp: OpportunityLike, plan: PairPlan, detected_at: datetime) -> PairResult:
        """Record, prepare and send an approved pair's legs, then settle what came back."""
        trace = self.trace
        if trace is not None:
            trace("planned")
        buy_req = OrderRequest(self.ids.next(self.venues[plan.buy.venue].client_ids, "entry"), plan.symbol,
                               plan.buy.side, plan.buy.amount, plan.buy.price)
        sell_req = OrderRequest(self.ids.next(self.venues[plan.sell.venue].client_ids, "entry"), plan.symbol,
                                plan.sell.side, plan.sell.amount, plan.sell.price)
        now = self.clock()
        opp_id, (buy_id, sell_id) = self.write_ahead.entry(
            self.run_id, opp, detected_at,
            (self._new(None, plan.buy.venue, buy_req, "entry"), self._new(None, plan.sell.venue, sell_req, "entry")),
            now, buy_limit=plan.buy.price, sell_limit=plan.sell.price)
        if trace is not None:
            trace("recorded")

        # Build and sign both legs first: the second request must not be built while the first is on the
        # wire (that is what made the legs' skew a third of a sequential submit's gap). One after the other,
        # awaited in place: preparing does no I/O once markets and the clock are loaded, so no task and no
        # loop turn (with whatever else is ready) stands between the record and the writes.
        buy_venue, sell_venue = self.venues[plan.buy.venue], self.venues[plan.sell.venue]
        prepared: list[PreparedOrder] = []
        for name, venue, request in ((plan.buy.venue, buy_venue, buy_req), (plan.sell.venue, sell_venue, sell_req)):
            try:
                prepared.append(await venue.prepare(request))
            except Exception as exc:  # noqa: BLE001 - neither leg leaves; the rows say why
                return self._not_sent(opp_id, (buy_id, sell_id), now, name, exc)
        buy_prep, sell_prep = prepared
        if trace is not None:
            trace("prepared")
        try:
            # Each leg's first step, which writes its request, runs now: leg A's bytes are on its socket
            # before leg B's task exists, and leg B's right after, with no loop turn before either.
            legs = await asyncio.gather(
                start_now(self._leg(buy_venue, buy_id, buy_prep, created_at=now)),
                start_now(self._leg(sell_venue, sell_id, sell_prep, created_at=now)),
            )
            return await self._finish(opp_id, plan, tuple(legs))
        except (SQLAlchemyError, StoreError) as exc:
            # The legs left; what came back could not be written. The venues hold the truth now: the caller
            # must reconcile (by client order id) before it trades again.
            raise UnrecordedOrders((buy_req.client_order_id, sell_req.client_order_id),
                                   type(exc).__name__) from exc

    def _not_sent(self, opp_id: int, order_ids: tuple[int, ...], created_at: datetime, venue: str,
                  exc: Exception) -> PairResult:
        """A leg could not be prepared: neither leg leaves; the orders and the opportunity say why."""
        self.orders.count_failure(venue, exc)
        reason = f"not_sent:{venue}:{type(exc).__name__}"
        with self.sessions.begin() as s:
            for order_id in order_ids:
                repo.add_first_event(s, order_id, created_at)  # the write-ahead record leaves it out
                repo.record_transition(s, order_id, OrderStatus.REJECTED, self.clock(),
                                       detail=f"not sent: preparing on {venue} failed: {type(exc).__name__}")
            row = s.get_one(Opportunity, opp_id)
            row.decision, row.reason = "rejected", reason[:64]
        return PairResult(opportunity_id=opp_id, executed=False, reason=reason)

    # -- after both legs ------------------------------------------------------------------------
    async def _finish(self, opp_id: int, plan: PairPlan, legs: tuple[OrderOutcome, ...]) -> PairResult:
        sym = Symbol.parse(plan.symbol)
        fills: list[FillReport] = [f for leg in legs for f in leg.fills]
        excess = net_base(fills, sym.base)
        corrective: list[OrderOutcome] = []
        policy_run: str | None = None
        halted = False
        unresolved = [leg for leg in legs if not leg.resolved or not leg.fills_complete]
        rules = {v: self.venues[v].market_rules(plan.symbol) for v in (plan.buy.venue, plan.sell.venue)}
        if unresolved:
            # Cannot hedge against an order whose fills are unknown: stop and leave it to reconciliation.
            policy_run, halted = ImbalancePolicy.HALT.value, True
            self.risk.engage_kill_switch(f"halt:unresolved_leg:{opp_id}")
        elif excess != 0 and not _is_dust(excess, rules.values()):
            if self.config.policy is ImbalancePolicy.HALT:
                policy_run, halted = ImbalancePolicy.HALT.value, True
                self.risk.engage_kill_switch(f"halt:leg_imbalance:{opp_id}: {halt_detail(plan, legs, excess)}")
            else:
                order = corrective_order(self.config.policy, excess, plan, rules, self.config.policy_bound_bps)
                policy_run = self.config.policy.value
                if order is not None:
                    outcome = await self._corrective(opp_id, plan, order)
                    corrective.append(outcome)
                    fills.extend(outcome.fills)
                    if not outcome.resolved or not outcome.fills_complete:
                        halted = True
                        self.risk.engage_kill_switch(f"halt:unresolved_{order.purpose}:{opp_id}")

        residual = net_base(fills, sym.base)
        exposure: dict[str, Decimal] = {}
        if residual > 0:
            exposure[plan.buy.venue] = residual
        elif residual < 0:
            exposure[plan.sell.venue] = residual
        for venue, qty in exposure.items():
            self.risk.add_exposure(venue, sym.base, qty)
        total_filled = sum((leg.filled for leg in legs), Decimal(0))
        if halted:
            outcome_word = "halted"
        elif total_filled == 0:
            outcome_word = "nothing_filled"
        elif _is_dust(residual, rules.values()):
            outcome_word = "hedged"
        else:
            outcome_word = "imbalanced"
        result = PairResult(
            opportunity_id=opp_id,
            executed=True,
            legs=legs,
            corrective=tuple(corrective),
            policy=policy_run,
            outcome=outcome_word,
            net_base=residual,
            exposure=exposure,
            positions=net_base_by_venue(fills, sym.base),
        )
        with self.sessions.begin() as s:
            repo.set_opportunity_outcome(s, opp_id, outcome_detail(result))
            settlement = settle_opportunity(s, opp_id, self.clock())
        if settlement is None:
            return result
        self.risk.record_pnl(settlement.realized_pnl)
        return replace(result, realized_pnl=settlement.realized_pnl, open_base=settlement.open_base,
                       open_price=settlement.open_price)

    async def _corrective(self, opp_id: int, plan: PairPlan, order: Corrective) -> OrderOutcome:
        req = OrderRequest(self.ids.next(self.venues[order.venue].client_ids, order.purpose), plan.symbol, order.side,
                           order.amount, order.price)
        with self.sessions.begin() as s:
            oid = repo.create_order(s, self._new(opp_id, order.venue, req, order.purpose), self.clock())
        venue = self.venues[order.venue]
        try:
            prepared = await venue.prepare(req)
        except Exception as exc:  # noqa: BLE001 - nothing left: recorded as refused, like a venue refusal
            self.orders.count_failure(order.venue, exc)
            with self.sessions.begin() as s:
                repo.record_transition(s, oid, OrderStatus.REJECTED, self.clock(),
                                       detail=f"not sent: preparing failed: {type(exc).__name__}")
            return OrderOutcome(oid, req, order.venue, OrderStatus.REJECTED, Decimal(0), (), 0, 0, error=type(exc).__name__)
        return await self._leg(venue, oid, prepared)

    def _leg(self, venue: Venue, order_id: int, prepared: PreparedOrder, *,
             created_at: datetime | None = None) -> Coroutine[Any, Any, OrderOutcome]:
        """An order of the executor's through the run's one order runner, written straight to its row."""
        return self.orders.run(venue, prepared, StoreRecord(self.sessions, order_id, self.clock, created_at),
                               order_id=order_id)

    # -- helpers --------------------------------------------------------------------------------
    def _new(self, opp_id: int | None, venue: str, req: OrderRequest, purpose: str) -> repo.NewOrder:
        return repo.NewOrder(
            run_id=self.run_id, opportunity_id=opp_id, venue=venue, symbol=req.symbol, side=req.side.value,
            price=req.price, amount=req.amount, client_order_id=req.client_order_id, purpose=purpose,
            time_in_force=req.time_in_force,
        )

    def _refuse(self, opp: OpportunityLike, detected_at: datetime, reason: str,
                plan: PairPlan | None = None) -> PairResult:
        with self.sessions.begin() as s:
            opp_id = repo.insert_opportunity(
                s, self.run_id, opp, detected_at, decision="rejected", reason=reason[:64],
                buy_limit=plan.buy.price if plan else None, sell_limit=plan.sell.price if plan else None,
            )
        return PairResult(opportunity_id=opp_id, executed=False, reason=reason)


def halt_detail(plan: PairPlan, legs: Iterable[OrderOutcome], excess: Decimal) -> str:
    """What a trader needs to act on a halt: each leg's venue, side, filled of ordered, and the unhedged
    base with its notional at the leg's limit price."""
    base, quote = plan.symbol.split("/")
    parts = [f"{leg.venue} {leg.request.side.value} filled {leg.filled.normalize():f} of "
             f"{leg.request.amount.normalize():f} {base}" for leg in legs]
    venue, price = (plan.buy.venue, plan.buy.price) if excess > 0 else (plan.sell.venue, plan.sell.price)
    return (f"{'; '.join(parts)}; unhedged {excess.normalize():+f} {base} on {venue} "
            f"(notional {abs(excess) * price:.2f} {quote})")


def _is_dust(qty: Decimal, rules: Iterable[MarketRules]) -> bool:
    """Less than one amount step on every venue involved: nothing can trade it, it is only recorded."""
    return all(abs(qty) < r.amount_step for r in rules)


def outcome_detail(result: PairResult) -> dict[str, object]:
    """The JSON stored on the opportunity row: exact values as strings."""
    return {
        "outcome": result.outcome,
        "policy": result.policy,
        "net_base": str(result.net_base),
        "exposure": {v: str(q) for v, q in result.exposure.items()},
        "positions": {v: str(q) for v, q in result.positions.items()},
        "orders": [
            {"client_order_id": leg.request.client_order_id, "venue": leg.venue, "status": leg.status.value,
             "filled": str(leg.filled), "error": leg.error}
            for leg in (*result.legs, *result.corrective)
        ],
    }


__all__ = ["ExecutorConfig", "ImbalancePolicy", "OrderStatus", "PairResult", "PairedExecutor", "outcome_detail"]

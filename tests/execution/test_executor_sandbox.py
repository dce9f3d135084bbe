"""The paired executor over real HTTP on loopback: two sandboxed Gate venues through GateExchange."""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.errors import RateLimited
from arb.execution.executor import ExecutorConfig, PairedExecutor, PairResult
from arb.execution.imbalance import ImbalancePolicy
from arb.execution.lookup import LookupPolicy
from arb.execution.risk import RiskGate, RiskLimits
from arb.store.models import Fill, Opportunity, Order
from arb.venues.gate.sandbox import Sandbox
from arb.venues.guard import GuardedVenue
from arb.venues.retry import BackoffPolicy
from arb.venues.throttle import PLACE, Budget, VenueLimits, VenueThrottle

from .conftest import new_run
from .harness import Opp
from .sandbox_rig import SYMBOL, InflightVenue, VirtualClock, WireLog, live_gate, sandbox_config

D = Decimal
ORDERS_PATH = "/api/v4/spot/orders"


class Pair:
    def __init__(self, sessions: sessionmaker[Session], policy: ImbalancePolicy = ImbalancePolicy.UNWIND) -> None:
        self.sessions = sessions
        self.policy = policy
        self.wire = WireLog()
        self.stack = AsyncExitStack()

    async def __aenter__(self) -> Pair:
        self.sb_a = await self.stack.enter_async_context(Sandbox(sandbox_config()))
        self.sb_b = await self.stack.enter_async_context(Sandbox(sandbox_config()))
        self.a = await self.stack.enter_async_context(live_gate("gate_a", self.sb_a, self.wire))
        self.b = await self.stack.enter_async_context(live_gate("gate_b", self.sb_b, self.wire))
        self.risk = RiskGate(RiskLimits(max_notional_per_trade=D("1000"), max_unhedged_exposure=D("10"),
                                        daily_loss_limit=D("50")))
        self.run_id = new_run(self.sessions)
        self.executor = PairedExecutor(
            {"gate_a": self.a, "gate_b": self.b}, self.sessions, self.run_id, self.risk,
            config=ExecutorConfig(policy=self.policy, policy_bound_bps=D("100"),
                                  lookup=LookupPolicy((0.02, 0.05, 0.1, 0.2))),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()


def opp() -> Opp:
    return Opp(buy_venue="gate_a", sell_venue="gate_b")


def assert_units_reconcile(sessions: sessionmaker[Session], result: PairResult, base: str = "LINK") -> None:
    with sessions() as s:
        opp_row = s.get_one(Opportunity, result.opportunity_id)
        net = D(0)
        for o in s.scalars(select(Order).where(Order.opportunity_id == opp_row.id)):
            fills = list(s.scalars(select(Fill).where(Fill.order_id == o.id)))
            assert sum((f.amount for f in fills), D(0)) == o.filled, o.client_order_id
            for f in fills:
                net += f.amount if o.side == "buy" else -f.amount
                net -= f.fee if f.fee_currency == base else 0
        assert opp_row.detail is not None
        assert D(opp_row.detail["net_base"]) == net == result.net_base
        assert sum((D(v) for v in opp_row.detail["exposure"].values()), D(0)) == net


async def test_both_leg_requests_are_on_the_wire_before_either_answer(sqlite_sessions) -> None:
    async with Pair(sqlite_sessions) as p:
        p.sb_a.push_book("LINK_USDT", [("19.90", "50")], [("20.00", "5")])
        p.sb_b.push_book("LINK_USDT", [("20.20", "5")], [("20.30", "50")])
        p.sb_a.faults.latency_s = p.sb_b.faults.latency_s = 0.05
        result = await p.executor.execute(opp())
        assert result.outcome == "hedged"
        posts = [e for e in p.wire.events if e.method == "POST" and e.path == ORDERS_PATH]
        assert len(posts) == 2 and {e.venue for e in posts} == {"gate_a", "gate_b"}
        first, second = sorted(posts, key=lambda e: e.start)
        assert first.end is not None and second.start < first.end


@pytest.mark.parametrize("policy", list(ImbalancePolicy))
async def test_partial_fill_runs_each_policy_and_every_unit_reconciles(sqlite_sessions, policy) -> None:
    async with Pair(sqlite_sessions, policy) as p:
        p.sb_a.push_book("LINK_USDT", [("19.95", "50")], [("20.00", "5")])
        p.sb_b.push_book("LINK_USDT", [("20.20", "1.25"), ("20.10", "50")], [("20.30", "50")])
        result = await p.executor.execute(opp())
        assert [leg.filled for leg in result.legs] == [D("2"), D("1.25")]
        # Gate takes the buy fee in base: 2 bought, 0.002 LINK fee, 1.25 sold -> 0.748 long.
        if policy is ImbalancePolicy.HALT:
            assert result.outcome == "halted" and result.corrective == ()
            assert result.exposure == {"gate_a": D("0.748")} and p.risk.kill_switch_engaged()
        else:
            fix = result.corrective[0]
            expected_venue = "gate_a" if policy is ImbalancePolicy.UNWIND else "gate_b"
            assert (fix.venue, fix.request.side, fix.request.amount, fix.filled) == (
                expected_venue, Side.SELL, D("0.74"), D("0.74"))
            # 0.008 LINK is below one amount step: recorded as exposure, not traded.
            assert result.outcome == "hedged" and result.exposure == {"gate_a": D("0.008")}
        assert_units_reconcile(p.sessions, result)


async def test_accepted_order_with_dropped_response_resolves_by_client_id_once(sqlite_sessions) -> None:
    async with Pair(sqlite_sessions) as p:
        p.sb_a.push_book("LINK_USDT", [("19.90", "50")], [("20.00", "5")])
        p.sb_b.push_book("LINK_USDT", [("20.20", "5")], [("20.30", "50")])
        p.sb_b.faults.drop_order_responses = 1
        result = await p.executor.execute(opp())
        sell = result.legs[1]
        assert sell.error is not None and sell.status.value == "filled" and sell.lookups >= 1
        texts = [o.client_id for o in p.sb_b.engine.orders.values()]
        assert texts == [sell.request.client_order_id]
        with p.sessions() as s:
            events = [e.to_status for e in s.get_one(Order, sell.order_id).events]
        assert events == ["created", "submitted", "unknown", "filled"]
        assert result.outcome == "hedged"
        assert_units_reconcile(p.sessions, result)


async def test_429_storm_no_duplicates_no_request_inside_announced_windows_then_recovery() -> None:
    clock = VirtualClock()
    wire = WireLog(clock)
    async with Sandbox(sandbox_config(clock, global_window_s=2.0)) as sb:
        sb.push_book("LINK_USDT", [("19.90", "100000")], [("20.00", "100000")])
        async with live_gate("gate", sb, wire, clock) as live:
            # Our budgets mirror the sandbox's: 200 requests per window per key, 10 placements/s per market.
            limits = VenueLimits(global_budget=Budget(200, 2.0), per_market={PLACE: Budget(10, 1.0)})
            throttle = VenueThrottle("gate", limits, clock=clock, wall=clock, sleep=clock.sleep)
            venue = GuardedVenue(InflightVenue(live, clock), throttle,  # type: ignore[arg-type]
                                 backoff=BackoffPolicy(base=0.05, cap=1.0, max_attempts=8),
                                 rng=random.Random(3).random, sleep=clock.sleep, wall=clock)
            # Measure the server clock first: a placement stalled behind the clock sync would leave the
            # throttle early and reach the wire late, bunched with later ones (virtual time only).
            await live.exchange.sync_clock(force=True)
            sb.faults.fraction_429 = 0.3

            async def one(i: int) -> str:
                try:
                    await venue.place(OrderRequest(f"t-storm{i}", SYMBOL, Side.BUY, D("0.05"), D("20.00")))
                    if i % 3 == 0:
                        await venue.fetch_open_orders(SYMBOL)  # reads are retried through the storm
                    return "ok"
                except RateLimited:
                    return "429"

            storm = []
            for batch in range(30):
                storm += await asyncio.gather(*(one(batch * 10 + i) for i in range(10)))
            sb.faults.fraction_429 = 0.0
            t0 = clock()
            after = await asyncio.gather(*(one(1000 + i) for i in range(50)))
            recovery_s = clock() - t0

    assert len(wire.events) >= 300 and storm.count("429") >= 50 and storm.count("ok") >= 150
    texts = [o.client_id for o in sb.engine.orders.values()]
    assert len(texts) == len(set(texts)) == storm.count("ok") + after.count("ok")
    # Nothing was sent between learning of a 429 and the reset it announced.
    for hit in (e for e in wire.events if e.status == 429):
        assert hit.end is not None and hit.reset_at is not None
        inside = [e for e in wire.events if hit.end < e.start < hit.reset_at]
        assert inside == [], (hit, inside[:3])
    # Recovery: every request succeeds again, at the per-market placement budget (10/s).
    assert after == ["ok"] * 50 and recovery_s < 6.0

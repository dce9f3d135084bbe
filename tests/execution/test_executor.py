"""The paired executor against paper venues on real books and a real database."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.errors import AuthenticationError, InsufficientFunds, TransientVenueError
from arb.execution.executor import ExecutorConfig, PairedExecutor, PairResult
from arb.execution.imbalance import ImbalancePolicy
from arb.execution.lookup import LookupPolicy
from arb.execution.risk import RiskGate, RiskLimits
from arb.store.models import Fill, Opportunity, Order

from .conftest import new_run
from .fakes import FakeTime
from .harness import SYMBOL, Opp, ScriptedVenue, make_book, paper

D = Decimal
DEEP_ASKS = [("20.00", "5"), ("20.05", "5")]
DEEP_BIDS = [("20.20", "5"), ("20.15", "5")]


def limits(tmp_path: Path, **kw: object) -> RiskLimits:
    base: dict[str, object] = dict(max_notional_per_trade=D("1000"), max_unhedged_exposure=D("10"),
                                   daily_loss_limit=D("50"), kill_switch_file=tmp_path / "KILL")
    base.update(kw)
    return RiskLimits(**base)  # type: ignore[arg-type]


class Rig:
    def __init__(self, sessions: sessionmaker[Session], tmp_path: Path, *, alpha_asks=DEEP_ASKS,
                 beta_bids=DEEP_BIDS, policy: ImbalancePolicy = ImbalancePolicy.UNWIND, buy_fee_in: str = "quote",
                 **risk_kw: object) -> None:
        self.sessions = sessions
        self.time = FakeTime()
        self.alpha = ScriptedVenue(paper("alpha", make_book("alpha", [("19.95", "50")], alpha_asks),
                                         buy_fee_in=buy_fee_in))
        self.beta = ScriptedVenue(paper("beta", make_book("beta", beta_bids, [("20.30", "50")]),
                                        buy_fee_in=buy_fee_in))
        self.risk = RiskGate(limits(tmp_path, **risk_kw))
        self.run_id = new_run(sessions)
        self.executor = PairedExecutor(
            {"alpha": self.alpha, "beta": self.beta}, sessions, self.run_id, self.risk,
            config=ExecutorConfig(policy=policy, policy_bound_bps=D("100"), lookup=LookupPolicy((0.05, 0.2, 0.5))),
            sleep=self.time.sleep,
        )

    def orders(self) -> list[Order]:
        with self.sessions() as s:
            return list(s.scalars(select(Order).order_by(Order.id)))


def assert_units_reconcile(sessions: sessionmaker[Session], result: PairResult) -> None:
    """Every unit accounted for: order.filled == its fills; net base of all fills == recorded exposure."""
    with sessions() as s:
        opp = s.get_one(Opportunity, result.opportunity_id)
        orders = list(s.scalars(select(Order).where(Order.opportunity_id == opp.id)))
        net = D(0)
        for o in orders:
            fills = list(s.scalars(select(Fill).where(Fill.order_id == o.id)))
            assert sum((f.amount for f in fills), D(0)) == o.filled, o.client_order_id
            net += o.filled if o.side == "buy" else -o.filled
            net -= sum((f.fee for f in fills if f.fee_currency == "LINK"), D(0))
        assert opp.detail is not None
        assert D(opp.detail["net_base"]) == net == result.net_base
        assert sum((D(v) for v in opp.detail["exposure"].values()), D(0)) == net


async def test_hedged_pair_fills_both_legs_and_records_everything(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    result = await rig.executor.execute(Opp())
    assert result.executed and result.outcome == "hedged" and result.policy is None
    assert [leg.status.value for leg in result.legs] == ["filled", "filled"]
    # bought 2 @ 20.00, sold 2 @ 20.20, 0.1% fee each side in quote
    assert result.realized_pnl == D("40.40") - D("40.00") - D("0.04040") - D("0.04000")
    orders = rig.orders()
    assert [(o.side, o.status, o.filled, o.purpose) for o in orders] == [
        ("buy", "filled", D("2"), "entry"), ("sell", "filled", D("2"), "entry")]
    with rig.sessions() as s:
        for order in orders:
            # The write-ahead record commits the rows; each leg's first transaction writes the order's first
            # event, at the record's time, ahead of its transitions.
            events = s.get_one(Order, order.id).events
            assert [e.to_status for e in events] == ["created", "submitted", "filled"]
            assert events[0].ts == order.created_at and events[0].from_status is None
        assert all(o.sent_at is not None and o.acked_at is not None for o in s.scalars(select(Order)))
    assert_units_reconcile(rig.sessions, result)


async def test_a_pair_writes_everything_on_the_executor_s_one_connection(sqlite_sessions, tmp_path) -> None:
    # The write-ahead record, the legs' transitions and the settlement share the executor's kept connection
    # (store/kept.py): on SQLite a commit by another connection would drop its page cache before each entry.
    rig = Rig(sqlite_sessions, tmp_path)
    seen: list[tuple[int, str]] = []

    def before(conn, cursor, statement: str, *args: object) -> None:
        seen.append((id(conn.connection.dbapi_connection), statement.split()[0]))

    engine = sqlite_sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", before)
    try:
        for _ in range(2):
            assert (await rig.executor.execute(Opp())).outcome == "hedged"
    finally:
        event.remove(engine, "before_cursor_execute", before)
    writes = {statement for _, statement in seen}
    assert {"INSERT", "UPDATE"} <= writes and len({connection for connection, _ in seen}) == 1
    rig.executor.close()
    assert rig.executor.kept._connection is None


async def test_both_legs_are_in_flight_at_the_same_time(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    started: list[str] = []
    both = asyncio.Event()

    def seen(req) -> None:
        started.append(req.side.value)
        if len(started) == 2:
            both.set()

    # Each placement is held until the *other* one has started: a sequential executor would deadlock here.
    rig.alpha.on_place = rig.beta.on_place = seen
    rig.alpha.hold = rig.beta.hold = both
    result = await asyncio.wait_for(rig.executor.execute(Opp()), timeout=5)
    assert sorted(started) == ["buy", "sell"] and result.outcome == "hedged"


async def test_both_legs_are_prepared_before_either_is_sent(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.alpha.journal = rig.beta.journal = journal = []
    result = await rig.executor.execute(Opp())
    assert result.outcome == "hedged"
    assert sorted(journal[:2]) == ["prepare:alpha", "prepare:beta"]
    assert sorted(journal[2:]) == ["send:alpha", "send:beta"]


async def test_a_leg_that_cannot_be_prepared_sends_neither_and_says_why(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.alpha.journal = rig.beta.journal = journal = []
    rig.beta.prepare_error = TransientVenueError("beta", "clock sync timed out")
    result = await rig.executor.execute(Opp())
    assert not result.executed and result.reason == "not_sent:beta:TransientVenueError"
    assert rig.alpha.placed == rig.beta.placed == [] and not any(j.startswith("send:") for j in journal)
    assert rig.alpha.inner.requests == rig.beta.inner.requests == 0  # type: ignore[attr-defined]
    orders = rig.orders()
    assert [o.status for o in orders] == ["rejected", "rejected"]
    with rig.sessions() as s:
        opp = s.get_one(Opportunity, result.opportunity_id)
        assert (opp.decision, opp.reason) == ("rejected", "not_sent:beta:TransientVenueError")
        for o in orders:
            events = s.get_one(Order, o.id).events
            assert [e.to_status for e in events] == ["created", "rejected"]
            assert o.sent_at is None


async def test_partial_sell_leg_is_unwound_on_the_buy_venue(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path, beta_bids=[("20.20", "1.25"), ("19.00", "50")])
    result = await rig.executor.execute(Opp())
    assert [leg.filled for leg in result.legs] == [D("2"), D("1.25")]
    assert result.policy == "unwind" and len(result.corrective) == 1
    unwind = result.corrective[0]
    assert (unwind.venue, unwind.request.side, unwind.request.amount) == ("alpha", Side.SELL, D("0.75"))
    # bounded: at most 1% under the buy VWAP
    assert unwind.request.price == D("19.80") and unwind.filled == D("0.75")
    assert result.outcome == "hedged" and result.net_base == 0
    assert [o.purpose for o in rig.orders()] == ["entry", "entry", "unwind"]
    assert_units_reconcile(rig.sessions, result)


async def test_partial_sell_leg_is_completed_on_the_sell_venue(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path, beta_bids=[("20.20", "1.25"), ("20.10", "50")],
              policy=ImbalancePolicy.COMPLETE)
    result = await rig.executor.execute(Opp())
    complete = result.corrective[0]
    assert (complete.venue, complete.request.side, complete.request.amount) == ("beta", Side.SELL, D("0.75"))
    assert complete.request.price == D("20.00") and complete.filled == D("0.75")
    assert {f.price for f in complete.fills} == {D("20.10")}
    assert result.outcome == "hedged"
    assert_units_reconcile(rig.sessions, result)


@pytest.mark.parametrize("policy", list(ImbalancePolicy))
async def test_buy_fee_in_base_gives_the_same_accounting_as_the_gate_sandbox(sqlite_sessions, tmp_path, policy) -> None:
    """Same books and numbers as the sandbox policy test: paper and Gate now agree on where fees go."""
    rig = Rig(sqlite_sessions, tmp_path, beta_bids=[("20.20", "1.25"), ("20.10", "50")], policy=policy,
              buy_fee_in="base")
    rig.alpha.inner._books[SYMBOL].apply_snapshot(  # type: ignore[attr-defined]
        bids=[("19.95", "50")], asks=[("20.00", "5")], seq=2, received_ts=1)
    result = await rig.executor.execute(Opp())
    assert [leg.filled for leg in result.legs] == [D("2"), D("1.25")]
    assert [(f.fee, f.fee_currency) for f in result.legs[0].fills] == [(D("0.002"), "LINK")]
    # 2 bought, 0.002 LINK fee, 1.25 sold -> 0.748 long.
    if policy is ImbalancePolicy.HALT:
        assert result.outcome == "halted" and result.exposure == {"alpha": D("0.748")}
    else:
        fix = result.corrective[0]
        assert (fix.venue, fix.request.side, fix.request.amount, fix.filled) == (
            "alpha" if policy is ImbalancePolicy.UNWIND else "beta", Side.SELL, D("0.74"), D("0.74"))
        # 0.008 LINK is below one amount step: recorded as exposure, not traded.
        assert result.outcome == "hedged" and result.exposure == {"alpha": D("0.008")}
    assert_units_reconcile(rig.sessions, result)
    balances = await rig.alpha.balances()
    assert balances["LINK"].total == D("100") + D("2") - D("0.002") - (
        D("0.74") if policy is ImbalancePolicy.UNWIND else 0)


async def test_partial_leg_under_halt_policy_stops_trading_and_records_exposure(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path, beta_bids=[("20.20", "1.25")], policy=ImbalancePolicy.HALT)
    result = await rig.executor.execute(Opp())
    assert result.outcome == "halted" and result.corrective == ()
    assert result.exposure == {"alpha": D("0.75")}
    assert rig.risk.exposure("alpha", "LINK") == D("0.75")
    assert_units_reconcile(rig.sessions, result)
    again = await rig.executor.execute(Opp())
    assert not again.executed and again.reason == "kill_switch"


async def test_unwind_that_cannot_fill_leaves_exact_residual_exposure(sqlite_sessions, tmp_path) -> None:
    # Only 0.5 of the 0.75 excess can be sold back within the bound on alpha.
    rig = Rig(sqlite_sessions, tmp_path, beta_bids=[("20.20", "1.25")])
    rig.alpha.inner._books[SYMBOL].apply_snapshot(  # type: ignore[attr-defined]
        bids=[("19.90", "0.5"), ("19.00", "50")], asks=DEEP_ASKS, seq=2, received_ts=1)
    result = await rig.executor.execute(Opp())
    assert result.corrective[0].filled == D("0.5")
    assert result.outcome == "imbalanced" and result.exposure == {"alpha": D("0.25")}
    assert_units_reconcile(rig.sessions, result)


async def test_dropped_response_is_resolved_by_client_id_without_a_duplicate(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.beta.drop_after_accept = True
    rig.beta.lookup_not_found = 2  # a just-placed order is briefly unknown
    result = await rig.executor.execute(Opp())
    sell = result.legs[1]
    assert sell.status.value == "filled" and sell.lookups == 3 and sell.error == "TransientVenueError"
    # one placement; one lookup that reached the venue (two answered "not found" on the way); one fills query
    assert len(rig.beta.placed) == 1 and rig.beta.inner.requests == 3
    assert rig.time.sleeps == [0.05, 0.2]
    with rig.sessions() as s:
        events = [e.to_status for e in s.get_one(Order, rig.orders()[1].id).events]
    assert events == ["created", "submitted", "unknown", "filled"]
    assert result.outcome == "hedged"
    assert_units_reconcile(rig.sessions, result)


async def test_order_that_never_landed_is_rejected_after_lookups_and_the_other_leg_unwound(
    sqlite_sessions, tmp_path
) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.beta.fail_before_send = True
    result = await rig.executor.execute(Opp())
    assert result.legs[1].status.value == "rejected" and rig.beta.placed == []
    assert result.policy == "unwind" and result.corrective[0].filled == D("2")
    assert result.outcome == "hedged"
    assert_units_reconcile(rig.sessions, result)


async def test_unresolvable_leg_halts(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.beta.drop_after_accept = True
    rig.beta.lookup_error = TransientVenueError("beta", "502")
    rig.beta.inner.fetch_fills = _failing  # type: ignore[method-assign]
    result = await rig.executor.execute(Opp())
    assert result.legs[1].status.value == "unknown"
    assert result.outcome == "halted" and rig.risk.kill_switch_engaged()
    assert [o.status for o in rig.orders()] == ["filled", "unknown"]


async def _failing(*_a: object, **_k: object) -> list:
    raise TransientVenueError("beta", "503")


async def test_refused_leg_is_rejected_and_counted(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path, max_consecutive_failures=1)
    rig.beta.refuse_with = InsufficientFunds("beta", "BALANCE_NOT_ENOUGH", label="BALANCE_NOT_ENOUGH")
    result = await rig.executor.execute(Opp())
    assert result.legs[1].status.value == "rejected" and result.policy == "unwind"
    assert_units_reconcile(rig.sessions, result)
    again = await rig.executor.execute(Opp())
    assert again.reason == "circuit_open:beta"


async def test_auth_failure_stops_trading_on_that_venue(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.alpha.refuse_with = AuthenticationError("alpha", "INVALID_SIGNATURE", label="INVALID_SIGNATURE")
    await rig.executor.execute(Opp())
    again = await rig.executor.execute(Opp())
    assert again.reason == "auth_failed:alpha"


@pytest.mark.parametrize(
    ("risk_kw", "opp_kw", "reason"),
    [
        ({"max_notional_per_trade": D("40")}, {}, "max_notional"),
        ({"max_unhedged_exposure": D("1.5")}, {}, "max_exposure:alpha:LINK"),
        ({}, {"buy_amount": D("0.001")}, "leg_below_min_amount:alpha"),
        ({}, {"sell_venue": "gamma"}, "unknown_venue"),
    ],
)
async def test_refusals_are_recorded_with_their_reason_and_send_nothing(
    sqlite_sessions, tmp_path, risk_kw, opp_kw, reason
) -> None:
    rig = Rig(sqlite_sessions, tmp_path, **risk_kw)
    result = await rig.executor.execute(Opp(**opp_kw))
    assert not result.executed and result.reason == reason
    with rig.sessions() as s:
        opp = s.get_one(Opportunity, result.opportunity_id)
        assert (opp.decision, opp.reason) == ("rejected", reason)
    assert rig.orders() == [] and rig.alpha.placed == [] and rig.beta.placed == []


async def test_kill_switch_file_and_daily_loss_stop_new_trades(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path, daily_loss_limit=D("1"))
    (tmp_path / "KILL").touch()
    assert (await rig.executor.execute(Opp())).reason == "kill_switch"
    (tmp_path / "KILL").unlink()
    rig.risk.record_pnl(D("-1"))
    assert (await rig.executor.execute(Opp())).reason == "daily_loss_limit"
    with rig.sessions() as s:
        assert [o.reason for o in s.scalars(select(Opportunity).order_by(Opportunity.id))] == [
            "kill_switch", "daily_loss_limit"]


async def test_slippage_allowance_widens_limits_on_the_safe_side(sqlite_sessions, tmp_path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    rig.executor.config = ExecutorConfig(slippage_bps=D("10"))
    rig.executor.orders.lookup = rig.executor.config.lookup
    result = await rig.executor.execute(Opp())
    # 20.00 * 1.001 = 20.02 (buy, floor); 20.20 * 0.999 = 20.1798 -> 20.18 (sell, ceiling)
    assert [leg.request.price for leg in result.legs] == [D("20.02"), D("20.18")]

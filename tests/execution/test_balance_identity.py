"""Balances identity: for paper and sandbox venues, end - start == what the run's fills imply, exactly.

Each scenario snapshots both venues' balances (``repo.record_balances``, kind ``start``), executes a pair
through the real executor, snapshots again (``end``) and reads ``repo.inventory_check`` back from the
database: every (venue, asset) must have ``external_flow == 0`` as an exact Decimal, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.venue import Venue
from arb.execution.executor import ExecutorConfig, PairedExecutor, PairResult
from arb.execution.imbalance import ImbalancePolicy
from arb.execution.lookup import LookupPolicy
from arb.execution.risk import RiskGate, RiskLimits
from arb.inventory import InventoryRow
from arb.store import repo
from arb.venues.gate.sandbox import Sandbox

from .conftest import new_run
from .fakes import FakeTime
from .harness import Opp, make_book, paper
from .sandbox_rig import live_gate, sandbox_config

D = Decimal
UNWIND, COMPLETE, HALT = ImbalancePolicy.UNWIND, ImbalancePolicy.COMPLETE, ImbalancePolicy.HALT
DEEP_ASKS = [("20.00", "5"), ("20.05", "5")]
DEEP_BIDS = [("20.20", "5"), ("20.15", "5")]
PARTIAL_BIDS = [("20.20", "1.25"), ("20.10", "50")]  # the sell leg fills 1.25 of 2 within its limit


async def snapshot(sessions: sessionmaker[Session], run_id: int, kind: str, venues: list[Venue]) -> None:
    rows = [repo.BalanceSnapshot(v.name, asset, b.free, b.used, b.total)
            for v in venues for asset, b in sorted((await v.balances()).items())]
    with sessions.begin() as s:
        repo.record_balances(s, run_id, datetime.now(UTC), rows, kind=kind)


def assert_identity(sessions: sessionmaker[Session], run_id: int) -> dict[tuple[str, str], InventoryRow]:
    with sessions() as s:
        rows = repo.inventory_check(s, run_id)
    for row in rows:
        assert row.start is not None and row.end is not None, row
        assert row.end - row.start == row.implied and row.external_flow == 0, row
    return {(r.venue, r.asset): r for r in rows}


def risk(tmp_path: Path) -> RiskGate:
    return RiskGate(RiskLimits(max_notional_per_trade=D("1000"), max_unhedged_exposure=D("10"),
                               daily_loss_limit=D("50"), kill_switch_file=tmp_path / "KILL"))


def check_outcome(result: PairResult, policy: ImbalancePolicy, expect: str) -> None:
    """The scenario did what its name says (or the identity would be tested on something else)."""
    filled = [leg.filled for leg in result.legs]
    if expect == "hedged":
        assert result.outcome == "hedged" and filled == [D(2), D(2)] and result.corrective == ()
    elif expect == "partial":
        assert filled == [D(2), D("1.25")]
        if policy is HALT:
            assert result.outcome == "halted" and result.corrective == ()
        else:
            assert len(result.corrective) == 1 and result.corrective[0].filled > 0
    else:
        assert expect == "nothing" and filled == [D(0), D(0)]


PAPER: dict[str, dict[str, Any]] = {
    "hedged-buy-fee-in-quote": dict(buy_fee_in="quote", expect="hedged"),
    "hedged-buy-fee-in-base": dict(buy_fee_in="base", expect="hedged"),
    "partial-unwind-buy-fee-in-base": dict(buy_fee_in="base", bids=PARTIAL_BIDS, expect="partial"),
    "partial-unwind-buy-fee-in-quote": dict(buy_fee_in="quote", bids=PARTIAL_BIDS, expect="partial"),
    "partial-complete-buy-fee-in-base": dict(buy_fee_in="base", bids=PARTIAL_BIDS, policy=COMPLETE,
                                             expect="partial"),
    "partial-halt-buy-fee-in-quote": dict(buy_fee_in="quote", bids=PARTIAL_BIDS, policy=HALT, expect="partial"),
    "nothing-fills": dict(buy_fee_in="base", asks=[("20.50", "5")], bids=[("19.00", "50")], expect="nothing"),
}


@pytest.mark.parametrize("scenario", list(PAPER))
async def test_paper_pair_balances_change_exactly_as_the_fills_imply(
    session_factory: sessionmaker[Session], tmp_path: Path, scenario: str
) -> None:
    kw = PAPER[scenario]
    policy = kw.get("policy", UNWIND)
    alpha = paper("alpha", make_book("alpha", [("19.95", "50")], kw.get("asks", DEEP_ASKS)),
                  buy_fee_in=kw["buy_fee_in"])
    beta = paper("beta", make_book("beta", kw.get("bids", DEEP_BIDS), [("20.30", "50")]), buy_fee_in=kw["buy_fee_in"])
    run_id = new_run(session_factory)
    executor = PairedExecutor({"alpha": alpha, "beta": beta}, session_factory, run_id, risk(tmp_path),
                              config=ExecutorConfig(policy=policy, policy_bound_bps=D("100"),
                                                    lookup=LookupPolicy((0.05, 0.2))),
                              sleep=FakeTime().sleep)
    await snapshot(session_factory, run_id, "start", [alpha, beta])
    result = await executor.execute(Opp())
    check_outcome(result, policy, kw["expect"])
    await snapshot(session_factory, run_id, "end", [alpha, beta])
    rows = assert_identity(session_factory, run_id)
    assert set(rows) == {(v, a) for v in ("alpha", "beta") for a in ("LINK", "USDT")}
    traded = kw["expect"] != "nothing"
    assert (rows[("alpha", "USDT")].implied != 0) is traded and (rows[("beta", "USDT")].implied != 0) is traded
    if kw["buy_fee_in"] == "base" and traded:  # the buy's fee came out of the LINK bought
        assert rows[("alpha", "LINK")].implied == D(2) - D("0.002") - sum(
            (c.filled for c in result.corrective if c.venue == "alpha"), D(0))


SANDBOX: dict[str, dict[str, Any]] = {
    "hedged": dict(expect="hedged"),
    "partial-unwind": dict(bids=PARTIAL_BIDS, expect="partial"),
    "partial-complete": dict(bids=PARTIAL_BIDS, policy=COMPLETE, expect="partial"),
    "partial-halt": dict(bids=PARTIAL_BIDS, policy=HALT, expect="partial"),
    "nothing-fills": dict(asks=[("20.50", "5")], bids=[("19.00", "50")], expect="nothing"),
}


@pytest.mark.parametrize("scenario", list(SANDBOX))
async def test_sandbox_pair_balances_change_exactly_as_the_fills_imply(
    session_factory: sessionmaker[Session], tmp_path: Path, scenario: str
) -> None:
    """Gate's rule through the real sandbox ledger: a buy pays its fee in base, a sell in quote."""
    kw = SANDBOX[scenario]
    policy = kw.get("policy", UNWIND)
    async with AsyncExitStack() as stack:
        sb_a = await stack.enter_async_context(Sandbox(sandbox_config()))
        sb_b = await stack.enter_async_context(Sandbox(sandbox_config()))
        a = await stack.enter_async_context(live_gate("gate_a", sb_a))
        b = await stack.enter_async_context(live_gate("gate_b", sb_b))
        sb_a.push_book("LINK_USDT", [("19.95", "50")], kw.get("asks", [("20.00", "5")]))
        sb_b.push_book("LINK_USDT", kw.get("bids", [("20.20", "5")]), [("20.30", "50")])
        run_id = new_run(session_factory)
        executor = PairedExecutor({"gate_a": a, "gate_b": b}, session_factory, run_id, risk(tmp_path),
                                  config=ExecutorConfig(policy=policy, policy_bound_bps=D("100"),
                                                        lookup=LookupPolicy((0.02, 0.05, 0.1, 0.2))))
        await snapshot(session_factory, run_id, "start", [a, b])
        result = await executor.execute(Opp(buy_venue="gate_a", sell_venue="gate_b"))
        check_outcome(result, policy, kw["expect"])
        await snapshot(session_factory, run_id, "end", [a, b])
    rows = assert_identity(session_factory, run_id)
    if kw["expect"] != "nothing":
        assert rows[("gate_a", "LINK")].implied != 0 and rows[("gate_b", "USDT")].implied != 0

"""The page's document (``arb/monitoring/dashboard/page.py``) on the populated database (SQLite and
PostgreSQL): the stored settlement, summed as ``arb report`` sums it; the curve ending at that total; the
newest trades and opportunities first; balances; and a running engine's snapshot, formatted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arb.display import Precision, money
from arb.execution.risk import RiskGate, RiskLimits
from arb.monitoring.dashboard.page import document, pnl_curve
from arb.runtime.clock import MarketClock
from arb.runtime.funnel import Funnel
from arb.runtime.view import RunView
from arb.store import views
from arb.store.repo import BalanceSnapshot, record_balances, start_run
from tests.conftest import T0, Populated, at


def test_the_document_reads_the_stored_settlement(populated: Populated) -> None:
    with populated.factory() as s:
        doc = document(s, populated.run_id)
        totals = views.run_pnl(s, populated.run_id).totals
        places = Precision.from_snapshot(views.get_run(s, populated.run_id).config_snapshot).pnl()
        outcomes = {t.pnl.opportunity_id: t.outcome for t in views.trades(s, populated.run_id)}
    # arb.accounting's settled figures, summed as the report sums them (BTC 0.39355, ETH -4.004).
    assert totals["realized_pnl"] == Decimal("-3.61045") and totals["expected_pnl"] == Decimal("2.2995")
    assert doc["pnl"]["realized"] == money(totals["realized_pnl"], places) == "-3.61045"
    assert doc["pnl"]["expected"] == money(totals["expected_pnl"], places) == "2.2995"
    assert doc["pnl"]["fees"] == money(totals["pnl_fees"], places)
    assert (doc["pnl"]["executed"], doc["pnl"]["unsettled"]) == (2, 0)
    # The curve: running sums of the same stored figures, exact, ending at the totals.
    ms = [round(at(t).timestamp() * 1000) for t in (10, 20)]
    assert doc["curve"]["of"] == 2
    assert [[t, Decimal(e), Decimal(r)] for t, e, r in doc["curve"]["points"]] == [
        [ms[0], Decimal("0.3995"), Decimal("0.39355")], [ms[1], totals["expected_pnl"], totals["realized_pnl"]]]
    # Newest first; outcome words as `arb trades` says them.
    assert [t["id"] for t in doc["trades"]] == [populated.eth_opportunity_id, populated.btc_opportunity_id]
    assert [t["outcome"] for t in doc["trades"]] == [outcomes[populated.eth_opportunity_id],
                                                     outcomes[populated.btc_opportunity_id]]
    assert doc["trades"][0]["route"] == "okx -> gate" and doc["trades"][0]["realized"] == "-4.004"
    opportunities = doc["opportunities"]
    assert len(opportunities) == 8 and opportunities[0]["reason"] == "balance_insufficient"
    assert opportunities[-1]["id"] == populated.btc_opportunity_id
    balances = {(b["venue"], b["asset"]): b for b in doc["balances"]}
    assert balances[("gate", "USDT")] == {"venue": "gate", "asset": "USDT", "start": "1000",
                                          "latest": "3951.4895", "change": "2951.4895"}
    assert balances[("okx", "BTC")]["change"] == "-0.5"
    assert doc["run"]["status"] == "completed" and doc["live"] is None


def test_the_curve_keeps_at_most_its_limit_of_points_and_always_the_last() -> None:
    rows = [_pnl_row(i, expected=Decimal("0.01"), realized=Decimal("0.009") if i % 7 else None)
            for i in range(1, 1001)]
    curve = pnl_curve(rows, limit=50)
    assert curve["of"] == 1000 and len(curve["points"]) == 50
    assert curve["points"][0] == pnl_curve(rows[:1])["points"][0]
    settled = sum(1 for r in rows if r.realized_pnl is not None)
    assert curve["points"][-1][1:] == ["10.00", format(Decimal("0.009") * settled, "f")]
    times = [p[0] for p in curve["points"]]
    assert times == sorted(times) and len(set(times)) == 50


def test_a_running_run_shows_its_latest_balance_snapshot_as_now(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
        record_balances(s, run_id, at(0), [BalanceSnapshot("gate", "USDT", Decimal(100), Decimal(0), Decimal(100))],
                        kind="start")
        record_balances(s, run_id, at(5), [BalanceSnapshot("gate", "USDT", Decimal("99.5"), Decimal(0),
                                                           Decimal("99.5"))], kind="after_pair")
    with session_factory() as s:
        doc = document(s, run_id)
    assert doc["balances"] == [{"venue": "gate", "asset": "USDT", "start": "100", "latest": "99.5",
                                "change": "-0.5"}]
    assert doc["run"]["status"] == "running" and doc["funnel"] is None and doc["curve"]["points"] == []


def test_a_running_engines_snapshot_is_formatted_for_the_page(populated: Populated, tmp_path: Path) -> None:
    now = T0 + timedelta(hours=1)
    risk = RiskGate(RiskLimits(Decimal(1000), Decimal(25), Decimal(50), max_consecutive_failures=1),
                    clock=lambda: now)
    risk.add_exposure("gate", "LINK", Decimal("0.012345678912"))
    risk.record_failure("htx")
    risk.record_pnl(Decimal("-1.23456789"))
    funnel = Funnel(book_updates=1200, evaluations=600, crossed=40)
    funnel.rejected["below_min_edge"] += 3
    view = RunView(funnel, [], MarketClock(1_629_417_600_000), lambda: {
        "feed_drops": {"gate": {"bad_json": 2}}, "task_restarts": {"feed-htx": 1}, "stale_resubscribes": {}},
        risk=risk.state, stop_reason=lambda: None)
    with populated.factory() as s:
        doc = document(s, populated.run_id, {"view": view.snapshot(), "updates_per_s": 211.26})
    live = doc["live"]
    assert live["market_ms"] == 1_629_417_600_000 and live["updates_per_s"] == 211.3
    assert live["funnel"]["book_updates"] == 1200 and live["funnel"]["rejected_total"] == 3
    assert live["exposure"] == [{"venue": "gate", "asset": "LINK", "amount": "0.01234568"}]
    assert live["risk"]["breakers"] == {"htx": "open"}
    places = Precision.from_snapshot(None).pnl()  # the populated run has no market rules: the default places
    assert (live["risk"]["pnl_today"], live["risk"]["daily_loss_limit"]) == (money(Decimal("-1.23456789"), places),
                                                                              "50")
    assert live["risk"]["kill_switch"] is False and live["risk"]["daily_limit_reached"] is False
    assert live["incidents"] == {"frames dropped": 2, "task restarts": 1, "feeds resubscribed": 0}


def _pnl_row(i: int, *, expected: Decimal, realized: Decimal | None) -> views.PnlRow:
    zero = Decimal(0)
    return views.PnlRow(
        opportunity_id=i, detected_at=at(i), settled_at=at(i) if realized is not None else None,
        symbol="LINK/USDT", buy_venue="gate", sell_venue="htx", size=Decimal(1), expected_buy_price=Decimal(10),
        expected_sell_price=Decimal(11), mark_price=Decimal(10), expected_pnl=expected, realized_pnl=realized,
        pnl_slippage=zero, pnl_fees=zero, pnl_unfilled=zero, pnl_imbalance=zero, fees_quote=zero,
        residual_base=zero)

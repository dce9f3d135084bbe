"""The page's document (``arb/monitoring/dashboard/page.py``) on the populated database (SQLite and
PostgreSQL): the stored settlement, summed as ``arb report`` sums it; the curve ending at that total; the
newest trades and opportunities first; balances; and a running engine's snapshot, formatted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arb.display import Precision, money
from arb.eventloop.clock import MarketClock
from arb.execution.risk import RiskGate, RiskLimits
from arb.monitoring.dashboard.page import INCIDENT_ROWS, document, pnl_curve
from arb.positions import OpenLot, open_positions
from arb.runtime.funnel import Funnel
from arb.runtime.view import RunView
from arb.store import views
from arb.store.repo import BalanceSnapshot, end_run, record_balances, record_opportunities, start_run
from arb.store.runs import get_run
from tests.conftest import T0, Populated, at


def test_the_document_reads_the_stored_settlement(populated: Populated) -> None:
    with populated.factory() as s:
        doc = document(s, populated.run_id)
        totals = views.run_pnl(s, populated.run_id).totals
        places = Precision.from_snapshot(get_run(s, populated.run_id).config_snapshot).pnl()
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
    assert [[t, Decimal(e), Decimal(r)] for t, e, r, _ in doc["curve"]["points"]] == [
        [ms[0], Decimal("0.3995"), Decimal("0.39355")], [ms[1], totals["expected_pnl"], totals["realized_pnl"]]]
    # No pair left an open position: equity is realized at every point, and nothing is unrealized.
    assert [q for *_, q in doc["curve"]["points"]] == [p[2] for p in doc["curve"]["points"]]
    assert doc["positions"]["rows"] == [] and doc["pnl"]["unrealized"] == "0"
    assert doc["pnl"]["equity"] == doc["pnl"]["realized"]
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
    realized = format(Decimal("0.009") * settled, "f")
    assert curve["points"][-1][1:] == ["10.00", realized, realized]  # no open position: equity is realized
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


@dataclass(frozen=True)
class CurveRow:
    """What ``pnl_curve`` reads of an executed opportunity (``page.PnlFigures``)."""

    detected_at: datetime
    expected_pnl: Decimal
    realized_pnl: Decimal | None
    open_base: Decimal | None = None
    open_price: Decimal | None = None
    symbol: str = "LINK/USDT"
    buy_venue: str = "gate"
    sell_venue: str = "htx"


def _pnl_row(i: int, *, expected: Decimal, realized: Decimal | None) -> CurveRow:
    return CurveRow(at(i), expected, realized)


def test_equity_adds_the_positions_open_by_each_point_at_the_marks() -> None:
    rows = [CurveRow(at(1), Decimal("0.10"), Decimal("0.08")),
            CurveRow(at(2), Decimal("0.10"), Decimal("-0.01"), open_base=Decimal("2"), open_price=Decimal("26.80")),
            CurveRow(at(3), Decimal("0.10"), Decimal("0.09")),
            CurveRow(at(4), Decimal("0.10"), Decimal("0.00"), open_base=Decimal("-0.5"), open_price=Decimal("26.90"),
                     buy_venue="htx", sell_venue="gate")]
    marks = {("gate", "LINK/USDT"): Decimal("26.85"), ("htx", "LINK/USDT"): Decimal("26.85")}
    equity = [Decimal(p[3]) for p in pnl_curve(rows, marks=marks)["points"]]
    # 2 LINK long on gate (bought there, the buy venue) at 26.80, marked 26.85: +0.10; then 0.5 LINK short on
    # gate (sold there, the sell venue) at 26.90, netted with the long on gate by arb.positions.
    long_only = Decimal("2") * (Decimal("26.85") - Decimal("26.80"))
    assert equity[:3] == [Decimal("0.08"), Decimal("0.07") + long_only, Decimal("0.16") + long_only]
    (position,) = open_positions([OpenLot("gate", "htx", "LINK/USDT", Decimal(2), Decimal("26.80")),
                                  OpenLot("htx", "gate", "LINK/USDT", Decimal("-0.5"), Decimal("26.90"))], marks)
    assert position.venue == "gate" and position.amount == Decimal("1.5")
    assert equity[3] == Decimal("0.16") + position.unrealized
    # A lot whose venue has no mark: equity is unknown from there on, never the realized figure alone.
    unmarked = pnl_curve(rows, marks={})["points"]
    assert [p[3] for p in unmarked] == [unmarked[0][2], None, None, None]


def test_opportunities_are_newest_first_by_market_time_with_size_and_edges(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
        # The executed pair's row is written when it is decided; the rejections before it come with the
        # writer's next batch, so ids are not market time.
        record_opportunities(s, [_row(run_id, 50, "executed", None, size="2.5", edge="1.2345",
                                      detail={"gross_edge_bps": "7.1"})])
        record_opportunities(s, [
            _row(run_id, 40 + i, "rejected", "unprofitable_after_fees", detail={"gross_edge_bps": "3.25", "sized": False})
            for i in range(3)] + [_row(run_id, 55, "rejected", "below_min_edge", size="1.2", edge="0.3",
                                       detail={"gross_edge_bps": "6", "sized": True})])
    with session_factory() as s:
        rows = document(s, run_id)["opportunities"]
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    assert [r["reason"] for r in rows] == ["below_min_edge", None, *["unprofitable_after_fees"] * 3]
    assert (rows[0]["size"], rows[0]["edge_bps"], rows[0]["gross_edge_bps"], rows[0]["sized"]) == ("1.2", "0.3", "6",
                                                                                                   True)
    assert (rows[1]["size"], rows[1]["edge_bps"], rows[1]["gross_edge_bps"]) == ("2.5", "1.23", "7.1")
    # Nothing profitable to size: its size is the 0 stored, said as such; the gross edge is still shown.
    assert (rows[2]["size"], rows[2]["sized"], rows[2]["edge_bps"], rows[2]["gross_edge_bps"]) == ("0", False, None,
                                                                                                   "3.25")


def test_open_positions_are_valued_now_live_and_at_the_end_as_stored(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
        record_opportunities(s, [_row(run_id, 10, "executed", None, size="20") | {
            "realized_pnl": Decimal("-0.009"), "open_base": Decimal("19.998"), "open_price": Decimal("26.804"),
            "settled_at": at(11)}])
    live = {"view": _view().snapshot(), "updates_per_s": 0.0, "marks": {("gate", "LINK/USDT"): Decimal("26.857")},
            "incidents": [{"kind": "halt", "detail": "halt:leg_imbalance:1", "started_at": at(11).isoformat(),
                           "ended_at": None}]}
    with session_factory() as s:
        now = document(s, run_id, live)
        elsewhere = document(s, run_id)  # a run another process is running: no books here
    unrealized = Decimal("19.998") * (Decimal("26.857") - Decimal("26.804"))
    (row,) = now["positions"]["rows"]
    assert now["positions"]["valued_at"] == "now"
    assert (row["venue"], row["side"], row["amount"], row["unrealized"]) == ("gate", "long", "19.998",
                                                                             money(unrealized, 8))
    assert Decimal(now["pnl"]["equity"]) == Decimal("-0.009") + unrealized and now["pnl"]["realized"] == "-0.009"
    assert Decimal(now["curve"]["points"][-1][3]) == Decimal("-0.009") + unrealized
    assert [i["kind"] for i in now["incident_list"]] == ["halt"] and now["incident_list"][0]["ended_at"] is None
    assert elsewhere["positions"]["valued_at"] == "none" and elsewhere["positions"]["rows"][0]["unrealized"] is None
    assert elsewhere["pnl"]["equity"] is None and elsewhere["curve"]["points"][-1][3] is None
    # Ended: the positions the summary stored, as stored (not valued again), and its incidents.
    stored = {"venue": "gate", "symbol": "LINK/USDT", "amount": "19.998", "cost": "26.804000000000",
              "mark": "26.857", "unrealized": "1.059894000000"}
    with session_factory.begin() as s:
        end_run(s, run_id, ended_at=at(60), summary={"open_positions": [stored], "incidents": live["incidents"]})
    with session_factory() as s:
        ended = document(s, run_id)
    (row,) = ended["positions"]["rows"]
    assert ended["positions"]["valued_at"] == "end" and row["unrealized"] == "1.059894" and row["mark"] == "26.857"
    assert Decimal(ended["pnl"]["equity"]) == Decimal("-0.009") + Decimal("1.059894")
    assert ended["incident_list"][0]["started_at"] == round(at(11).timestamp() * 1000)


def _view() -> RunView:
    return RunView(Funnel(), [], MarketClock(1_629_417_600_000), dict)


def _row(run_id: int, t: float, decision: str, reason: str | None, *, size: str = "0", edge: str | None = None,
         detail: dict[str, object] | None = None) -> dict[str, object]:
    return {"run_id": run_id, "detected_at": at(t), "symbol": "LINK/USDT", "buy_venue": "gate", "sell_venue": "htx",
            "size": Decimal(size), "buy_price": Decimal("26.8"), "sell_price": Decimal("26.81"),
            "expected_profit": Decimal(0), "decision": decision, "reason": reason,
            "edge_bps": Decimal(edge) if edge is not None else None, "detail": detail}


def test_the_incident_list_keeps_the_newest_and_every_open_one(session_factory: sessionmaker[Session]) -> None:
    def incident(i: int, ended: bool) -> dict[str, object]:
        return {"kind": "inventory_depleted", "detail": f"#{i}", "started_at": at(i).isoformat(),
                "ended_at": at(i + 0.5).isoformat() if ended else None}

    rows = [incident(0, ended=False)] + [incident(i, ended=True) for i in range(1, INCIDENT_ROWS + 6)]
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot={}, started_at=T0).id
        end_run(s, run_id, ended_at=at(60), summary={"incidents": rows})
    with session_factory() as s:
        doc = document(s, run_id)
    assert doc["incidents_total"] == len(rows)
    details = [i["detail"] for i in doc["incident_list"]]
    assert details == [f"#{i}" for i in range(INCIDENT_ROWS + 5, 5, -1)] + ["#0"]  # the oldest is still open
    assert doc["incident_list"][-1]["ended_at"] is None

"""The review views against exact numbers: hand-computed ones, and arb.store.views' Decimal ones.

Every test runs on SQLite and PostgreSQL (``session_factory`` comes from tests/conftest.py). On
PostgreSQL sums and products are NUMERIC, so those columns must equal the Decimal values exactly; on
SQLite the views compute in floats (documented in the README) and must agree to 1e-9 relative.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from arb.inventory import FillFlow, fill_deltas
from arb.store import migrate, repo, views
from arb.store.db import make_engine
from arb.store.models import Fill, Opportunity, Order

# Columns computed with a division: NUMERIC division rounds on PostgreSQL too.
DIVIDED = {"fill_ratio"}


def _same(value: Any, exact: object, engine: Engine, column: str) -> bool:
    if exact is None or value is None:
        return value is None and exact is None
    if not isinstance(exact, D):  # ids, counts, names
        return bool(value == exact)
    if engine.dialect.name == "postgresql" and column not in DIVIDED:
        return isinstance(value, D) and value == exact
    return abs(D(str(value)) - exact) <= D("1e-9") * max(D(1), abs(exact))


def _view(engine: Engine, name: str, run_id: int, order_by: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(
            text(f"SELECT * FROM {name} WHERE run_id = :r ORDER BY {order_by}"), {"r": run_id}
        )
        return [dict(row) for row in result.mappings()]


def _assert_rows_match(
    engine: Engine, got: list[dict[str, Any]], exact: Sequence[object], cols: Sequence[str]
) -> None:
    assert len(got) == len(exact)
    for row, want in zip(got, exact, strict=True):
        expected = views.as_dict(want)
        for col in cols:
            assert _same(row[col], expected[col], engine, col), (col, row[col], expected[col])


def test_pnl_exact_values_by_hand(session_factory: sessionmaker[Session], runs: tuple[int, int]) -> None:
    with session_factory() as s:
        o1, o2 = views.opportunity_pnl(s, runs[0])
        (o6,) = views.opportunity_pnl(s, runs[1])
    terms = lambda r: (r.realized_pnl, r.pnl_slippage, r.pnl_fees, r.pnl_unfilled, r.pnl_imbalance)  # noqa: E731
    assert terms(o1) == (D("0.41902"), D("-0.18"), D("0.00002"), 0, 0)
    assert (o1.fees_quote, o1.residual_base) == (D("0.40098"), 0)
    assert terms(o2) == (D("-0.06010603"), 0, 0, D("-0.07984"), D("-0.17986603"))
    assert (o2.fees_quote, o2.residual_base) == (D("0.10014") + D("0.005") * D("19.97001"), D("-0.005"))
    assert terms(o6) == (0, 0, 0, D("-0.18"), 0)  # its 1 ETH is open, at its cost: nothing realized
    assert (o6.fees_quote, o6.residual_base) == (0, 1)  # the GT fee is not priced


def test_pnl_terms_add_up_exactly(session_factory: sessionmaker[Session], runs: tuple[int, int]) -> None:
    with session_factory() as s:
        rows = views.opportunity_pnl(s, runs[0]) + views.opportunity_pnl(s, runs[1])
    for r in rows:
        assert r.realized_pnl - r.expected_pnl == r.pnl_slippage + r.pnl_fees + r.pnl_unfilled + r.pnl_imbalance
    totals = views.pnl_totals(rows[:2])
    assert totals["expected_pnl"] == D("0.7986") and totals["realized_pnl"] == D("0.35891397")


def test_pnl_views_match_decimal(
    engine: Engine, session_factory: sessionmaker[Session], runs: tuple[int, int]
) -> None:
    cols = [
        c
        for c in views.PnlRow.__dataclass_fields__
        if c not in ("detected_at", "settled_at", "symbol", "buy_venue", "sell_venue")
    ]
    for run_id in runs:
        with session_factory() as s:
            exact = views.opportunity_pnl(s, run_id)
            run = views.run_pnl(s, run_id)
        got = _view(engine, "v_opportunity_pnl", run_id, "detected_at, opportunity_id")
        _assert_rows_match(engine, got, exact, cols)
        (total,) = _view(engine, "v_run_pnl", run_id, "run_id")
        assert (total["executed"], total["unsettled"]) == (run.executed, run.unsettled)
        for column, value in run.totals.items():
            assert _same(total[column], value, engine, column), (column, total[column], value)


def test_funnel_by_hand_and_view(
    engine: Engine, session_factory: sessionmaker[Session], runs: tuple[int, int]
) -> None:
    with session_factory() as s:
        funnel = views.funnel(s, runs[0])
        rejections = views.rejections(s, runs[0])
    assert [
        (f.buy_venue, f.sell_venue, f.seen, f.rejected, f.executed, f.expected_profit) for f in funnel
    ] == [
        ("binance", "huobi", 3, 2, 1, D("0.599")),
        ("huobi", "binance", 2, 1, 1, D("0.1996")),
    ]
    assert [(r.buy_venue, r.reason, r.rejected) for r in rejections] == [
        ("binance", "below_min_edge", 1), ("binance", "book_stale", 1), ("huobi", "below_min_edge", 1),
    ]  # fmt: skip
    got = _view(engine, "v_opportunity_funnel", runs[0], "symbol, buy_venue, sell_venue")
    _assert_rows_match(
        engine,
        got,
        funnel,
        ["symbol", "buy_venue", "sell_venue", "seen", "rejected", "executed", "expected_profit"],
    )
    got = _view(engine, "v_opportunity_rejections", runs[0], "symbol, buy_venue, sell_venue, reason")
    _assert_rows_match(engine, got, rejections, ["buy_venue", "sell_venue", "reason", "rejected"])


def test_legs_fill_ratio_and_latency(
    engine: Engine, session_factory: sessionmaker[Session], runs: tuple[int, int]
) -> None:
    with session_factory() as s:
        legs = views.legs(s, runs[0])
    buy1, sell1, _buy2, sell2, unwind2 = legs
    assert (buy1.trigger_to_sent_ms, buy1.sent_to_ack_ms, buy1.ack_to_first_fill_ms) == (5, 20, 5)
    assert (buy1.first_to_last_fill_ms, buy1.trigger_to_filled_ms) == (15, 45)
    assert (sell1.trigger_to_filled_ms, sell2.fill_ratio, unwind2.sent_to_ack_ms) == (41, D("0.6"), None)
    assert sell2.filled == sell2.order_filled == 3

    got = _view(engine, "v_leg_fill_ratio", runs[0], "order_id")
    _assert_rows_match(
        engine,
        got,
        legs,
        ["order_id", "venue", "side", "purpose", "amount", "filled", "fill_ratio", "order_filled"],
    )
    _latency_view_matches(engine, runs[0], legs)
    with session_factory() as s:
        detected = {o.id: o.detected_at for o in s.scalars(select(Opportunity).where(Opportunity.run_id == runs[0]))}
    assert all(leg.triggered_at == detected[leg.opportunity_id] for leg in legs)  # a taker leg's trigger: its decision


def _latency_view_matches(engine: Engine, run_id: int, legs: Sequence[views.LegRow]) -> None:
    got = _view(engine, "v_leg_latency", run_id, "order_id")
    assert [row["order_id"] for row in got] == [leg.order_id for leg in legs]
    # julianday() on SQLite resolves ~0.05 ms at today's dates; PostgreSQL is exact.
    tol = D("0.1") if engine.dialect.name == "sqlite" else D(0)
    for row, leg in zip(got, legs, strict=True):
        for col in views.LATENCY_COLUMNS:
            want = getattr(leg, col)
            assert (row[col] is None) == (want is None), (leg.order_id, leg.purpose, col)
            assert want is None or abs(D(str(row[col])) - want) <= tol, (leg.order_id, col, row[col], want)


def test_a_hedge_is_timed_from_the_quote_fill_it_answers(db_url: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A maker run (tests/report/test_surfaces_agree.py's, replayed by ``arb run`` into each database): a hedge's
    or flatten's trigger -> sent starts at the latest fill of its pair's quote arb received before sending it,
    not at the pair's opening (the quote's placement, which took the seconds the quote rested); every other
    order at its opportunity's decision. One figure on every surface: ``arb.store.views.legs``,
    ``v_leg_latency``, the maker's fill -> hedge (summary, report, dashboard, metrics) and the report's legs."""
    from statistics import median

    from arb.cli import main
    from arb.store.maker_views import maker_routes
    from arb.store.models import Run
    from tests.engine.maker_capture import binance_maker_capture, maker_config

    assert main(["run", "--config", str(maker_config(tmp_path, binance_maker_capture(tmp_path))), "--db", db_url]) == 0
    engine = make_engine(db_url)
    try:
        with sessionmaker(bind=engine)() as s:
            run_id = s.scalars(select(Run.id)).one()
            legs = views.legs(s, run_id)
            fill_to_hedge = sorted(ms for route in maker_routes(s, run_id) for ms in route.fill_to_hedge_ms)
            detected = {o.id: o.detected_at for o in s.scalars(select(Opportunity).where(Opportunity.run_id == run_id))}
            seen: defaultdict[int | None, set[datetime]] = defaultdict(set)
            for order, received in s.execute(select(Order.opportunity_id, Fill.received_at).join(Fill)
                                             .where(Order.run_id == run_id, Order.purpose == "quote")):
                seen[order].add(received)
        _latency_view_matches(engine, run_id, legs)
    finally:
        engine.dispose()

    answers = [leg for leg in legs if leg.purpose in ("hedge", "flatten")]
    trigger_to_sent: list[D] = []
    from_opening: list[D] = []  # what the legs table showed before (#48): from the pair's opening
    for leg in answers:
        assert leg.opportunity_id is not None and leg.sent_at is not None and leg.triggered_at is not None
        assert leg.triggered_at in seen[leg.opportunity_id] and leg.triggered_at <= leg.sent_at
        trigger_to_sent.append(views.elapsed_ms(leg.triggered_at, leg.sent_at) or D(0))
        from_opening.append(views.elapsed_ms(detected[leg.opportunity_id], leg.sent_at) or D(0))
    for leg in legs:
        if leg.purpose not in ("hedge", "flatten"):
            assert leg.triggered_at == detected.get(leg.opportunity_id or 0), leg
    assert answers and [leg.trigger_to_sent_ms for leg in answers] == trigger_to_sent
    assert sorted(trigger_to_sent) == fill_to_hedge
    # Milliseconds: the fill's and the hedge's trips through the configured latencies (a hedge retried after
    # one that filled nothing: some 200 ms). From the pair's opening the same hedges took up to seconds.
    assert max(trigger_to_sent) < 1000 < max(from_opening)

    capsys.readouterr()
    assert main(["report", "--db", db_url, "--run", str(run_id), "--format", "json"]) == 0
    section = json.loads(capsys.readouterr().out)["legs"]
    hedged = {(r["venue"], r["side"]): r for r in section["rows"] if r["purpose"] == "hedge"}
    assert hedged
    for (venue, side), row in hedged.items():
        own = [ms for leg, ms in zip(answers, trigger_to_sent, strict=True)
               if (leg.venue, leg.side, leg.purpose) == (venue, side, "hedge")]
        assert D(row["median trigger->sent ms"]) == median(own)


@dataclass(frozen=True, slots=True)
class InventoryChange:
    """The change one fill made to one asset on its venue, and the running total since the run started: a
    row of ``v_inventory_from_fills``."""

    venue: str
    asset: str
    ts: datetime
    fill_id: int
    delta: D
    net_change: D


def _inventory_changes(session: Session, run_id: int) -> list[InventoryChange]:
    """Per fill, its change to each asset of its venue (``arb.inventory.fill_deltas``, the one definition),
    with the running net change per venue and asset."""
    stmt = (select(Fill, Order.side, Order.symbol).join(Order, Fill.order_id == Order.id)
            .where(Order.run_id == run_id).order_by(Fill.ts, Fill.id))
    running: dict[tuple[str, str], D] = defaultdict(D)
    out = []
    for fill, side, symbol in session.execute(stmt):
        flow = FillFlow(fill.venue, symbol, side, fill.price, fill.amount, fill.fee, fill.fee_currency)
        for asset, delta in fill_deltas(flow):
            running[(fill.venue, asset)] += delta
            out.append(InventoryChange(fill.venue, asset, fill.ts, fill.id, delta, running[(fill.venue, asset)]))
    return out


def test_inventory(engine: Engine, session_factory: sessionmaker[Session], runs: tuple[int, int]) -> None:
    with session_factory() as s:
        changes = _inventory_changes(s, runs[0])
        other = _inventory_changes(s, runs[1])
        checked = {run: {(r.venue, r.asset): r.implied for r in repo.inventory_check(s, run)} for run in runs}
    final = {(c.venue, c.asset): c.net_change for c in changes}
    assert final == {
        ("binance", "LINK"): D("7"),
        ("binance", "USDT"): D("-140.10032"),
        ("huobi", "LINK"): D("-7.005"),
        ("huobi", "USDT"): D("140.5592"),
    }
    assert {(c.venue, c.asset): c.net_change for c in other} == {
        ("gate", "ETH"): 1,
        ("gate", "USDT"): -10,
        ("gate", "GT"): D("-0.01"),
    }
    assert {key: checked[runs[0]][key] for key in final} == final  # what arb report's inventory check reads

    got = _view(engine, "v_inventory_from_fills", runs[0], "ts, fill_id, asset")
    want = sorted(changes, key=lambda c: (c.ts, c.fill_id, c.asset))
    _assert_rows_match(engine, got, want, ["venue", "asset", "fill_id", "delta", "net_change"])

    snaps = _view(engine, "v_inventory_snapshots", runs[0], "ts, asset")
    assert [(r["asset"], D(str(r["total"]))) for r in snaps] == [
        ("LINK", 0), ("USDT", 1000), ("LINK", 10), ("USDT", D("799.79992")),
    ]  # fmt: skip


def test_views_scoped_to_run(engine: Engine, runs: tuple[int, int]) -> None:
    """Run 2's rows hold only run 2's venues; it has no rejections, no balance snapshots and no perpetual
    (its positions: tests/report/test_perp_views.py)."""
    empty = {"v_opportunity_rejections", "v_inventory_snapshots", "v_positions_from_fills"}
    for name in views.VIEW_NAMES:
        rows = _view(engine, name, runs[1], "run_id")
        assert bool(rows) == (name not in empty), name
        if name == "v_run_pnl":  # one row per run, no venue
            assert [r["run_id"] for r in rows] == [runs[1]]
            continue
        venues = {row.get("venue") or row.get("buy_venue") for row in rows}
        assert venues <= {"gate", "okx"}, (name, venues)


def test_downgrade_drops_views_and_keeps_tables(db_url: str) -> None:
    migrate.upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        assert set(views.VIEW_NAMES) <= set(inspect(engine).get_view_names())
        migrate.downgrade(db_url, "0002")
        engine.dispose()
        assert "v_run_pnl" not in inspect(engine).get_view_names()
        assert "v_opportunity_pnl" in inspect(engine).get_view_names()  # 0002's own, recreated
        migrate.downgrade(db_url, "0001")
        engine.dispose()
        assert not set(views.VIEW_NAMES) & set(inspect(engine).get_view_names())
        assert "fills" in inspect(engine).get_table_names()
        migrate.upgrade_to_head(db_url)
        engine.dispose()
        assert set(views.VIEW_NAMES) <= set(inspect(engine).get_view_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("start", "end", "ms"),
    [(None, None, None), ("2021-08-20T00:00:00+00:00", "2021-08-20T00:00:01.234567+00:00", D("1234.567"))],
)
def test_elapsed_ms_is_exact(start: str | None, end: str | None, ms: D | None) -> None:
    from datetime import datetime

    parse = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
    assert views.elapsed_ms(parse(start), parse(end)) == ms

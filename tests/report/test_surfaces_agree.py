"""One truth for money: every surface shows the same PnL for the same run.

Executed pairs are driven through the paper venue and the Gate sandbox (real HTTP on loopback) covering
full and partial fills, each leg policy, buy fees in base and in quote, nothing filled and the shipped fee
tiers. For every scenario, on SQLite and PostgreSQL:

run summary (what ``arb run`` stores and prints) = ``arb report`` (table, csv, json) = ``arb trades`` (csv,
json) = ``v_run_pnl`` and ``v_opportunity_pnl`` = the README's PnL query = an independent recomputation from
the fills and each opportunity's ``mark_price``: exactly in the stored summary, the json of the commands and
on PostgreSQL; within 1e-9 on SQLite, whose views sum the stored decimals as floats; and what people read
(the printed summary, tables and csv) is the exact figure rounded to the places the run's market rules give
(``arb.display``; the shipped config's, so USDT at 6 places).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from arb.cli import main
from arb.config import DEFAULT_CONFIG, load_config
from arb.display import Precision, money
from arb.domain.market import Symbol
from arb.execution.imbalance import ImbalancePolicy
from arb.runtime.summary import render_summary, run_totals
from arb.store.models import Fill, Opportunity, Order, Run
from arb.store.repo import end_run, jsonable
from tests.execution.harness import SYMBOL, Opp
from tests.execution.test_executor import Rig
from tests.execution.test_executor_sandbox import Pair

D = Decimal
README = Path(__file__).resolve().parents[2] / "README.md"
SHIPPED = {"buy": "0.00032", "sell": "0.000175"}  # HTX tier 9, Gate VIP 16 (config.toml)

Scenario = Callable[[sessionmaker[Session], Path], Awaitable[int]]


async def _paper(sessions: sessionmaker[Session], tmp_path: Path, *, beta_bids: list[tuple[str, str]] | None = None,
                 alpha_asks: list[tuple[str, str]] | None = None, policy: ImbalancePolicy = ImbalancePolicy.UNWIND,
                 buy_fee_in: str = "quote", fee: str | None = None, pairs: int = 1) -> int:
    kw: dict[str, object] = {}
    if beta_bids is not None:
        kw["beta_bids"] = beta_bids
    if alpha_asks is not None:
        kw["alpha_asks"] = alpha_asks
    rig = Rig(sessions, tmp_path, policy=policy, buy_fee_in=buy_fee_in, **kw)  # type: ignore[arg-type]
    opp = Opp()
    if fee is not None:  # the shipped tiers: each paper venue charges its own rate
        rig.alpha.inner.config = rig.alpha.inner.config.__class__(fee_rate=D(SHIPPED["buy"]), buy_fee_in="base")  # type: ignore[attr-defined]
        rig.beta.inner.config = rig.beta.inner.config.__class__(fee_rate=D(SHIPPED["sell"]))  # type: ignore[attr-defined]
        # Buy 2 @ 20 (fee 0.00064 LINK), sell 2 @ 20.20 (fee 0.00707 USDT): 40.39293 - 40 - 0.00064 * mark.
        mark = D("19.95") * (1 - D(SHIPPED["buy"]))
        opp = Opp(buy_fee_rate=D(SHIPPED["buy"]), sell_fee_rate=D(SHIPPED["sell"]), mark_price=mark,
                  expected_profit=D("0.39293") - D("0.00064") * mark)
    for _ in range(pairs):
        result = await rig.executor.execute(opp)
        assert result.executed
    return rig.run_id


async def _sandbox(sessions: sessionmaker[Session], _tmp: Path, *, policy: ImbalancePolicy,
                   sell_bids: list[tuple[str, str]]) -> int:
    async with Pair(sessions, policy) as p:
        p.sb_a.push_book("LINK_USDT", [("19.95", "50")], [("20.00", "5")])
        p.sb_b.push_book("LINK_USDT", sell_bids, [("20.30", "50")])
        result = await p.executor.execute(Opp(buy_venue="gate_a", sell_venue="gate_b"))
        assert result.executed
        return p.run_id


PARTIAL = [("20.20", "1.25"), ("20.10", "50")]
SCENARIOS: dict[str, Scenario] = {
    "paper-full-quote-fee": lambda s, t: _paper(s, t, pairs=2),
    "paper-full-base-fee": lambda s, t: _paper(s, t, buy_fee_in="base"),
    "paper-shipped-fee-tiers": lambda s, t: _paper(s, t, fee="shipped"),
    "paper-partial-unwind": lambda s, t: _paper(s, t, beta_bids=[("20.20", "1.25"), ("19.00", "50")]),
    "paper-partial-complete": lambda s, t: _paper(s, t, beta_bids=PARTIAL, policy=ImbalancePolicy.COMPLETE),
    "paper-partial-halt": lambda s, t: _paper(s, t, beta_bids=[("20.20", "1.25")], policy=ImbalancePolicy.HALT),
    "paper-base-fee-unwind": lambda s, t: _paper(s, t, beta_bids=PARTIAL, buy_fee_in="base"),
    "paper-nothing-filled": lambda s, t: _paper(s, t, alpha_asks=[("20.50", "5")], beta_bids=[("19.00", "5")],
                                                policy=ImbalancePolicy.HALT),
    "sandbox-full": lambda s, t: _sandbox(s, t, policy=ImbalancePolicy.UNWIND, sell_bids=[("20.20", "5")]),
    "sandbox-partial-unwind": lambda s, t: _sandbox(s, t, policy=ImbalancePolicy.UNWIND, sell_bids=PARTIAL),
    "sandbox-partial-complete": lambda s, t: _sandbox(s, t, policy=ImbalancePolicy.COMPLETE, sell_bids=PARTIAL),
    "sandbox-partial-halt": lambda s, t: _sandbox(s, t, policy=ImbalancePolicy.HALT, sell_bids=PARTIAL),
}


def _recompute(session: Session, run_id: int) -> tuple[Decimal, Decimal]:
    """(expected, realized) from the fills, each opportunity's plan and mark price, written out again here:
    the base the plan meant to leave (its filled share) at the mark, the rest (an open position) at the
    average price of the side it came from."""
    expected = realized = D(0)
    for opp in session.scalars(select(Opportunity).where(Opportunity.run_id == run_id,
                                                         Opportunity.decision == "executed")):
        sym = Symbol.parse(opp.symbol)
        quote = base = D(0)
        entry: dict[str, D] = {}
        filled = {"buy": D(0), "sell": D(0)}
        sides: dict[str, list[tuple[D, D]]] = {"buy": [], "sell": []}
        base_fee = False
        for order in session.scalars(select(Order).where(Order.opportunity_id == opp.id)):
            if order.purpose == "entry":
                entry[order.side] = order.amount
            for f in session.scalars(select(Fill).where(Fill.order_id == order.id)):
                sign = 1 if order.side == "sell" else -1
                quote += sign * f.price * f.amount - (f.fee if f.fee_currency == sym.quote else 0)
                base += -sign * f.amount - (f.fee if f.fee_currency == sym.base else 0)
                sides[order.side].append((f.price, f.amount))
                if order.purpose == "entry":
                    filled[order.side] += f.amount
                    base_fee |= order.side == "buy" and f.fee_currency == sym.base
        assert opp.mark_price is not None
        share = min(filled["buy"] / entry["buy"], filled["sell"] / entry["sell"])
        planned = share * (entry["buy"] - entry["sell"] - (entry["buy"] * opp.buy_fee_rate if base_fee else 0))
        left = (base - planned).quantize(D("1e-12"), ROUND_HALF_EVEN)
        fills = sides["buy" if left > 0 else "sell"]
        cost = sum((p * a for p, a in fills), D(0)) / sum((a for _, a in fills), D(0)) if left else D(0)
        expected += opp.expected_profit
        realized += (quote + planned * opp.mark_price + left * cost).quantize(D("1e-12"), ROUND_HALF_EVEN)
    return expected, realized


def _close(value: object, exact: Decimal, engine: Engine) -> bool:
    if engine.dialect.name == "postgresql":
        return D(str(value)) == exact
    return abs(D(str(value)) - exact) <= D("1e-9") * max(D(1), abs(exact))


def _readme_pnl_query() -> str:
    (query,) = [q for q in re.findall(r"```sql\n(.*?)```", README.read_text(), re.S) if "AS realized" in q]
    return query


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_every_surface_shows_the_same_pnl(name: str, db_url: str, engine: Engine,
                                                session_factory: sessionmaker[Session], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_id = await SCENARIOS[name](session_factory, tmp_path)
    snapshot = load_config(DEFAULT_CONFIG).snapshot()  # the shipped market rules: what display rounds to
    with session_factory.begin() as s:
        s.get_one(Run, run_id).config_snapshot = jsonable(snapshot)
        summary = run_totals(s, run_id)
        end_run(s, run_id, ended_at=datetime.now(UTC), summary=summary)
    shown = money(realized_pnl := summary["realized_pnl"], places := Precision.from_snapshot(snapshot).pnl())
    assert places == 6 and abs(D(shown) - realized_pnl) <= D("0.0000005")
    # The engine adds its decision counters to the stored totals before printing; they do not matter here.
    funnel = dict.fromkeys(("book_updates", "evaluations", "crossed", "profitable_after_fees", "approved",
                            "executed", "rejected_total"), 0) | {"rejected": {}}
    printed = render_summary({**summary, "funnel": funnel}, Precision.from_snapshot(snapshot)).splitlines()
    assert f"realized pnl            {shown}" in printed
    expected, realized = summary["expected_profit"], summary["realized_pnl"]
    assert summary["unsettled"] == 0 and summary["fill_conflicts"] == 0
    parts = summary["pnl_attribution"]
    assert realized - expected == sum(parts.values())

    with session_factory() as s:
        assert _recompute(s, run_id) == (expected, realized)

    assert main(["report", "--run", str(run_id), "--db", db_url, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    totals = doc["pnl"]["totals"]
    assert (D(totals["expected_pnl"]), D(totals["realized_pnl"])) == (expected, realized)
    assert {k: D(totals[k]) for k in parts} == parts
    assert D(doc["run"]["summary"]["realized_pnl"]) == realized

    assert main(["report", "--run", str(run_id), "--db", db_url, "--format", "csv"]) == 0
    block = capsys.readouterr().out.split("# pnl\n")[1].split("\n\n")[0]
    header, *_rows, total = list(csv.reader(io.StringIO(block)))
    assert total[header.index("realized_pnl")] == shown

    assert main(["report", "--run", str(run_id), "--db", db_url]) == 0
    table = capsys.readouterr().out
    pnl_section = table.split("Expected vs realized PnL")[1].split("Fill ratio")[0].split("Open positions")[0]
    (pnl_total,) = [line for line in pnl_section.splitlines() if line.startswith("│ TOTAL")]
    assert shown in pnl_total.replace(" ", "").split("│")

    assert main(["trades", "--run", str(run_id), "--db", db_url, "--format", "json"]) == 0
    trades = json.loads(capsys.readouterr().out)["trades"]
    assert (D(trades["totals"]["expected_pnl"]), D(trades["totals"]["realized_pnl"])) == (expected, realized)
    assert sum(D(r["realized_pnl"]) for r in trades["rows"]) == realized
    assert main(["trades", "--run", str(run_id), "--db", db_url, "--format", "csv"]) == 0
    header, *_rows, total = list(csv.reader(io.StringIO(capsys.readouterr().out.split("# trades\n")[1])))[:-1]
    assert total[header.index("realized_pnl")] == shown

    with engine.connect() as conn:
        view = conn.execute(text("SELECT * FROM v_run_pnl WHERE run_id = :r"), {"r": run_id}).mappings().one()
        per_opp = conn.execute(text("SELECT SUM(realized_pnl) FROM v_opportunity_pnl WHERE run_id = :r"),
                               {"r": run_id}).scalar_one()
        readme = conn.execute(text(_readme_pnl_query())).mappings().all()
    assert _close(view["realized_pnl"], realized, engine) and _close(view["expected_pnl"], expected, engine)
    assert _close(per_opp, realized, engine)
    (row,) = readme
    assert row["symbol"] == SYMBOL and _close(row["realized"], realized, engine)
    for key in parts:
        assert _close(row[key.removeprefix("pnl_")], parts[key], engine), key


@pytest.fixture(scope="module")
def maker_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A maker run (``tests/engine/maker_capture.py``: Binance spot quoted on both sides, the USD-M perpetual
    hedging; only its asks fill, so its pairs buy on perp and sell on spot), replayed by ``arb run`` (once a
    session: ``maker_run_db``; this module only reads it)."""
    from tests.engine.maker_capture import maker_run_db

    return f"sqlite:///{maker_run_db(tmp_path_factory.mktemp('maker-surfaces'))}"


def test_every_surface_names_a_maker_route_buy_then_sell(maker_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from arb.display import ROUTE, route
    from arb.monitoring.dashboard.page import document
    from arb.store.db import make_reader_engine

    capsys.readouterr()
    engine = make_reader_engine(maker_db)
    try:
        with engine.connect() as c:
            stored = {(b, s) for b, s in c.execute(text(
                "SELECT buy_venue, sell_venue FROM opportunities WHERE strategy = 'maker'"))}
            quoted = {route(*((v, "perp") if side == "buy" else ("perp", v))) for side, v in c.execute(text(
                "SELECT DISTINCT side, venue FROM orders WHERE purpose = 'quote'"))}
            (summary,) = c.execute(text("SELECT summary FROM runs")).one()
        with sessionmaker(bind=engine).begin() as s:
            page = document(s, 1)
    finally:
        engine.dispose()
    pairs = {route(b, s) for b, s in stored}
    assert pairs == {"perp -> spot"} and quoted == {"spot -> perp", "perp -> spot"}

    assert main(["report", "--db", maker_db, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [maker] = doc["maker"]["rows"]
    # The maker row names the directions its quotes took, each as the pairs' rows name theirs.
    assert set(maker[ROUTE].split(", ")) == quoted
    assert {r[ROUTE] for r in doc["funnel"]["rows"]} == {r[ROUTE] for r in doc["pnl"]["rows"]} == pairs
    assert main(["report", "--db", maker_db, "--by", "route", "--format", "json"]) == 0
    by_route = json.loads(capsys.readouterr().out)["by_route"]
    assert pairs <= {r[ROUTE] for r in by_route["rows"]} <= quoted
    assert main(["trades", "--db", maker_db, "--format", "json"]) == 0
    assert {r[ROUTE] for r in json.loads(capsys.readouterr().out)["trades"]["rows"]} == pairs
    [stored_maker] = json.loads(summary)["maker"]
    [page_maker] = page["maker"]["routes"]
    assert stored_maker["route"] == page_maker["route"] == maker[ROUTE]
    assert {t["route"] for t in page["trades"]} == pairs
    assert main(["report", "--db", maker_db]) == 0
    table = capsys.readouterr().out
    assert "maker -> taker" not in table and f"BTC/USDT │ {maker[ROUTE]}" in table.replace("  ", " ")


def test_by_route_counts_a_maker_route_s_quotes_not_detection(maker_db: str, db_url: str, runs: tuple[int, int],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A maker route's row in ``arb report --by route``: its quotes placed (each in its direction: a bid buys on
    the maker venue, an ask on the taker), those filled and its pairs' hedges, every quote in a row, filled or
    not; seen and rejected (detection's) blank. A taker run's view is as it was."""
    from arb.display import ROUTE, route
    from arb.store.db import make_reader_engine

    capsys.readouterr()
    engine = make_reader_engine(maker_db)
    try:
        with engine.connect() as c:
            placed = {side: n for side, n in c.execute(text(
                "SELECT side, count(*) FROM orders WHERE purpose = 'quote' GROUP BY side"))}
            filled = {side: n for side, n in c.execute(text(
                "SELECT o.side, count(DISTINCT o.id) FROM orders o JOIN fills f ON f.order_id = o.id "
                "WHERE o.purpose = 'quote' GROUP BY o.side"))}
            hedges = {label: n for label, n in c.execute(text(
                "SELECT p.buy_venue || ' -> ' || p.sell_venue, count(*) FROM orders o JOIN opportunities p "
                "ON p.id = o.opportunity_id WHERE o.purpose = 'hedge' GROUP BY 1"))}
    finally:
        engine.dispose()
    assert main(["report", "--db", maker_db, "--by", "route", "--format", "json"]) == 0
    rows = {r[ROUTE]: r for r in json.loads(capsys.readouterr().out)["by_route"]["rows"]}
    bids, asks = route("spot", "perp"), route("perp", "spot")
    assert set(rows) == {bids, asks}
    for label, side in ((bids, "buy"), (asks, "sell")):
        row = rows[label]
        assert (row["seen"], row["rejected"]) == (None, None)
        assert (row["quotes"], row["quotes_filled"], row["hedges"]) == (
            placed[side], filled.get(side, 0), hedges.get(label, 0))
    assert rows[bids]["quotes"] > 0 and rows[bids]["quotes_filled"] == 0  # bids placed, none filled: still shown
    assert main(["report", "--db", maker_db, "--by", "route"]) == 0
    table = capsys.readouterr().out
    assert "of no opportunity" not in table and "never filled" not in table
    assert main(["report", "--db", maker_db, "--by", "symbol"]) == 0  # no route to put an unfilled quote in
    unfilled = placed["buy"] + placed["sell"] - filled["sell"]
    assert f"{unfilled} maker quotes that never filled" in " ".join(capsys.readouterr().out.split())

    # A taker run: the same columns as before, seen and rejected counted.
    assert main(["report", "--db", db_url, "--run", str(runs[0]), "--by", "route", "--format", "json"]) == 0
    taker = json.loads(capsys.readouterr().out)["by_route"]
    assert list(taker["totals"]) == ["symbol", ROUTE, "seen", "rejected", "executed", "orders", "fills",
                                     "realized_pnl", "unrealized_pnl", *[c for c in taker["totals"] if c.startswith("fees_")]]
    assert all(isinstance(r["seen"], int) for r in taker["rows"])

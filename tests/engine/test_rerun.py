"""The shipped config run three times, as separate processes, into one database: no fill lost to a trade id
an earlier run already stored, every order's ``filled`` backed by its fills, and all three runs show the
same realized PnL (stored settlement, summary and printed line alike).

The capture is the shipped one cut to 00:42-00:43: the shipped config's only trade in the whole two hours
is at 00:42:40, so the minute around it trades exactly as the whole capture does (the test asserts that
every run filled), in a fraction of the time."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text

from arb.display import money

from .helpers import config_with, summary_number, trimmed_capture
from .procs import Proc


def test_three_runs_into_one_database_keep_every_fill(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:42:00", "00:43:00")
    config_with(tmp_path, extra={  # the shipped config as it is (fees too), on the minute that trades
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"'})
    db = f"sqlite:///{tmp_path / 'arb.db'}"
    summaries = []
    for _ in range(3):
        proc = Proc(["run", "--db", db], cwd=tmp_path)
        assert proc.finish(300) == 0, proc.text()
        summaries.append("".join(proc.out))
    with create_engine(db).connect() as c:
        runs = [r for (r,) in c.execute(text("SELECT id FROM runs ORDER BY id"))]
        fills = c.execute(text(
            "SELECT o.run_id, o.venue, o.side, f.trade_id, f.price, f.amount, f.fee, f.fee_currency "
            "FROM fills f JOIN orders o ON o.id = f.order_id ORDER BY f.id")).all()
        orders = c.execute(text("SELECT id, filled FROM orders")).all()
        fill_amounts = c.execute(text("SELECT order_id, amount FROM fills")).all()
        conflicts = c.execute(text("SELECT count(*) FROM fill_conflicts")).scalar()
        realized = c.execute(text("SELECT run_id, realized_pnl FROM v_run_pnl ORDER BY run_id")).all()
        stored = c.execute(text("SELECT run_id, realized_pnl FROM opportunities WHERE decision = 'executed' "
                                "ORDER BY run_id")).all()
        run_summaries = [json.loads(s) for (s,) in c.execute(text("SELECT summary FROM runs ORDER BY id"))]
    assert len(runs) == 3 and conflicts == 0
    by_run: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    for row in fills:
        by_run[row.run_id].append((row.venue, row.side, *(str(Decimal(v)) for v in (row.price, row.amount, row.fee)),
                                   row.fee_currency))
    for run_id, out in zip(runs, summaries, strict=True):
        assert by_run[run_id], f"run {run_id} stored no fills:\n{out}"
        assert len(by_run[run_id]) == int(summary_number(out, "fills"))
    # The same capture trades the same way each time: every run's fills are all there, under new trade ids.
    assert by_run[runs[0]] == by_run[runs[1]] == by_run[runs[2]]
    assert len({(row.venue, row.trade_id) for row in fills}) == len(fills)
    summed: dict[int, Decimal] = defaultdict(Decimal)
    for order_id, amount in fill_amounts:
        summed[order_id] += Decimal(amount)
    assert orders and all(Decimal(filled) == summed[order_id] for order_id, filled in orders)
    # Same data, same trades, same money: every run settles to the same exact realized PnL, everywhere.
    assert [r for r, _ in realized] == runs and len({Decimal(str(v)) for _, v in realized}) == 1
    per_run = {run_id: Decimal(v) for run_id, v in stored}
    assert len(set(per_run.values())) == 1 and Decimal(0) not in per_run.values()
    for run_id, summary, out in zip(runs, run_summaries, summaries, strict=True):
        assert Decimal(summary["realized_pnl"]) == per_run[run_id]
        assert summary_number(out, "realized pnl") == money(per_run[run_id])

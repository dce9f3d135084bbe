"""``arb sweep``'s table keeps every figure whole at any terminal width, as ``arb report``'s tables do: a table
wider than the terminal is printed at its own width (the terminal wraps its lines), never squeezed into
``0.46…`` (at 80 columns a maker sweep's nine columns and a capture path cut the PnL columns short)."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pytest

from arb.commands.sweep import print_table
from arb.commands.tables import table_console
from arb.display import money
from arb.sweep.grid import capture_label
from arb.sweep.results import MakerTotals, PointResult, PointTotals
from arb.sweep.run import SweepResult

CAPTURE = "/home/trader/captures/binance-spot-and-usdm-btcusdt-2024-08-08-2354-to-2400.jsonl.gz"
POINTS = [
    PointResult(0, {"capture": CAPTURE, "latency_ms": "5", "min_profit_bps": "0.5"}, run_id=1),
    PointResult(1, {"capture": CAPTURE, "latency_ms": "50", "min_profit_bps": "0.5"}, run_id=2),
    PointResult(2, {"capture": CAPTURE, "latency_ms": "500", "min_profit_bps": "0.5"}, error="worker lost"),
]
TOTALS = {
    1: PointTotals(30, D("0.603550123456"), D("0.465626395123"), 0, MakerTotals(109, 30, 43, D("-0.128234567"))),
    2: PointTotals(20, D("1234567.413656"), D("-1234567.248028"), 0, MakerTotals(82, 20, 29, D("-0.1442"))),
}


@pytest.mark.parametrize("columns", ["40", "80", "200"])
def test_every_figure_of_a_sweep_table_is_printed_whole(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    out = io.StringIO()
    print_table(SweepResult(7, POINTS), TOTALS, table_console(out))  # the console `arb sweep` prints on
    text = out.getvalue()
    assert "…" not in text, text
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]
    assert [r[0] for r in rows] == [capture_label(CAPTURE)] * 3
    for row, run_id in zip(rows, (1, 2), strict=False):
        t = TOTALS[run_id]
        assert t.maker is not None
        assert row[3:] == [str(run_id), str(t.maker.quotes), str(t.maker.quotes_filled), str(t.maker.hedges),
                           money(t.maker.adverse), str(t.executed), money(t.expected), money(t.realized)], row
    assert rows[2][-3:] == ["failed", "-", "worker lost"]

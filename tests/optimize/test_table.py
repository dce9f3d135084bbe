"""``arb optimize``'s table keeps every figure whole at any terminal width, as the sweep's and the report's do
(``tables.print_in_full``), and says what a fold lacks: a failed out-of-sample replay, a fold stopped before
it was scored."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pytest

from arb.commands.optimize import print_table
from arb.commands.tables import table_console
from arb.display import money
from arb.optimize.run import Fold, OptimizeResult, Replay, TrialResult
from arb.sweep.grid import value_label
from arb.sweep.results import PointTotals

DAYS = "/home/trader/captures/binance-spot-and-usdm-btcusdt-2024-08-0{}.jsonl.gz"
POINT = {"fee": "0.0003", "min_edge_bps": "0.49988250082555996", "leg_policy": "complete"}


def _fold(number: int, realized: D, out: Replay | None) -> Fold:
    fold = Fold(number, f"optimize-7-fold-{number}", DAYS.format(number), DAYS.format(number + 1))
    train = {**POINT, "capture": fold.train}
    fold.trials = [TrialResult(0, Replay(train, 11, PointTotals(3, D("1"), realized - 1, 0)), realized - 1),
                   TrialResult(1, Replay(train, 12, PointTotals(5, D("2"), realized, 0)), realized),
                   TrialResult(2, Replay(train, error="worker lost"), None)]
    fold.out_of_sample = out
    return fold


@pytest.mark.parametrize("columns", ["40", "80", "200"])
def test_every_figure_of_an_optimisation_table_is_printed_whole(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    result = OptimizeResult(7, "realized", 3, 1, [
        _fold(1, D("1234567.413656"), Replay({**POINT, "capture": DAYS.format(2)}, 13,
                                             PointTotals(2, D("0.6"), D("-0.248028123"), 0))),
        _fold(2, D("0.465626395123"), Replay({**POINT, "capture": DAYS.format(3)}, error="ValidationError: x")),
        _fold(3, D("0.1"), None),
    ])
    out = io.StringIO()
    print_table(result, list(POINT), "sqlite:///study.db", table_console(out), stopped=True)
    text = out.getvalue()
    assert "…" not in text, text
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]
    assert [r[:6] for r in rows] == [
        [str(k), value_label("capture", DAYS.format(k)), value_label("capture", DAYS.format(k + 1)), f"optimize-7-fold-{k}",
         "3 (1 failed)", "#1"] for k in (1, 2, 3)]
    assert rows[0][6:] == [*POINT.values(), "12", money(D("1234567.413656")), "13", money(D("-0.248028123"))]
    assert rows[1][-2:] == ["failed", "ValidationError: x"]
    assert rows[2][-2:] == ["-", "-"]
    assert "stopped: what was finished" in text
    assert 'optuna.load_study(study_name="optimize-7-fold-1", storage="sqlite:///study.db")' in text

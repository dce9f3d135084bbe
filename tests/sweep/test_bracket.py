"""The sweep's bracket (``arb/sweep/bracket.py``, pure): per strategy setting, realized PnL over the latency and
queue-model points the grid varied: central (the lower median), low and high; failed points left out and
counted."""

from __future__ import annotations

from decimal import Decimal as D

from arb.sweep.bracket import brackets, varied_assumptions


def test_each_strategy_setting_is_bracketed_by_the_assumptions_the_grid_varied() -> None:
    points = [{"fee": f, "latency_ms": ms, "queue_model": q} for f in ("0", "0.001") for ms in (1, 20)
              for q in ("conservative", "log")]
    realized = [D("3.54"), D("3.9"), D("2.23"), D("2.5"), D("-1"), None, D("-2"), D("0.5")]
    assert varied_assumptions(points) == ["latency_ms", "queue_model"]
    cheap, dear = brackets(points, realized)
    assert (cheap.setting, cheap.points, cheap.failed) == ((("fee", "0"),), 4, 0)
    assert (cheap.low, cheap.central, cheap.high) == (D("2.23"), D("2.5"), D("3.9"))
    assert (dear.setting, dear.points, dear.failed) == ((("fee", "0.001"),), 3, 1)
    assert (dear.low, dear.central, dear.high) == (D("-2"), D("-1"), D("0.5"))


def test_a_grid_that_varies_no_assumption_has_nothing_to_bracket() -> None:
    points = [{"fee": "0", "latency_ms": 5}, {"fee": "0.001", "latency_ms": 5}]
    assert varied_assumptions(points) == [] and brackets(points, [D(1), D(2)]) == []


def test_a_setting_none_of_whose_points_ran_has_no_figures() -> None:
    [b] = brackets([{"queue_model": "log"}, {"queue_model": "power"}], [None, None])
    assert (b.setting, b.points, b.failed, b.low, b.central, b.high) == ((), 0, 2, None, None, None)

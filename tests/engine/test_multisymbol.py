"""Batched detection in the decision loop: a replay of many symbols decides exactly as one symbol at a time.

The workload is ``bench/bench_multisymbol.py``'s: the bundled capture's books cloned into several symbols
on several venues (prices scaled per symbol, shifted per venue so pairs cross), so each capture instant
makes many symbols dirty at once, and low fees so pairs execute and move balances mid-instant.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.detection.core import BATCH_FROM
from arb.engine import Engine, RunResult
from arb.runtime.decisions import DecisionLoop
from arb.runtime.detector import Pending
from arb.runtime.status import StatusReporter

from .helpers import bench_module


def _bench() -> ModuleType:
    return bench_module("bench_multisymbol")


class CountingLoop(DecisionLoop):
    """The batched loop, recording how many symbols each detection call took."""

    sizes: list[int]

    def detect_all(self, symbols: list[str]) -> list[Pending]:
        type(self).sizes.append(len(symbols))
        return super().detect_all(symbols)


class PerSymbolLoop(CountingLoop):
    batched = False
    sizes = []


class BatchedLoop(CountingLoop):
    sizes = []


def _run(tmp_path: Path, config_path: Path, loop: type[DecisionLoop], name: str) -> tuple[RunResult, list[Any]]:
    engine = Engine(load_config(config_path), db_url=f"sqlite:///{tmp_path / name}", force_paper=True,
                    mode="replay", status=StatusReporter("off"), install_signal_handlers=False)
    engine.decision_loop = loop
    result = engine.main()
    with create_engine(f"sqlite:///{tmp_path / name}").connect() as c:
        rows = c.execute(text(
            "SELECT symbol, decision, reason, buy_venue, sell_venue, size, expected_profit, "
            "detected_at FROM opportunities")).all()
        orders = c.execute(text("SELECT venue, symbol, side, amount, status FROM orders ORDER BY id")).all()
    # Rejections reach the table through the batched writer, whose flushes interleave with the executor's
    # own writes by wall time: compare the decisions by market time, not by row id.
    return result, [*sorted(rows, key=str), *orders]


def test_batched_detection_decides_as_one_symbol_at_a_time(tmp_path: Path) -> None:
    # Little quote per venue: a pair executed for one symbol leaves less for the next symbol of the instant.
    # Ten symbols: from BATCH_FROM (8) on, a batch is detected on the detector's tracked rows.
    config = _bench().write_workload(tmp_path, symbols=10, venues=4, minutes=1.0, fee="0.0001",
                                     quote_balance="400")
    per_symbol, per_symbol_rows = _run(tmp_path, config, PerSymbolLoop, "one.db")
    batched, batched_rows = _run(tmp_path, config, BatchedLoop, "many.db")
    assert batched.funnel == per_symbol.funnel
    assert batched_rows == per_symbol_rows
    assert batched.hot_path.summary_us()["count"] == per_symbol.hot_path.summary_us()["count"]

    assert set(PerSymbolLoop.sizes) == {1}
    assert max(BatchedLoop.sizes) == 10  # every symbol of an instant in one call...
    assert len(BatchedLoop.sizes) < len(PerSymbolLoop.sizes)
    # ...and some batches were cut short by an execution, their remaining symbols detected again after it.
    assert per_symbol.funnel.executed > 0
    assert len(BatchedLoop.sizes) > len(PerSymbolLoop.sizes) / 10
    assert sum(size >= BATCH_FROM for size in BatchedLoop.sizes) > 10  # the tracked rows decided many

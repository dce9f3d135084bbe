"""``[execution] max_pairs_in_flight``: one symbol's pair no longer holds up the other symbols' decisions.

Ten symbols on four paper venues (20 ms each way), little quote per venue, a replay of the bundled capture:
with one pair at a time, every pair is decided after the one before it has ended; with two, a second
symbol's pair is decided at the same market instant as the first and runs alongside it, never two for one
symbol and never more than two at once, and every order still fills (the pairs in flight hold back their
funds from detection: ``tests/runtime/test_detector.py`` checks that part exactly).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine, RunResult
from arb.errors import ArbError
from arb.runtime.decisions import DecisionLoop
from arb.runtime.status import StatusReporter

from .helpers import bench_module


def _workload(tmp_path: Path, pairs: int) -> Path:
    config = bench_module("bench_multisymbol").write_workload(tmp_path, symbols=10, venues=4, minutes=1.0,
                                                              fee="0.0001", quote_balance="400")
    path = tmp_path / f"pairs-{pairs}.toml"
    path.write_text(config.read_text().replace("[execution]\n", f"[execution]\nmax_pairs_in_flight = {pairs}\n"))
    return path


def _run(tmp_path: Path, pairs: int, loop: type[DecisionLoop] = DecisionLoop) -> tuple[RunResult, list[Any], list[Any]]:
    db = tmp_path / f"pairs-{pairs}.db"
    engine = Engine(load_config(_workload(tmp_path, pairs)), db_url=f"sqlite:///{db}", force_paper=True,
                    mode="replay", status=StatusReporter("off"), install_signal_handlers=False)
    engine.decision_loop = loop
    result = engine.main()
    with create_engine(f"sqlite:///{db}").connect() as c:
        executed = c.execute(text("SELECT id, symbol, detected_at, settled_at FROM opportunities "
                                  "WHERE decision = 'executed' ORDER BY detected_at, id")).all()
        statuses = c.execute(text("SELECT DISTINCT status FROM orders")).all()
    return result, executed, statuses


def _overlapping(executed: list[Any]) -> list[tuple[Any, Any]]:
    return [(a, b) for a in executed for b in executed
            if a.id < b.id and a.detected_at < b.settled_at and b.detected_at < a.settled_at]


def test_a_second_symbol_trades_while_the_first_pair_is_in_flight(tmp_path: Path) -> None:
    one, one_executed, one_statuses = _run(tmp_path, 1)
    two, two_executed, two_statuses = _run(tmp_path, 2)
    assert not one.interrupted and not two.interrupted
    assert one.funnel.executed >= 4 and two.funnel.executed >= 4
    assert one_statuses == two_statuses == [("filled",)]  # no order refused for want of funds
    assert not _overlapping(one_executed)  # one at a time: each decided after the one before ended
    overlapping = _overlapping(two_executed)
    assert overlapping
    assert all(a.symbol != b.symbol for a, b in overlapping)  # one pair per symbol at a time
    # Never three at once: no pair overlaps two pairs that overlap each other.
    assert not any((a, c) in overlapping and (b, c) in overlapping for a, b in overlapping for c in two_executed)
    # The second pair did not wait: decided at the first one's market instant.
    assert any(a.detected_at == b.detected_at for a, b in overlapping)


class _FailingSecondPair(DecisionLoop):
    started = 0

    async def execute(self, opp: Any) -> None:
        type(self).started += 1
        if type(self).started == 2:
            raise RuntimeError("pair task broke")
        await super().execute(opp)


def test_a_pair_that_fails_in_its_task_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(ArbError, match="run 1 failed: RuntimeError: pair task broke"):  # one line, recorded
        _run(tmp_path, 2, _FailingSecondPair)

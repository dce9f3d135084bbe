"""A run on wall-clock time runs on uvloop (``eventloop/live_loop.py``), from the CLI's entry point to the end:
books, decisions, both legs of each pair over HTTP to the sandbox, the rows that say so, and Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import uvloop
from sqlalchemy import create_engine, text

from arb.engine import Engine, RunResult
from arb.runtime.status import StatusReporter

from .paper_rig import rehearsal_config

PAIRS = 3


class _CtrlCAfterTrades(Engine):
    """Notes the loop it runs on, and presses Ctrl-C once ``PAIRS`` pairs were executed."""

    loop_type: type | None = None

    async def run(self) -> RunResult:
        self.loop_type = type(asyncio.get_running_loop())

        async def interrupt() -> None:
            while self.funnel.executed < PAIRS:
                await asyncio.sleep(0.01)
            signal.raise_signal(signal.SIGINT)

        presser = asyncio.create_task(interrupt())
        try:
            return await super().run()
        finally:
            presser.cancel()


def test_a_wall_clock_run_trades_on_uvloop_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    config = rehearsal_config(tmp_path, "00:00", "01:20", speed=40)
    db = tmp_path / "live.db"
    engine = _CtrlCAfterTrades(config, db_url=f"sqlite:///{db}", status=StatusReporter("off"))
    assert not engine.simulated  # mode live: the clock is the wall's
    before = signal.getsignal(signal.SIGINT)
    result = engine.main()
    assert signal.getsignal(signal.SIGINT) is before  # the run's handler is gone with its loop
    assert engine.loop_type is uvloop.Loop
    assert result.interrupted and engine.state.stop_reason == "SIGINT"
    assert result.funnel.executed >= PAIRS
    with create_engine(f"sqlite:///{db}").connect() as c:
        entries, unresolved = c.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE o.status NOT IN ('filled', 'canceled', 'rejected'))"
            " FROM orders o JOIN opportunities p ON p.id = o.opportunity_id"
            " WHERE p.decision = 'executed' AND o.purpose = 'entry'")).one()
        created = c.execute(text("SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id "
                                 "WHERE e.to_status = 'created' AND o.purpose = 'entry'")).scalar()
        status = c.execute(text("SELECT status FROM runs WHERE id = :r"), {"r": result.run_id}).scalar()
    assert entries == 2 * result.funnel.executed and created == entries  # both legs of every pair, recorded
    assert unresolved == 0  # stopped after the pair in flight, never in the middle of one
    assert status == "completed"

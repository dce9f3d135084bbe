"""A halted run tells the truth: the leg policy halts on a naked leg (htx 1,500 ms away, leg_policy = halt),
and the run is ``halted`` (exit 3, the reason naming the open position), the naked leg is an open position
valued at the end's mid (unrealized), and realized PnL does not fold it in at a decision-time mark."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from arb.cli import main

from .helpers import halted_config as _config


def test_a_halted_run_is_halted_and_shows_its_open_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "halt.db"
    assert main(["run", "--config", str(_config(tmp_path)), "--db", f"sqlite:///{db}"]) == 3
    out, err = capsys.readouterr()
    with sqlite3.connect(db) as c:
        status, reason = c.execute("SELECT status, status_reason FROM runs").fetchone()
        rows = c.execute("SELECT o.id, o.realized_pnl, o.open_base, o.open_price, o.buy_venue, o.sell_venue "
                         "FROM opportunities o WHERE o.decision = 'executed' ORDER BY o.id").fetchall()
        fills = c.execute("SELECT o.opportunity_id, o.venue, o.side, f.price, f.amount, f.fee, f.fee_currency "
                          "FROM fills f JOIN orders o ON o.id = f.order_id").fetchall()
    halted_id, realized, open_base, open_price, buy_venue, sell_venue = rows[-1]
    open_base, open_price = Decimal(open_base), Decimal(open_price)
    venue = buy_venue if open_base > 0 else sell_venue
    assert status == "halted" and f"halted after opportunity {halted_id}" in reason
    assert f"open: {venue} {open_base.normalize():f} LINK at cost {open_price.normalize():f}" in reason
    assert err.strip().splitlines()[-1] == f"arb: halted: {reason}"  # one line on stderr, the run's reason
    # The naked leg is the whole of what the pair bought or sold on one venue, less its base fee.
    mine = [f for f in fills if f[0] == halted_id]
    assert {f[1] for f in mine} == {venue}
    base = sum(Decimal(a) * (1 if side == "buy" else -1) - (Decimal(fee) if cur == "LINK" else 0)
               for _, _, side, _, a, fee, cur in mine)
    assert base == open_base
    # Realized: only the cash the pair closed: its quote flow less quote fees, with the open base at its cost
    # (for a naked leg that is just its fees: never a profit).
    cash = sum(Decimal(p) * Decimal(a) * (-1 if side == "buy" else 1) - (Decimal(fee) if cur == "USDT" else 0)
               for _, _, side, p, a, fee, cur in mine)
    assert Decimal(realized) == (cash + open_base * open_price).quantize(Decimal("1e-12"))
    assert Decimal(realized) <= 0
    # The summary shows it open, with its unrealized PnL at the end's mid, and the equity beside realized.
    assert f"OPEN POSITION           {venue} " in out and "unrealized" in out and "(not in realized pnl)" in out
    assert "equity (realized + unrealized)" in out
    assert "stopped: halted after opportunity" in out


def test_the_report_shows_the_halted_runs_open_position_in_every_format(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'halt.db'}"
    assert main(["run", "--config", str(_config(tmp_path)), "--db", db]) == 3
    capsys.readouterr()
    assert main(["report", "--db", db, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (position,) = report["positions"]["rows"]
    run_summary = _summary(tmp_path / "halt.db")
    (stored,) = run_summary["open_positions"]
    assert position == {"venue": stored["venue"], "symbol": "LINK/USDT", "amount": stored["amount"],
                        "cost": stored["cost"], "mark": stored["mark"], "unrealized": stored["unrealized"]}
    assert main(["report", "--db", db]) == 0
    table = capsys.readouterr().out
    assert "Open positions at the run's end (not in realized pnl" in table and "equity = realized + unrealized" in table
    assert f"{stored['venue']} " in table.split("Open positions")[1].split("\n", 3)[3]
    assert "halted" in table.splitlines()[0]


def _summary(path: Path) -> dict:  # type: ignore[type-arg]
    with sqlite3.connect(path) as c:
        return json.loads(c.execute("SELECT summary FROM runs").fetchone()[0])

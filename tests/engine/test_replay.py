"""`arb replay` on the real bundled LINK/USDT capture: funnel, fees, the book-age rule, database totals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main
from arb.display import money

from .helpers import BUNDLED, config_with, ms, summary_number, trimmed_capture


def _replay(capsys: pytest.CaptureFixture[str], capture: Path, config: Path, db: str) -> str:
    assert main(["replay", str(capture), "--config", str(config), "--db", db]) == 0
    return capsys.readouterr().out


def test_retail_fees_find_crosses_but_trade_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    out = _replay(capsys, BUNDLED, config_with(tmp_path, fee="0.001"), db)
    assert int(summary_number(out, "book updates")) == 14_400
    assert int(summary_number(out, "crossed")) > 100
    assert int(summary_number(out, "executed")) == 0
    # The funnel says why: every crossed moment failed on fees (or on book age/health before that).
    assert int(summary_number(out, "  unprofitable_after_fees")) > 0
    assert int(summary_number(out, "profitable after fees")) == 0
    with create_engine(db).connect() as c:
        assert c.execute(text("SELECT count(*) FROM orders")).scalar() == 0
        assert c.execute(text("SELECT count(*) FROM opportunities WHERE decision='executed'")).scalar() == 0
        reasons = dict(c.execute(text("SELECT reason, count(*) FROM opportunities GROUP BY reason")).all())
    assert reasons["unprofitable_after_fees"] == int(summary_number(out, "  unprofitable_after_fees"))


def test_low_fees_execute_and_the_database_agrees_with_the_funnel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    out = _replay(capsys, BUNDLED, config_with(tmp_path, fee="0.0001"), db)
    executed = int(summary_number(out, "executed"))
    assert executed > 0
    with create_engine(db).connect() as c:
        run_id = c.execute(text("SELECT max(id) FROM runs")).scalar()
        assert c.execute(text("SELECT ended_at IS NOT NULL FROM runs WHERE id=:r"), {"r": run_id}).scalar()
        db_exec = c.execute(text("SELECT count(*) FROM opportunities WHERE decision='executed' AND run_id=:r"),
                            {"r": run_id}).scalar()
        db_rej = c.execute(text("SELECT count(*) FROM opportunities WHERE decision='rejected' AND run_id=:r"),
                           {"r": run_id}).scalar()
        entry_orders = c.execute(text("SELECT count(*) FROM orders WHERE purpose='entry' AND run_id=:r"),
                                 {"r": run_id}).scalar()
        fills = c.execute(text("SELECT count(*) FROM fills f JOIN orders o ON o.id=f.order_id WHERE o.run_id=:r"),
                          {"r": run_id}).scalar()
        expected = sum(Decimal(v) for (v,) in c.execute(
            text("SELECT expected_profit FROM opportunities WHERE decision='executed' AND run_id=:r"), {"r": run_id}))
        unfinished = c.execute(text("SELECT count(*) FROM orders WHERE status IN ('created','submitted','unknown')"
                                    " AND run_id=:r"), {"r": run_id}).scalar()
    assert db_exec == executed
    assert db_rej == int(summary_number(out, "rejected"))
    assert entry_orders == 2 * executed
    assert fills == int(summary_number(out, "fills")) and fills >= 2 * executed
    assert money(expected) == summary_number(out, "expected profit")
    assert unfinished == 0


def test_the_stale_cross_at_00_49_07_is_gone_now_that_each_instant_is_applied_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each venue's capture side is a snapshot once per second. Applied one event at a time, right after one
    # venue's snapshot the other venue's book was still the previous second's: a ~0.27% "cross" around
    # 00:49:07 existed only between a fresh and a 1 s old book (rejected as book_stale, 1000 ms old). Every
    # event of a timestamp is now applied before detection runs: no decision compares two instants.
    capture = trimmed_capture(tmp_path, "00:48:30", "00:49:30")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    _replay(capsys, capture, config_with(tmp_path, fee="0.0001"), db)
    lo, hi = ms("2021-08-20T00:49:06"), ms("2021-08-20T00:49:09")
    with create_engine(db).connect() as c:
        rows = c.execute(text("SELECT detected_at, decision, reason, detail FROM opportunities")).all()

    def at_ms(value: object) -> int:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)

    def gross_bps(detail: object) -> float:
        data = json.loads(detail) if isinstance(detail, str) else detail
        return float(data.get("gross_edge_bps", 0))

    assert rows, "the minute has crossed books"
    assert not [r for r in rows if r[2] == "book_stale"], rows
    window = [r for r in rows if lo <= at_ms(r[0]) < hi]
    assert window and all(gross_bps(r[3]) < 1 for r in window), window
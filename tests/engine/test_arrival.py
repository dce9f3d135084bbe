"""The arrival rule (``arb/runtime/arrival.py``): an order reaching a simulated venue at market time t meets
every market event at or before t. At a latency that lands the legs exactly on the capture's next snapshot
both venues (the Gate sandbox and the paper venue) fill at the *new* book; a millisecond sooner, at the old."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.marketdata.capture import CaptureEvent, CaptureTrade, CaptureWriter
from arb.runtime.summary import render_summary

from .helpers import config_with

T0 = 1_629_417_600_000


def _capture(path: Path) -> Path:
    """binance (gate's side) and huobi (htx's) cross at T0 by 20 bps, a second after a quiet first instant;
    one second later both move 1.5 bps against the pair, within its 2 bps slippage allowance, so the legs
    still fill, at the new prices; a second after that the cross is gone."""
    def snap(ts: int, venue: str, bid: str, ask: str) -> CaptureEvent:
        return CaptureEvent(ts, venue, "LINK/USDT", "snapshot", ((bid, "5"),), ((ask, "5"),))
    events = [snap(T0 - 1000, "binance", "19.990", "20.000"), snap(T0 - 1000, "huobi", "19.9900", "20.0000"),
              snap(T0, "binance", "19.990", "20.000"), snap(T0, "huobi", "20.0400", "20.0500"),
              snap(T0 + 1000, "binance", "19.990", "20.003"), snap(T0 + 1000, "huobi", "20.0370", "20.0500"),
              snap(T0 + 2000, "binance", "19.990", "20.000"), snap(T0 + 2000, "huobi", "19.9900", "20.0000")]
    with CaptureWriter(path) as writer:
        writer.write_all(events)
    return path


@pytest.mark.parametrize(("latency_ms", "gate_price", "htx_price"), [
    (1000, "20.003", "20.037"),  # arrives at T0 + 1000, with that instant's snapshots: the new book
    (999, "20.000", "20.04"),  # a millisecond before them: the book detection saw
])
async def test_an_order_arriving_at_a_snapshot_instant_meets_the_new_book(
        tmp_path: Path, latency_ms: int, gate_price: str, htx_price: str) -> None:
    capture = _capture(tmp_path / "aligned.jsonl")
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "latency_ms = 20 ": f"latency_ms = {latency_ms}\n#",
        'capture_venue = "binance"\n': f'capture_venue = "binance"\nlatency_ms = {latency_ms}\n',
    })
    db = f"sqlite:///{tmp_path / 'arrival.db'}"
    result = await Engine(load_config(path), db_url=db, install_signal_handlers=False).run()
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.venue, f.price, f.amount, f.ts FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE o.run_id = :r ORDER BY o.venue"), {"r": result.run_id}).all()
    assert [(v, Decimal(p), Decimal(a)) for v, p, a, _ in fills] == [
        ("gate", Decimal(gate_price), Decimal(5)), ("htx", Decimal(htx_price), Decimal(5))]
    # Each fill is stamped with its arrival: the decision's instant plus the trip out.
    assert {str(ts)[:23] for *_, ts in fills} == {f"2021-08-20 00:00:0{latency_ms // 1000}.{latency_ms % 1000:03d}"}


@pytest.mark.parametrize("trades", [0, 3])
async def test_the_summary_names_the_rule_resting_orders_fill_by(tmp_path: Path, trades: int) -> None:
    """With the capture's trades the queue rule; without any, only a crossing book fills a resting order."""
    capture = _capture(tmp_path / "plain.jsonl")
    if trades:
        lines = capture.read_bytes().splitlines()
        tape = [CaptureTrade(T0 + 500 + i, "binance", "LINK/USDT", "19.990", "1", "sell", str(i)).to_json()
                for i in range(trades)]
        capture.write_bytes(b"\n".join(lines[:4] + tape + lines[4:]) + b"\n")
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    result = await Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'rule.db'}",
                          install_signal_handlers=False).run()
    assert result.summary["market_trades"] == trades
    line = next(x for x in render_summary(result.summary).splitlines() if x.startswith("resting orders"))
    assert line.endswith(f"queue rule on {trades} recorded trades" if trades else
                         "fill only when the book crosses them (the capture has no trades)")

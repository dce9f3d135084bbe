"""End to end: ``arb record`` of Binance spot and a USD-M perpetual from loopback stubs (the perpetual's trades
and mark price on its ``/market`` connection), then ``arb run`` replaying that recording with a basis carry
(spot long, perpetual short, on paper venues): the perpetual's funding time, announced by the recorded funding
lines, passes while the carry is held, and the paper venue pays the position at the recorded mark and rate,
stored as one ``funding_payments`` row."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from binance_streams import MarketStub, mark_price, serving_in_thread, trade
from sqlalchemy import create_engine, text

from arb.cli import main
from arb.marketdata.capture import CaptureFunding, read_capture
from arb.venues.binance.markets import MARKETS
from tests.engine.test_basis import basis_config

EIGHT_HOURS_MS = 8 * 3600_000
FUNDING_AFTER_MS = 1000  # the funding time, after the perpetual's market streams connect
MARK, RATE, NEXT_RATE = "2003.00", "0.00010000", "0.00020000"


def test_a_recorded_perpetuals_funding_lines_pay_a_replayed_position_at_the_recorded_funding_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spot = MarketStub(MARKETS["spot"], "ETHUSDT", [["1999.99", "10"], ["1998.99", "10"]],
                      [["2000.01", "10"], ["2001.01", "10"]])
    # The perpetual 15 bps over spot all along: the basis opens to max_position and never closes.
    perp = MarketStub(MARKETS["usdm"], "ETHUSDT", [["2002.95", "10"], ["2001.95", "10"]],
                      [["2003.05", "10"], ["2004.05", "10"]])

    async def pump() -> None:
        """Both books every 50 ms; once the perpetual's market streams are connected, its mark every 100 ms
        announcing RATE for a funding time a second away, then, that time passed, NEXT_RATE eight hours on."""
        funding_at: int | None = None
        for n in range(10**6):
            now = int(time.time() * 1000)
            await spot.depth(now)
            await perp.depth(now)
            if funding_at is None and perp.sockets.get("/market/stream"):
                funding_at = now + FUNDING_AFTER_MS
            if funding_at is not None and n % 2 == 0:
                due, rate = (funding_at, RATE) if now < funding_at else (funding_at + EIGHT_HOURS_MS, NEXT_RATE)
                await perp.send("/market/stream", "markPrice@1s", mark_price("ETHUSDT", MARK, rate, due, now,
                                                                             index="2002.70"))
                await perp.send("/market/stream", "trade", trade("ETHUSDT", n, "2003.05", "0.1", False, now))
            await asyncio.sleep(0.05)

    capture = tmp_path / "rec.jsonl"
    with serving_in_thread([spot, perp], pump):
        assert main(["record", "--venues", "binance,binanceusdm", "--symbols", "ETH/USDT", "--out", str(capture),
                     "--duration", "2.5", "--endpoint", f"binance={spot.url},{spot.ws_url}",
                     "--endpoint", f"binanceusdm={perp.url},{perp.ws_url}"]) == 0
    said = capsys.readouterr().out.strip().splitlines()[-1]
    lines = list(read_capture(capture, trades=True))
    funding = [line for line in lines if isinstance(line, CaptureFunding)]
    trades = sum(line.type == "trade" for line in lines)
    assert said == f"recorded {len(lines)} events ({trades} trades, {len(funding)} funding lines) to {capture}"
    assert trades > 0 and {(f.venue, f.symbol, f.mark, f.index) for f in funding} == {
        ("binanceusdm", "ETH/USDT", MARK, "2002.70")}
    funding_at = funding[0].funding_ts
    assert funding[0].ts < funding_at <= funding[-1].ts  # the recording spans the funding time ...
    assert [f.rate for f in funding if f.funding_ts == funding_at] and all(
        f.rate == (RATE if f.funding_ts == funding_at else NEXT_RATE) for f in funding)  # ... and the next is announced

    db = f"sqlite:///{tmp_path / 'replay.db'}"
    assert main(["run", "--config", str(basis_config(tmp_path, capture)), "--db", db]) == 0
    capsys.readouterr()
    with create_engine(db).connect() as c:
        paid = c.execute(text("SELECT venue, symbol, ts, rate, mark, position, amount, currency "
                              "FROM funding_payments")).all()
        fills = c.execute(text("SELECT o.side, f.amount, f.ts FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE o.venue = 'perp'")).all()
    at = datetime.fromtimestamp(funding_at / 1000, UTC)
    held = sum((D(a) if side == "buy" else -D(a) for side, a, ts in fills if _utc(ts) <= at), D(0))
    [(venue, symbol, ts, rate, mark, position, amount, currency)] = paid  # paid once, at the recorded time
    assert (venue, symbol, _utc(ts), D(rate), D(mark), currency) == ("perp", "ETH/USDT", at, D(RATE), D(MARK), "USDT")
    assert D(position) == held < 0  # the carry's short perpetual
    assert D(amount) == -held * D(MARK) * D(RATE) > 0  # a positive rate: the short receives


def _utc(value: object) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when

"""Captures of many small trades replay at a cost per line that does not grow with the trades seen (issue #47).

    python bench/bench_trades.py [--sizes 10000,100000,1000000] [--fills 1000,4000]

1. **The matcher** (``bench_engine.resting_workload``'s shape: a paper venue, a post-only bid and ask always
   resting at the touch, re-placed once filled, every book event and trade through the queue rule), on
   captures of 10^4, 10^5 and 10^6 trades: Binance BTC/USDT spot (``arb convert binance`` of the recording in
   ``tests/data``) with small trades added after each recorded line, at the last recorded trade's price,
   alternating sides, amounts cycling through below a step, one step, a few steps and more than a quote
   (so some fill, some take part of a quote and some fill nothing). Each capture is written to a file and
   replayed from it through the strict reader (``read_timeline``, streamed: the 10^6 file is never held in
   memory). Printed: microseconds per line and per trade for each size, and each size's lines/s as a ratio
   of the resting-order workload's rate on the recording alone, measured in the same run (the baseline).
   Flat ratios are the claim: a super-linear cost shows as a ratio falling with the size.
2. **The maker replay** (``arb run`` of ``tests/engine/maker_capture.py``'s maker config, SQLite, the store
   on): the first 60 s of its capture with ``--fills`` one-step trades through the quotes added, every one a
   maker fill recorded, paired and hedged. Printed: milliseconds per fill for each count; flat is the claim
   (before #47 each fill read every earlier fill of its quote back, three times).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "tests" / "data" / "binance-spot-btcusdt-20240808.gz"
AMOUNTS = ("0.00000001", "0.00001", "0.0000234", "0.00007", "0.013")


def with_trades(recording: Path, out: Path, trades: int) -> int:
    """``recording``'s lines with ``trades`` small trades spread after them (module docstring); lines written."""
    lines = recording.read_text().splitlines()
    per_line, extra = divmod(trades, len(lines))
    amounts = itertools.cycle(AMOUNTS)
    price, n, written = None, 0, 0
    with out.open("w") as f:
        for i, line in enumerate(lines):
            f.write(line + "\n")
            written += 1
            event = json.loads(line)
            if event["type"] == "trade":
                price = event["price"]
            if price is None:
                continue
            for _ in range(per_line + (1 if i < extra else 0)):
                n += 1
                f.write(json.dumps({"ts": event["ts"], "venue": event["venue"], "symbol": event["symbol"],
                                    "type": "trade", "price": price, "amount": next(amounts),
                                    "side": "sell" if n % 2 else "buy", "id": f"b{n}"}, separators=(",", ":")))
                f.write("\n")
                written += 1
    return written


def resting_replay(capture: Path) -> tuple[int, int, float, int]:
    """(lines, trades, seconds, fills) of the resting-order workload replaying ``capture`` from its file."""
    from arb.domain.market import MarketRules, Side
    from arb.domain.venue import OrderRequest
    from arb.errors import ArbError
    from arb.marketdata.capture import CaptureTrade
    from arb.marketdata.timeline import read_timeline
    from arb.venues.paper import PaperConfig, PaperVenue

    rules = MarketRules("binance", "BTC/USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal(5))
    venue = PaperVenue("binance", None, {"BTC/USDT": rules}, {"USDT": Decimal(10**12), "BTC": Decimal(10**8)},
                       config=PaperConfig(fee_rate=Decimal("0.001")))
    ids = itertools.count()
    lines = trades = 0

    async def feed() -> None:
        nonlocal lines, trades
        for event in read_timeline(capture, trades=True):
            lines += 1
            if isinstance(event, CaptureTrade):
                trades += 1
                venue.on_trade("BTC/USDT", Decimal(event.price), Decimal(event.amount), event.side, event.ts)
            else:
                venue.on_book("BTC/USDT", event.type, event.bids, event.asks, event.ts)
            if len(venue.matcher.open_orders()) < 2:
                book = venue.matcher.book("BTC/USDT")  # as an arriving order sees it
                if not (book.bids and book.asks):
                    continue
                for side, price in ((Side.BUY, max(book.bids)), (Side.SELL, min(book.asks))):
                    if not any(o.side == side.value for o in venue.matcher.open_orders()):
                        try:
                            await venue.place(OrderRequest(f"r{next(ids)}", "BTC/USDT", side, Decimal("0.01"),
                                                           price, "poc"))
                        except ArbError:
                            pass  # the touch moved under it: post-only refused

    started = time.perf_counter()
    asyncio.run(feed())
    return lines, trades, time.perf_counter() - started, len(venue.matcher.trades)


def maker_replay(tmp: Path, fills: int) -> tuple[int, float]:
    """(fills, seconds) of ``arb run`` on the maker config's first 60 s with ``fills`` one-step trades through
    its quotes (a sell far below the bid, a buy far above the ask: each reaches the quote at the front)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from engine.maker_capture import binance_maker_capture, first_seconds, maker_config

    from arb.cli import main as arb_main
    from arb.store.db import make_engine
    from arb.store.models import Fill

    base = tmp / "maker.jsonl"
    if not base.exists():
        binance_maker_capture(tmp)
    lines = first_seconds(base, 60).read_text().splitlines()
    per = fills / len(lines)
    capture = tmp / f"maker-{fills}.jsonl"
    owed, n = 0.0, 0
    with capture.open("w") as f:
        for line in lines:
            f.write(line + "\n")
            event = json.loads(line)
            owed += per
            while owed >= 1 and event["venue"] == "binance":
                owed -= 1
                n += 1
                f.write(json.dumps({"ts": event["ts"], "venue": "binance", "symbol": "BTC/USDT", "type": "trade",
                                    "price": "1.00" if n % 2 else "1000000.00", "amount": "0.00001",
                                    "side": "sell" if n % 2 else "buy", "id": f"m{n}"}, separators=(",", ":")))
                f.write("\n")
    config = maker_config(tmp, capture, name=f"maker-{fills}.toml")
    db = tmp / f"maker-{fills}.db"
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's summary; the bench prints its own table
        assert arb_main(["run", "--config", str(config), "--db", f"sqlite:///{db}"]) == 0
    seconds = time.perf_counter() - started
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session
    with Session(make_engine(f"sqlite:///{db}")) as s:
        made = s.scalar(select(func.count()).select_from(Fill))
    return int(made or 0), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="trades added, per capture")
    parser.add_argument("--fills", default="1000,4000", help="maker fills, per replay ('' to skip)")
    args = parser.parse_args()
    import logging
    logging.disable(logging.WARNING)  # the replays' own lines; the bench prints its table

    from arb.cli import main as arb_main

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        recording = tmp / "btcusdt.jsonl"
        assert arb_main(["convert", "binance", str(RECORDING), "--symbol", "BTC/USDT", "--out", str(recording)]) == 0
        lines, trades, seconds, fills = min((resting_replay(recording) for _ in range(3)), key=lambda r: r[2])
        base_rate = lines / seconds
        print(f"baseline: resting-order workload on the recording: {lines} lines ({trades} trades), "
              f"{base_rate:,.0f} lines/s, {1e6 / base_rate:.1f} us/line, {fills} fills")
        print(f"{'trades added':>13} {'lines':>9} {'fills':>7} {'seconds':>8} {'us/line':>8} {'us/trade':>9} "
              f"{'x baseline':>10}")
        for size in (int(s) for s in args.sizes.split(",") if s):
            capture = tmp / f"trades-{size}.jsonl"
            with_trades(recording, capture, size)
            lines, trades, seconds, fills = resting_replay(capture)
            capture.unlink()
            rate = lines / seconds
            print(f"{size:>13,} {lines:>9,} {fills:>7,} {seconds:>8.2f} {1e6 / rate:>8.1f} "
                  f"{1e6 * seconds / trades:>9.1f} {rate / base_rate:>10.2f}")
        counts = [int(s) for s in args.fills.split(",") if s]
        if counts:
            print(f"{'maker fills':>13} {'seconds':>8} {'ms/fill':>8}   (arb run, maker config, first 60 s, "
                  "SQLite; whole run incl. start-up)")
        for count in counts:
            made, seconds = maker_replay(tmp, count)
            print(f"{made:>13,} {seconds:>8.2f} {1e3 * seconds / made:>8.2f}")


if __name__ == "__main__":
    main()

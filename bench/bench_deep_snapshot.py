"""A 600k-level snapshot's ingest against a 6k-level one's, measured in the same run (issue 13).

A capture line with 600k levels once took 37 s (every level ``insort``-ed into the sorted window) and
blocked the event loop. The replay's path is timed: the strict reader (``parse_event``) then the book store
(``BookStore.apply``, the compiled book when built). Printed: the least CPU time of this process over the
rounds for each size, and the ratio of the two (the baseline is the 6k snapshot of the same run): n log n
with cache effects is a few hundred times for 100 times the levels; the quadratic way ~10,000x.

``tests/marketdata/test_deep_snapshot.py`` shows the same scaling by a count of work, not by a clock.

Run: ``.venv/bin/python bench/bench_deep_snapshot.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import orjson

from arb.marketdata.books import BookStore
from arb.marketdata.capture import parse_event


def line(levels: int) -> bytes:
    half = levels // 2
    bids = [[f"{50_000 - i * 0.01:.2f}", "1.5"] for i in range(half)]
    asks = [[f"{50_000.01 + i * 0.01:.2f}", "2.5"] for i in range(half)]
    return orjson.dumps({"ts": 1, "venue": "binance", "symbol": "BTC/USDT", "type": "snapshot",
                         "bids": bids, "asks": asks})


def ingest(raw: bytes) -> Callable[[], None]:
    def run() -> None:
        store = BookStore(depth=20)
        store.apply(parse_event(raw))
        assert store.book("binance", "BTC/USDT").best_bid() is not None

    return run


def best_of(run: Callable[[], None], rounds: int) -> float:
    """The least CPU time this process spent on ``run`` (other processes' load left out)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best


def main(rounds: int) -> None:
    small = best_of(ingest(line(6_000)), rounds * 5)
    large = best_of(ingest(line(600_000)), rounds)
    print(f"6k levels    {small * 1e3:9.2f} ms (baseline)")
    print(f"600k levels  {large * 1e3:9.2f} ms  {large / small:7.0f}x the baseline (100x the levels)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args().rounds)

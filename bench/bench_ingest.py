"""Ingest benchmark on the real Binance BTC/USDT spot stream (tests/data/binance-spot-btcusdt-20240808.gz).

Measured in one process, interleaved, best of N rounds, on the same raw messages:

- ``orjson``: bare ``orjson.loads`` of every message: the ceiling.
- ``arb``: our ingest: parse, route, Binance diff-book rule (``DiffSync``), apply to the normalized book
  through the ``BookStore``, then read the detection view ``book.top_arrays(10)`` after every depth message.
- ``ccxt.pro``: ccxt's own order-book handling of the same messages, offline: a real ``ccxt.pro.binance``
  with its markets set, a real (never connected) ``Client`` for the spot stream URL, the same snapshot
  installed as ccxt's ``fetch_order_book_snapshot`` would, then ``handle_message`` per depth frame and the
  top 10 of each side read after each.

Two workloads, both printed:

- **depth frames only** (3,451 ``depthUpdate`` frames, 36 levels each on average): every message is book
  work. This is what a book feed subscribed to the depth stream receives, and the strict reading.
- **full stream** (41,248 frames as recorded: ``depth``, ``bookTicker``, ``trade`` on one combined
  connection): the literal "real Binance spot stream". All three contenders parse every frame; only
  depth frames reach a book. Small ticker/trade frames dominate the count and cost ~1 us to parse, so
  this ratio is kinder to us than the depth-only one.

The issue's targets: arb >= 1.5x ccxt.pro and arb >= 35% of the bare-parse rate. Each workload also
prints the budget the 35% target leaves for everything after parsing (route + sync + apply + top view).

Where the time goes after parsing (depth frame, 36 levels): ~1 us of calls (sync -> store -> book ->
sides), ~11 us applying levels (~300 ns each: a zero test, one or two dict operations, a bisect inside
the window) and ~6 us for the top view (4 x 10 floats via a string->float memo, packed into the buffer).
A C sorted book does not help: see ``bench_sorted_book.py`` (PyPI ``order-book`` re-sorts every key on
each read after a change, ~5x slower than ours when detection reads every frame).

The book's hot modules are compiled by Cython when the package was built with it (``setup.py``: the same
``.py`` code, typed by ``book_side.pxd``/``book.pxd``); the first line printed says which book ran. Measured
on one idle machine, best of 5: full stream 33.5% of bare parse pure Python, 36.6-38.0% compiled; depth
frames only 16.9% and ~19.5%.

Run: ``.venv/bin/python bench/bench_ingest.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from arb.marketdata import book, book_side, books, diffsync
from arb.marketdata.books import BookStore
from arb.marketdata.diffsync import DiffSync

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "binance-spot-btcusdt-20240808.gz"
SYMBOL = "BTC/USDT"
SPOT_URL = "wss://stream.binance.com:9443/stream"


def load(path: Path) -> tuple[bytes, list[bytes], list[bytes]]:
    """(snapshot payload, depth lines, all stream lines) as raw ``<ns> <json>`` bytes."""
    lines = [line for line in gzip.decompress(path.read_bytes()).splitlines() if line]
    snapshot = next(line for line in lines if b'"lastUpdateId"' in line).partition(b" ")[2]
    stream = [line for line in lines if b'"lastUpdateId"' not in line]
    depth = [line for line in stream if b"@depth" in line]
    return snapshot, depth, stream


def book_build() -> str:
    """Which book runs: the Cython extension modules or the ``.py`` source (no extension built)."""
    modules = (book_side, book, books, diffsync)
    compiled = [m.__name__.rpartition(".")[2] for m in modules if not (m.__file__ or "").endswith(".py")]
    if not compiled:
        return "pure Python (no compiled extension; see setup.py)"
    return f"compiled by Cython: {', '.join(compiled)}" + ("" if len(compiled) == len(modules) else "; rest .py")


def run_orjson(lines: list[bytes]) -> int:
    loads = orjson.loads
    for line in lines:
        loads(line.partition(b" ")[2])
    return len(lines)


def make_arb(snapshot: bytes) -> Callable[[list[bytes]], int]:
    snap = orjson.loads(snapshot)

    def run(lines: list[bytes]) -> int:
        store = BookStore(depth=10)
        sync = DiffSync(store, "binance", SYMBOL)
        sync.on_snapshot(snap["bids"], snap["asks"], snap["lastUpdateId"], 0)
        book = sync.book
        loads = orjson.loads
        on_diff = sync.on_diff
        top = book.top_arrays
        for line in lines:
            ns, _, payload = line.partition(b" ")
            msg = loads(payload)
            if msg["stream"].endswith("@depth@100ms"):
                d = msg["data"]
                on_diff(d["b"], d["a"], d["U"], d["u"], int(ns) // 1_000_000, d["E"])
                top(10)
        assert str(book.best_bid()) == "61685.99", book
        return len(lines)

    return run


def make_ccxt(snapshot: bytes) -> tuple[Callable[[list[bytes]], int], Callable[[], None]]:
    import ccxt.pro

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    exchange = ccxt.pro.binance({"enableRateLimit": False})
    exchange.set_markets(
        [
            {
                "id": "BTCUSDT",
                "symbol": SYMBOL,
                "base": "BTC",
                "quote": "USDT",
                "baseId": "BTC",
                "quoteId": "USDT",
                "type": "spot",
                "spot": True,
                "swap": False,
                "future": False,
                "option": False,
                "contract": False,
                "linear": None,
                "inverse": None,
                "active": True,
                "precision": {"price": 0.01, "amount": 0.00001},
                "limits": {},
            }
        ]
    )

    async def make_client() -> Any:
        return exchange.client(SPOT_URL)

    client = loop.run_until_complete(make_client())
    snap = orjson.loads(snapshot)

    def run(lines: list[bytes]) -> int:
        # What fetch_order_book_snapshot does once the REST snapshot arrives.
        orderbook = exchange.order_book({}, 1000)
        orderbook.reset(exchange.parse_order_book(snap, SYMBOL))
        orderbook["nonce"] = snap["lastUpdateId"]
        exchange.orderbooks[SYMBOL] = orderbook
        loads = orjson.loads
        handle = exchange.handle_message
        for line in lines:
            msg = loads(line.partition(b" ")[2])
            if msg["stream"].endswith("@depth@100ms"):
                handle(client, msg["data"])
                book = exchange.orderbooks[SYMBOL]
                book["bids"][:10]
                book["asks"][:10]
        book = exchange.orderbooks[SYMBOL]
        assert book["bids"][0][0] == 61685.99, book["bids"][0]
        return len(lines)

    def close() -> None:
        loop.run_until_complete(exchange.close())
        loop.close()

    return run, close


def best_rate(fn: Callable[[list[bytes]], int], lines: list[bytes]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    n = fn(lines)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    snapshot, depth, stream = load(args.data)
    print(f"book: {book_build()}")
    arb_run = make_arb(snapshot)
    ccxt_run, ccxt_close = make_ccxt(snapshot)
    try:
        for title, lines in (("depth frames only", depth), ("full stream", stream)):
            rates: dict[str, float] = {"orjson": 0.0, "arb": 0.0, "ccxt.pro": 0.0}
            for _ in range(args.rounds):  # interleaved so machine noise hits all three alike
                rates["orjson"] = max(rates["orjson"], best_rate(run_orjson, lines))
                rates["arb"] = max(rates["arb"], best_rate(arb_run, lines))
                rates["ccxt.pro"] = max(rates["ccxt.pro"], best_rate(ccxt_run, lines))
            print(f"\n{title}: {len(lines):,} messages, best of {args.rounds} interleaved rounds")
            for name, rate in rates.items():
                print(f"  {name:9s} {rate:12,.0f} msg/s  {1e6 / rate:8.2f} us/msg")
            print(f"  arb / ccxt.pro  = {rates['arb'] / rates['ccxt.pro']:.2f}x   (target >= 1.5x)")
            print(f"  arb / orjson    = {rates['arb'] / rates['orjson']:.1%}   (target >= 35%)")
            parse_us = 1e6 / rates["orjson"]
            after_us = 1e6 / rates["arb"] - parse_us
            budget_us = parse_us / 0.35 - parse_us
            print(f"  after parsing: arb spends {after_us:.2f} us/msg; 35% leaves {budget_us:.2f} us/msg")
    finally:
        ccxt_close()


if __name__ == "__main__":
    main()

"""Ingest benchmark on the real Binance BTC/USDT spot stream (tests/data/binance-spot-btcusdt-20240808.gz).

Measured in one process, interleaved, best of N rounds, on the same raw messages:

- ``orjson``: bare ``orjson.loads`` of every message: the ceiling.
- ``arb``: the live path itself, not a model of it: each raw frame goes to the Binance feed's own handler
  (``BinanceBookFeed.on_message``, what its WebSocket loop calls), which reads a depth frame in Binance's
  exact shape in one compiled pass (``marketdata/depth_scan.py``: its fields and checked levels, no JSON
  objects) and parses, routes and checks any other frame (``orjson``, ``_route``, ``marketdata/drops.py``),
  runs the Binance diff-book rule (``DiffSync``) and applies the update through the ``BookStore``, which
  tells its watchers. One watcher stands for the engine's trigger
  (``runtime/decisions.py``: mark the symbol dirty), and detection's view ``book.top_arrays(10)`` is read
  once after every book event, as the engine reads it. The book starts from the recorded REST snapshot,
  handed to ``on_snapshot`` as the feed's snapshot task would. No socket, no event loop.
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

The targets (issue #50): arb >= 1.5x ccxt.pro and arb >= 50% of the bare-parse rate, on both workloads (the
first issue asked 35%). Each workload also prints the budget the 50% target leaves for everything after
parsing (route, checks, sync, apply, the watcher, top view), and the last line is the verdict on all of them.

Where the time goes (depth frame, 36 levels; compiled; on a shared 2-core machine where bare parsing takes
~5.3 us, so rounded): ~3.8 us the one pass of ``depth_scan`` (every byte checked against the shape, the
numbers as ``drops.checked_levels`` checks them, one test a byte; most of it is making the 72 level strings and
36 pairs, which orjson makes too), where ``orjson.loads``, ``_route`` (~0.4 us) and ``drops.checked_diff``
(~1.7 us) took ~7.4 us; ~0.5 us of the feed's interpreted bookkeeping (``on_message``, the receive clock:
~0.2 us of it, ``time.time_ns() // 10**6``), ``DiffSync``, the store's calls around the book and its watcher
(``DiffSync`` hands ``BookStore.delta`` the book it holds: no lookup; the engine's trigger is a watcher: it is
told the book, and no event is built for it; a recorder, a listener, would add ~2 us copying the levels into a
kept event); ~3.6 us applying levels in the two sides (per level one pass over the price that checks its
format and reads its integer tick, in two halves around the point; one pass over the size that reads its exact
integer, zero test included; one operation on the side's C hash table, whose slot holds the tick and the size
side by side; ~9 levels a frame enter or leave the 40-level window, each moving the ~18 keys above it; about
once in 40 frames deletes drain a window, refilled by one scan of the table that keeps the best 40 keys, where
sorting every key cost ~0.25 us a frame); ~0.5 us for the top view (prices from the window's ticks, sizes from
their exact integers, one division each, written straight into the buffer). These, timed apart, add to ~8.4 us
of the ~10.8 us a frame measured whole; by a profile (``perf``) most of the rest is freeing each frame's strings
and pairs and the collections their allocations set off. The pairs are gone: the pass hands each side's
strings as one flat list (price, size, price, ...: ``book_side.Levels``), which the tick loop reads as it is,
and ~1 us a frame went with the 36 pairs made and freed (2026-11-28, a quiet 2-core Xeon whose bare parse takes
~4.0 us: after parsing 4.0-4.2 -> 2.6-2.9 us a frame, depth frames 48.6-49.8% -> 57.0-58.8% of bare parse,
ccxt.pro 7.3-7.5x -> 8.1-8.7x; full stream 51.6-53.0% -> 56.3-58.4%). What is left to win is the strings:
the pass could hand the book each price's tick and each size's exact integer, which it reads anyway, and the
book would skip making, re-reading and freeing 72 strings a frame, at the cost of a third input form for
``BookSide.apply`` and strings made on demand for listeners. Before ``depth_scan``:
with the sizes held as the venue's strings (a second buffer of references and a third of their doubles, each
string freed later out of cache), applying and the top view took ~5.2 us; with the feed's own interpreted
reading of the update, ``_diff`` took ~2.0 us; the level checks as a regex cost ~28 us a frame. Keyed by the
price strings in a ``dict`` (before ``tick_map``), applying took ~4.9 us and the top view ~1 us on the machine
of the figures below. A C sorted book does not help: see ``bench_sorted_book.py`` (PyPI ``order-book``
re-sorts every key on each read after a change, ~5x slower than ours when detection reads every frame).

The hot modules are compiled by Cython when the package was built with it (``setup.py``: the same ``.py``
code, typed by the ``.pxd`` beside each, a few branches taken only compiled: ``COMPILED``); the first line
printed says which ran. Rates are CPU time of the benchmark's thread (``time.thread_time``), so time the
process spends descheduled on a shared machine counts against no contender. On a shared 2-core machine at a
load average of ~3.4-3.6, best of 5, three runs: depth frames only 51.3-52.5% of bare parse, 10.0-12.0x
ccxt.pro (after parsing ~5.1-5.3 us a frame, where 50% leaves ~5.6 us); full stream 50.6-53.3%, 3.8-4.0x.
Before ``depth_scan``, the same machine at a load of ~3: depth frames 39.8%, 7.9x (after parsing ~8.6 us);
full stream 52.4%, 3.8x. Earlier, at a load average of ~1.6-1.8, best of 5, three runs each: depth frames only
41.1-42.2% of bare parse, 7.4-7.7x ccxt.pro (after parsing ~7.5-7.9 us a frame, where 50% leaves ~5.5 us); full
stream 51.8-52.7%, 3.6-3.8x. The same runs of the build before the exact sizes and ``checked_diff``:
37.8-38.4% and 6.7-6.9x, full stream 49.4-50.9%. An earlier machine, best of 5, two runs: depth frames only 36.5-37.0% of bare parse, 5.5x ccxt.pro (after parsing
~5.3-5.4 us a frame, where 35% leaves ~5.8 us); full stream 48.1-49.2%, 3.0x. Before the window refill scan,
the kept size doubles and the book handed to the store: 32.7-33.0% and 4.8x (after parsing ~6.2-6.3 us). Keyed
by price strings: 24.0-24.2% and 3.5-3.6x (after parsing ~10.0 us). Before the watcher, the ASCII checks and
the branch-free search: 20.0-20.2% and 3.0x (after parsing ~12.2-12.9 us). With the level checks as they were
first (regex per string, a tuple per level) the same path ran at 7.4-7.5% and 1.1x ccxt.pro. Without the
compiled modules (pure Python) it runs at ~4% and 0.6x ccxt.pro (~6% and 0.9x keyed by strings: reading a tick
in Python costs more than hashing the string did): the build is what meets 1.5x. An earlier version of this
benchmark called ``DiffSync.on_diff`` directly, skipping the checks, the feed and the trigger: it printed
29-30%, a path no live book takes.

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

from arb.compiled import BOOKS, running_compiled
from arb.marketdata.book import OrderBook
from arb.marketdata.books import BookStore
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.binance.feed import BinanceBookFeed
from arb.venues.binance.markets import SPOT

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "binance-spot-btcusdt-20240808.gz"
TARGET_PARSE = 0.50  # arb's rate over bare orjson.loads', on each workload
TARGET_CCXT = 1.5  # arb's rate over ccxt.pro's
SYMBOL = "BTC/USDT"
BOOK_ID = "BTCUSDT"  # the feed's key for the book: Binance's id
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
    compiled = [name.rpartition(".")[2] for name in running_compiled(BOOKS)]
    if not compiled:
        return "pure Python (no compiled extension; see setup.py)"
    return f"compiled by Cython: {', '.join(compiled)}" + ("" if len(compiled) == len(BOOKS) else "; rest .py")


def run_orjson(lines: list[bytes]) -> int:
    loads = orjson.loads
    for line in lines:
        loads(line.partition(b" ")[2])
    return len(lines)


def make_arb(snapshot: bytes) -> Callable[[list[bytes]], int]:
    def run(lines: list[bytes]) -> int:
        store = BookStore(depth=10)
        # The engine's trigger (``runtime/decisions.py``, a store watcher): every book event marks its
        # symbol for detection, which then reads the top view once.
        dirty: dict[str, int] = {}

        def on_book(book: OrderBook) -> None:
            dirty.setdefault(book.symbol, book.updates)

        store.add_watcher(on_book)
        feed = BinanceBookFeed(store, [SYMBOL], FeedSetup("binance"), market=SPOT)
        if feed.on_snapshot(BOOK_ID, snapshot):  # what the feed's snapshot task does with the REST body
            raise AssertionError("the recorded snapshot does not line up")
        book = store.book("binance", SYMBOL)
        on_message = feed.on_message
        top = book.top_arrays
        for line in lines:
            on_message(line.partition(b" ")[2])
            if dirty:
                dirty.clear()
                top(10)
        # Every depth frame applied (the others ignored), none dropped: the checks refused nothing real.
        assert feed.dropped == 0 and feed.applied + feed.ignored == len(lines) and feed.applied, feed.drops.counts
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
    # CPU time of this thread, not wall time: on a shared machine a round that is descheduled for a while
    # would otherwise count the other processes' time against whichever contender was running.
    gc.collect()
    t0 = time.thread_time()
    n = fn(lines)
    return n / (time.thread_time() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    snapshot, depth, stream = load(args.data)
    print(f"book: {book_build()}")
    arb_run = make_arb(snapshot)
    ccxt_run, ccxt_close = make_ccxt(snapshot)
    verdicts: list[tuple[str, float, float]] = []  # (workload, arb / orjson, arb / ccxt.pro)
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
            print(f"  arb / ccxt.pro  = {rates['arb'] / rates['ccxt.pro']:.2f}x   (target >= {TARGET_CCXT}x)")
            print(f"  arb / orjson    = {rates['arb'] / rates['orjson']:.1%}   (target >= {TARGET_PARSE:.0%})")
            parse_us = 1e6 / rates["orjson"]
            after_us = 1e6 / rates["arb"] - parse_us
            budget_us = parse_us / TARGET_PARSE - parse_us
            print(f"  after parsing: arb spends {after_us:.2f} us/msg; {TARGET_PARSE:.0%} leaves {budget_us:.2f} us/msg")
            verdicts.append((title.removesuffix(" only"), rates["arb"] / rates["orjson"], rates["arb"] / rates["ccxt.pro"]))
    finally:
        ccxt_close()
    print(f"\n{verdict(verdicts)}")


def verdict(results: list[tuple[str, float, float]]) -> str:
    """One line: each workload's share of the bare-parse rate against its target, the ccxt.pro ratios against
    theirs, and PASS only when every one is met."""
    parts = [f"{name} {parse:.1%} {'>=' if parse >= TARGET_PARSE else '<'} {TARGET_PARSE:.0%}"
             for name, parse, _ in results]
    ccxt = [ratio for _, _, ratio in results]
    parts.append(f"ccxt.pro {'/'.join(f'{r:.1f}x' for r in ccxt)} "
                 f"{'>=' if min(ccxt) >= TARGET_CCXT else '<'} {TARGET_CCXT}x")
    met = all(parse >= TARGET_PARSE and ratio >= TARGET_CCXT for _, parse, ratio in results)
    return f"verdict: {', '.join(parts)}: {'PASS' if met else 'FAIL'}"


if __name__ == "__main__":
    main()

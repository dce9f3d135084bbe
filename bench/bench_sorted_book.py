"""Could a C sorted book replace ``BookSide``? Our book vs PyPI ``order-book`` on the real Binance stream.

``order-book`` (module ``order_book``, by cryptofeed's author) is a C ``OrderBook`` of two ``SortedDict``
sides. Its ``SortedDict`` is a plain ``dict`` plus a dirty flag: every read after a change re-sorts *all*
keys (``PyDict_Keys`` + ``PyList_Sort`` + a tuple copy), with ``max_depth`` only slicing the result. A
diff book read after every frame therefore pays a full sort of ~1,000+ keys per frame. Keys must also be
numbers: its sort of exact price strings is lexicographic (``"200000.00000000" < "61686.00000000"``).

Measured here on the same pre-parsed depth frames (parsing is the same for all, so it is left out),
interleaved, best of N rounds, each contender applying every level and reading the top 10 of each side
after every frame (what detection does):

- ``arb``: ``OrderBook.apply_delta`` + ``top_arrays(10)`` (integer tick keys, sorted window).
- ``order_book float``: ``order_book.OrderBook(max_depth=10)`` keyed by ``float(price)``, ``to_list()``.
- ``order_book Decimal``: the same keyed by ``Decimal(price)`` (exact, as its README suggests).
- ``... apply only``: the same without the per-frame read (one read at the end): its best case.

Run: ``.venv/bin/pip install order-book && .venv/bin/python bench/bench_sorted_book.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from arb.marketdata.book import OrderBook

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "binance-spot-btcusdt-20240808.gz"


def load_frames(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(REST snapshot, the depth frames that follow it), parsed."""
    from bench_ingest import load  # a sibling script: importable when run from bench/

    snapshot, depth, _ = load(path)
    snap = orjson.loads(snapshot)
    frames = [orjson.loads(line.partition(b" ")[2])["data"] for line in depth]
    return snap, [d for d in frames if d["u"] > snap["lastUpdateId"]]


def make_arb(snap: dict[str, Any], frames: list[dict[str, Any]]) -> Callable[[], str]:
    def run() -> str:
        book = OrderBook("binance", "BTC/USDT", depth=10)
        book.apply_snapshot(snap["bids"], snap["asks"], seq=snap["lastUpdateId"])
        top = book.top_arrays
        apply = book.apply_delta
        for d in frames:
            apply(d["b"], d["a"], seq=d["u"], first_seq=d["U"])
            top(10)
        return str(book.best_bid())

    return run


def make_order_book(
    snap: dict[str, Any], frames: list[dict[str, Any]], key: Callable[[str], Any], *, read: bool
) -> Callable[[], str]:
    import order_book  # type: ignore[import-not-found]  # optional: only this benchmark needs it

    def run() -> str:
        ob = order_book.OrderBook(max_depth=10)  # keeps every level; reads return the top 10
        bids, asks = ob.bids, ob.asks
        for price, size in snap["bids"]:
            bids[key(price)] = size
        for price, size in snap["asks"]:
            asks[key(price)] = size
        for d in frames:
            for side, levels in ((bids, d["b"]), (asks, d["a"])):
                for price, size in levels:
                    k = key(price)
                    if size.lstrip("0."):
                        side[k] = size
                    elif k in side:
                        del side[k]
            if read:
                bids.to_list()
                asks.to_list()
        return str(Decimal(str(bids.index(0)[0])))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    snap, frames = load_frames(args.data)
    contenders = {
        "arb": make_arb(snap, frames),
        "order_book float": make_order_book(snap, frames, float, read=True),
        "order_book Decimal": make_order_book(snap, frames, Decimal, read=True),
        "order_book float, apply only": make_order_book(snap, frames, float, read=False),
        "order_book Decimal, apply only": make_order_book(snap, frames, Decimal, read=False),
    }
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(args.rounds):  # interleaved so machine noise hits all alike
        for name, run in contenders.items():
            gc.collect()
            t0 = time.perf_counter()
            best_bid = run()
            best[name] = min(best[name], time.perf_counter() - t0)
            assert best_bid in ("61685.99", "61685.99000000"), (name, best_bid)
    levels = sum(len(d["b"]) + len(d["a"]) for d in frames)
    print(f"{len(frames):,} depth frames, {levels:,} levels, best of {args.rounds} interleaved rounds")
    for name, seconds in best.items():
        per_frame = seconds / len(frames) * 1e6
        print(f"  {name:32s} {per_frame:8.2f} us/frame   {seconds / best['arb']:6.2f}x arb's time")


if __name__ == "__main__":
    main()

"""Detection throughput: the numpy core against the pure-Python reference, in the same process.

    python bench/bench_detection.py [--seconds 1.0]

One evaluation is one symbol across V venues: every ordered pair sized, screened, and the best candidate
rounded and validated in Decimal (that last step is the same code on both paths). Baselines: the
reference in exact Decimal (the test oracle) and the same loops on floats.

Books are synthetic, shaped like real ones: 20 levels a side on a 0.001 tick around 20.0, sizes
lognormal, venue mids scattered around a common price. Two markets:

* ``busy``: mids scatter 4 bps, 1-tick spreads: ~40% of ordered pairs cross, most symbols have a trade.
  The detector's worst case (walks and rounding on nearly every call).
* ``quiet``: mids scatter 1 bp, 2-5 tick spreads: a few % of pairs cross, like the recorded LINK/USDT
  capture (books cross in ~9% of seconds per direction there).

Both paths must return identical decisions on these inputs; the script checks that before timing.
Rates are the best of repeated short runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np

from arb.detection import DetectionParams, FeeMode, VenueBook, detect, detect_many
from arb.domain.market import MarketRules

# The baseline is the test oracle, which arb does not ship: tests/detection/detection_reference.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "detection"))
from detection_reference import detect_reference  # noqa: E402

LEVELS = 20
TICK = 0.001
PARAMS = DetectionParams(max_size=Decimal(500), max_edge_bps=Decimal(100), max_book_age_ms=1000)
MARKETS = {"busy": (4e-4, 1, 1), "quiet": (1e-4, 2, 5)}  # mid scatter, min and max spread in ticks


def make_symbol(
    rng: np.random.Generator, symbol: str, n_venues: int, market: str
) -> tuple[str, list[VenueBook]]:
    scatter, min_spread, max_spread = MARKETS[market]
    books = []
    for v in range(n_venues):
        mid_ticks = round(20.0 * (1 + rng.normal(0, scatter)) / TICK)
        spread = int(rng.integers(min_spread, max_spread + 1))
        best_bid = mid_ticks - spread // 2
        ask_ticks = best_bid + spread + np.cumsum(rng.integers(1, 3, LEVELS)) - 1
        bid_ticks = best_bid - np.cumsum(rng.integers(1, 3, LEVELS)) + 1
        rules = MarketRules(
            f"venue{v}", symbol, Decimal("0.001"), Decimal("0.01"), Decimal("0.1"), Decimal(1)
        )
        books.append(
            VenueBook(
                venue=f"venue{v}",
                bid_px=np.round(bid_ticks * TICK, 3),
                bid_sz=np.round(rng.lognormal(3, 1, LEVELS), 2) + 0.01,
                ask_px=np.round(ask_ticks * TICK, 3),
                ask_sz=np.round(rng.lognormal(3, 1, LEVELS), 2) + 0.01,
                taker_fee=Decimal("0.0002"),
                fee_mode=FeeMode.BASE if v % 2 else FeeMode.QUOTE,
                quote_balance=Decimal(5000),
                base_balance=Decimal(250),
                rules=rules,
                health="live",
                age_ms=int(rng.integers(0, 1200)),
                seq=int(rng.integers(0, 10**9)),
            )
        )
    return symbol, books


def rate(run: Callable[[], object], evaluations: int, seconds: float) -> float:
    """Evaluations per second of ``run`` (which performs ``evaluations``): best of repeated runs."""
    run()  # warm caches
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        best = max(best, evaluations / (time.perf_counter() - start))
    return best


def per_symbol(fn: Callable[..., object], items: Sequence[tuple[str, list[VenueBook]]]) -> Callable[[], None]:
    def run() -> None:
        for symbol, books in items:
            fn(symbol, books, PARAMS)

    return run


def crossed_share(items: Sequence[tuple[str, list[VenueBook]]]) -> float:
    crossed = total = 0
    for _, books in items:
        for b in books:
            for s in books:
                if b is not s:
                    total += 1
                    crossed += bool(s.bid_px[0] > b.ask_px[0])
    return crossed / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    rng = np.random.default_rng(20210820)
    ref_float = partial(detect_reference, exact=False)

    print("evaluations/s (one evaluation = one symbol over all its ordered venue pairs); ratio = numpy / ref")
    header = f"{'market':<7}{'case':<22}{'crossed':>8}{'ref exact':>11}{'ref float':>11}{'numpy':>10}"
    print(f"{header}{'vs exact':>10}{'vs float':>10}   decisions")
    for market in MARKETS:
        for case in ("2", "5", "10", "batched"):
            batched = case == "batched"
            items = [make_symbol(rng, f"S{i}/USDT", 5 if batched else int(case), market) for i in range(200)]
            fast = detect_many(items, PARAMS) if batched else [detect(s, b, PARAMS) for s, b in items]
            assert fast == [detect_reference(s, b, PARAMS) for s, b in items], "numpy and reference disagree"
            assert fast == [ref_float(s, b, PARAMS) for s, b in items], "numpy and float reference disagree"
            exact_rate = rate(per_symbol(detect_reference, items), len(items), args.seconds)
            float_rate = rate(per_symbol(ref_float, items), len(items), args.seconds)
            if batched:
                np_rate = rate(lambda items=items: detect_many(items, PARAMS), len(items), args.seconds)
                label = "200 sym x 5, batched"
            else:
                np_rate = rate(per_symbol(detect, items), len(items), args.seconds)
                label = f"{case} venues x {LEVELS} lvls"
            print(
                f"{market:<7}{label:<22}{crossed_share(items):>8.0%}{exact_rate:>11,.0f}{float_rate:>11,.0f}"
                f"{np_rate:>10,.0f}{np_rate / exact_rate:>9.1f}x{np_rate / float_rate:>9.1f}x   {summary(fast)}"
            )


def summary(decisions: Sequence[object]) -> str:
    counts: dict[str, int] = {}
    for d in decisions:
        key = "none" if d is None else str(getattr(d, "reason", "opportunity"))
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    main()

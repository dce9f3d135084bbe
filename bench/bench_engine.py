"""The engine on the whole bundled capture (paper venues, store on), against books + detection alone.

    python bench/bench_engine.py [--fee 0.0001] [--repeat 3]

Engine: ``Engine(config, force_paper=True, mode="replay")`` on the shipped config (status off), SQLite in a
temporary directory: migrations, reconciliation, every event through books -> detection -> (risk ->
paired executor -> store) with rejections through the batched writer, the end-of-run totals read back.
Reported: events/s over the whole run, and the hot-path latency (update received -> decision, the
engine's own ``RunResult.hot_path``: book apply + detection, no I/O) p50/p90/p99/max.

Baseline, same process, same capture: the engine's own ``_apply`` + ``_detect`` per event (the same
books, the same detection inputs and parameters), with no event loop, no executor and no store. The ratio
of the two hot-path distributions shows what the executor, the store and the writer's thread cost the
hot path when they run alongside it; the ratio of events/s shows what they cost end to end.

``--fee`` sets every venue's taker fee: the shipped (real, VIP-tier) fees trade nothing on this capture,
so the executor and the store's order path are exercised only at lower fees (``0`` trades ~600 pairs).
Best of ``--repeat`` runs for each side (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from arb.config import DEFAULT_CONFIG, Config, load_config
from arb.engine import Engine, RunResult
from arb.marketdata.capture import read_capture
from arb.runtime.latency import LatencyRecorder
from arb.runtime.status import StatusReporter
from arb.runtime.venues import open_venues


def bench_config(tmp: Path, fee: str | None) -> Config:
    text = Path(DEFAULT_CONFIG).read_text()
    if fee is not None:
        text = re.sub(r'taker_fee = "[0-9.]+"', f'taker_fee = "{fee}"', text)
    text = text.replace('kill_switch_file = "arb.kill"', f'kill_switch_file = "{tmp / "arb.kill"}"')
    path = tmp / "config.toml"
    path.write_text(text)
    return load_config(path)


async def run_engine(config: Config, tmp: Path, n: int) -> tuple[float, RunResult]:
    db = tmp / f"bench-{n}.db"
    engine = Engine(config, db_url=f"sqlite:///{db}", force_paper=True, mode="replay",
                    status=StatusReporter("off"), install_signal_handlers=False)
    started = time.perf_counter()
    result = await engine.run()
    return time.perf_counter() - started, result


async def run_baseline(config: Config) -> tuple[float, int, LatencyRecorder, int]:
    """Books + detection alone, through the engine's own per-event steps."""
    engine = Engine(config, force_paper=True, mode="replay", status=StatusReporter("off"),
                    install_signal_handlers=False)
    venues = await open_venues(config, engine.books, engine.clock, force_paper=True)
    try:
        await engine._refresh_balances(venues)
        capture = config.capture_path()
        assert capture is not None
        latency = LatencyRecorder()
        events = 0
        started = time.perf_counter()
        for event in read_capture(capture):  # reading the file is part of the engine's loop too
            venue = engine.routes.get((event.venue, event.symbol))
            if venue is None:
                continue
            events += 1
            t0 = time.perf_counter_ns()
            engine.clock.advance(event.ts)  # type: ignore[union-attr]
            engine._apply(venue, event, venues)
            decision = engine._detect(event.symbol, venues)
            latency.add(time.perf_counter_ns() - t0)
            engine.funnel.saw(decision)
        elapsed = time.perf_counter() - started
        return elapsed, events, latency, engine.funnel.approved
    finally:
        await venues.close()


def fmt(summary: dict[str, Decimal | int]) -> str:
    return " ".join(f"{k} {summary[k]:>8} us" for k in ("p50", "p90", "p99", "max"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fee", default=None, help="taker fee for every venue (default: the shipped fees)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        config = bench_config(tmp, args.fee)
        print(f"capture: {config.capture_path()}  fees: {[str(v.taker_fee) for v in config.venues.values()]}")

        base_best: tuple[float, int, LatencyRecorder, int] | None = None
        eng_best: tuple[float, RunResult] | None = None
        for n in range(args.repeat):
            base = asyncio.run(run_baseline(config))
            if base_best is None or base[0] < base_best[0]:
                base_best = base
            eng = asyncio.run(run_engine(config, tmp, n))
            if eng_best is None or eng[0] < eng_best[0]:
                eng_best = eng
        assert base_best is not None and eng_best is not None

        b_elapsed, events, b_latency, b_approved = base_best
        e_elapsed, result = eng_best
        f = result.funnel
        b_rate, e_rate = events / b_elapsed, f.book_updates / e_elapsed
        b_hot, e_hot = b_latency.summary_us(), result.hot_path.summary_us()
        print(f"events: {events}  approved by detection: baseline {b_approved}, engine {f.approved}; "
              f"engine executed {f.executed}, rejected {sum(f.rejected.values())}, "
              f"orders {result.summary['orders']}, fills {result.summary['fills']}")
        print(f"baseline (books + detection)   {b_rate:>9,.0f} events/s  ({b_elapsed:.2f} s)")
        print(f"engine (executor + store on)   {e_rate:>9,.0f} events/s  ({e_elapsed:.2f} s, incl. start-up "
              f"and end-of-run totals)   x{e_rate / b_rate:.2f} of baseline")
        print(f"hot path baseline   {fmt(b_hot)}")
        print(f"hot path engine     {fmt(e_hot)}")
        ratios = " ".join(f"{k} x{float(e_hot[k]) / float(b_hot[k]):.2f}" for k in ("p50", "p90", "p99", "max"))
        print(f"hot path engine / baseline: {ratios}")


if __name__ == "__main__":
    main()

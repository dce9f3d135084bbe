"""The simulator on many symbols at once: batched detection against detection one symbol at a time.

    python bench/bench_multisymbol.py [--symbols 100] [--venues 5] [--minutes 2] [--fee 0.0005] [--repeat 2]
                                      [--sweep-points 8]

Workload, built from the real bundled capture (``arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz``, a
whole-book snapshot per venue per second): its first ``--minutes`` are cloned into ``--symbols`` symbols on
``--venues`` capture venues. Capture venue ``k`` replays Binance's books (even ``k``) or Huobi's (odd ``k``)
with every price scaled by the symbol's factor and shifted by the venue's offset (a few bps, so some pairs
cross by more than the fees); sizes and timestamps are kept, so each capture instant updates every symbol
at once on half the venues. The config has one ``[symbols."SYMn/USDT"]`` per symbol (its own ``max_size``)
and one paper venue per capture venue, with balances in every asset and the venue's ``markets``.

Both sides run the real engine, ``Engine(config, mode="replay", force_paper=True, status=off).main()``
(SQLite in a temporary directory; migrations, reconciliation, market source, decision loop, executor,
writer, end-of-run totals), on the same capture and config. The only difference is the decision loop's
``batched``: all dirty symbols of a wake-up in one detection call on the detector's tracked rows (each
book's top levels copied into preallocated arrays as its update is applied), against one ``detect`` call
per symbol on inputs read from the books (the loop as it was before batching). Reported for each:

- events/s over the whole run (reading and parsing the capture, applying it, deciding, writing);
- decision latency p50/p99 (``RunResult.hot_path``): per symbol, from the moment its market instant's
  events are all applied (the instant is delivered to the decision loop) to the moment detection has
  returned that symbol's decision (for a rejection the batch's array screen decided, its reason and pair:
  the ``Decimal`` record of it is built after, as the loop hands it on, and is counted in the detection
  stage below). A batch's symbols all get the batch's time; one at a time, a symbol
  also waits for the symbols decided before it. Applying the instant's events is not in it (it is in
  events/s): a replay applies a whole instant back to back, which a live feed spreads over the time its
  updates arrive in (``arb/runtime/decisions.py`` defines it);
- the funnel of both (which must be equal: the decisions are the same);
- the detection stage alone (the loop's ``detect_all`` calls, inputs + detection, and its ``record``
  calls, the rejections' records) in wall seconds and symbol decisions/s;

and then, in the same run, the research side of scale: sweep throughput (replays per minute) on a local
dask cluster of 2 worker processes against the same replays one after another in one process, with and
without start-up (``bench/bench_sweep.py``, which also runs alone).

Best of ``--repeat`` runs each, alternated so a busy moment of a shared machine hits both.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from arb.config import Config, load_config
from arb.detection import Opportunity, Rejection
from arb.engine import Engine, RunResult
from arb.marketdata.capture import CaptureEvent, CaptureWriter, Level, read_capture
from arb.runtime.decisions import DecisionLoop
from arb.runtime.detector import Pending
from arb.runtime.status import StatusReporter

BUNDLED = Path(__file__).resolve().parents[1] / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz"
SOURCES = ("binance", "huobi")
VENUE_NAMES = ("binance", "htx", "okx", "kucoin", "bybit", "gateio", "mexc", "bitget")  # ccxt ids (paper)
OFFSETS_BPS = (0, 0, 3, -3, 1, -1, 2, -2)  # per capture venue: a small shift so some pairs cross
PRICE = Decimal("0.0001")
TARGET_RATE = 60_000  # batched events/s over the whole run (issue #50)
TARGET_P99_US = 500  # batched decision latency p99


def symbol_name(i: int) -> str:
    return f"SYM{i}/USDT"


def _scaled(levels: tuple[Level, ...], factor: Decimal) -> tuple[Level, ...]:
    return tuple((str((Decimal(px) * factor).quantize(PRICE)), sz) for px, sz in levels)


def clone_events(source: Path, symbols: int, venues: int, minutes: float) -> Iterator[CaptureEvent]:
    """The first ``minutes`` of ``source`` (a two-venue, one-symbol capture) as ``symbols`` x ``venues``."""
    first: int | None = None
    for event in read_capture(source):
        first = event.ts if first is None else first
        if event.ts - first >= minutes * 60_000:
            return
        side = SOURCES.index(event.venue)
        for k in range(side, venues, 2):
            shift = 1 + Decimal(OFFSETS_BPS[k]) / 10_000
            for i in range(symbols):
                factor = (1 + Decimal(i) / 7) * shift  # symbols priced ~27 .. ~400 USDT
                yield replace(event, venue=f"c{k}", symbol=symbol_name(i), bids=_scaled(event.bids, factor),
                              asks=_scaled(event.asks, factor))


def write_workload(tmp: Path, symbols: int, venues: int, minutes: float, fee: str, *,
                   quote_balance: str = "10000000", source: Path = BUNDLED) -> Path:
    """A capture and its config under ``tmp``; returns the config's path. Every venue starts with
    ``quote_balance`` USDT (shared by all symbols) and 100000 of each base asset."""
    if not 2 <= venues <= len(VENUE_NAMES):
        raise ValueError(f"venues: 2 .. {len(VENUE_NAMES)}")
    capture = tmp / "multi.jsonl.gz"
    with CaptureWriter(capture) as writer:
        writer.write_all(clone_events(source, symbols, venues, minutes))
    names = [symbol_name(i) for i in range(symbols)]
    balances = ", ".join([f"USDT = \"{quote_balance}\"", *(f"SYM{i} = \"100000\"" for i in range(symbols))])
    lines = [
        "[engine]", 'mode = "replay"', f"symbols = {names!r}".replace("'", '"'), "book_depth = 20",
        'status = "off"', "stale_after_ms = 10000",
        "[store]", f'url = "sqlite:///{(tmp / "unused.db").as_posix()}"',
        "[replay]", f'capture = "{capture.as_posix()}"', "speed = 0",
        "[detection]", 'min_edge_bps = "0.5"', 'min_profit = "0.01"', 'abnormal_edge_bps = "50"',
        "max_book_age_ms = 1500",
        "[risk]", 'max_notional_per_trade = "1000000"', 'max_exposure_per_asset = "1000"',
        'daily_loss_limit = "1000000"', "max_consecutive_failures = 3", "failure_cooldown_s = 60.0",
        f'kill_switch_file = "{(tmp / "arb.kill").as_posix()}"',
        "[execution]", 'slippage_bps = "2"', 'leg_policy = "unwind"', 'imbalance_max_slippage_bps = "20"',
        "order_timeout_s = 5.0", "lookup_attempts = 6",
    ]
    for i, name in enumerate(names):
        lines += [f'[symbols."{name}"]', f'max_size = "{1 + i % 5}"']  # each symbol its own max size
    for k in range(venues):
        lines += [f"[venues.{VENUE_NAMES[k]}]", 'kind = "paper"', f'taker_fee = "{fee}"',
                  'fee_tier = "bench"', 'buy_fee_in = "base"', f'capture_venue = "c{k}"',
                  f"balances = {{ {balances} }}", "latency_ms = 20"]
        lines += [f'markets."{name}" = {{ price_step = "0.0001", amount_step = "0.01", min_amount = "0.01", '
                  f'min_notional = "5" }}' for name in names]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class TimedLoop(DecisionLoop):
    """The decision loop, adding up the wall time of its detection stage: ``detect_all`` (building every
    venue's inputs from the books, then detection) and ``record`` (the records of the rejections the batched
    screen decided, built after the hot path: detection's work all the same)."""

    detection_ns = 0

    def detect_all(self, symbols: list[str]) -> list[Pending]:
        t0 = time.perf_counter_ns()
        decided = super().detect_all(symbols)
        TimedLoop.detection_ns += time.perf_counter_ns() - t0
        return decided

    def record(self, decided: Pending) -> Opportunity | Rejection | None:
        t0 = time.perf_counter_ns()
        decision = super().record(decided)
        TimedLoop.detection_ns += time.perf_counter_ns() - t0
        return decision


class PerSymbolLoop(TimedLoop):
    """The decision loop calling detection one symbol at a time."""

    batched = False


class BatchedEngine(Engine):
    decision_loop = TimedLoop


class PerSymbolEngine(Engine):
    decision_loop = PerSymbolLoop


def run_engine(config: Config, tmp: Path, batched: bool, n: int) -> tuple[float, RunResult, float]:
    kind = BatchedEngine if batched else PerSymbolEngine
    TimedLoop.detection_ns = 0
    engine = kind(config, db_url=f"sqlite:///{tmp / f'bench-{batched}-{n}.db'}", force_paper=True, mode="replay",
                  status=StatusReporter("off"), install_signal_handlers=False)
    started = time.perf_counter()
    result = engine.main()
    return time.perf_counter() - started, result, TimedLoop.detection_ns / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--venues", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=2.0, help="of the bundled capture, from its start")
    parser.add_argument("--fee", default="0.0005", help="taker fee of every venue (lower: more executions)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sweep-points", type=int, default=8,
                        help="replays in the sweep-throughput part (bench_sweep.py); 0 skips it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        started = time.perf_counter()
        config = load_config(write_workload(tmp, args.symbols, args.venues, args.minutes, args.fee))
        print(f"workload: {args.symbols} symbols x {args.venues} venues, {args.minutes:g} min of the bundled "
              f"capture, fee {args.fee} (built in {time.perf_counter() - started:.1f} s)")
        best: dict[bool, tuple[float, RunResult, float]] = {}
        for n in range(args.repeat):
            for batched in (False, True):  # alternated, so a busy moment of the machine hits both
                run = run_engine(config, tmp, batched, n)
                if batched not in best or run[0] < best[batched][0]:
                    best[batched] = run
        rates, stage, lat = {}, {}, {}
        for batched, label in ((False, "per symbol"), (True, "batched   ")):
            elapsed, result, detecting = best[batched]
            f, hot = result.funnel, result.hot_path.summary_us()
            rates[batched] = f.book_updates / elapsed
            stage[batched] = f.evaluations / detecting
            print(f"{label}  engine {rates[batched]:>7,.0f} events/s ({f.book_updates} events, {elapsed:.2f} s)"
                  f"  decision latency p50 {hot['p50']} us p99 {hot['p99']} us max {hot['max']} us"
                  f"  detection stage {detecting:.2f} s ({stage[batched]:,.0f} symbol decisions/s)")
            lat[batched] = hot['p99']
            print(f"            funnel: evaluations {f.evaluations} crossed {f.crossed} approved {f.approved} "
                  f"executed {f.executed} rejected {sum(f.rejected.values())}")
        same = best[False][1].funnel == best[True][1].funnel
        print(f"batched / per symbol: engine x{rates[True] / rates[False]:.2f} events/s, "
              f"detection stage x{stage[True] / stage[False]:.2f}; same funnel: {same}")
        print(f"targets (issue #50, batched): >= {TARGET_RATE:,} events/s, decision p99 <= {TARGET_P99_US} us")
        print("decision latency: from a symbol's market instant applied in full to its decision returned by "
              "detection (applying the instant is in events/s)")
        met = rates[True] >= TARGET_RATE and lat[True] <= TARGET_P99_US and same
        print(f"verdict: batched {rates[True]:,.0f} events/s, decision p99 {lat[True]} us, same funnel {same}: "
              f"{'PASS' if met else 'FAIL'}")
    if args.sweep_points:  # the research side of scale, in the same run: replays per minute, cluster vs one process
        from bench_sweep import measure, report

        report(measure(args.sweep_points))


if __name__ == "__main__":
    main()

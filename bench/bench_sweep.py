"""Sweep throughput: replays per minute of ``arb sweep`` on a local dask cluster, against the same replays
run one after another in one process, measured in the same run.

    python bench/bench_sweep.py [--points 8] [--workers 2] [--repeat 2]

Workload: ``--points`` grid points, each a deterministic replay of the whole bundled capture (LINK/USDT on
Binance and Huobi, 2 hours, 14,400 book updates) on the shipped config with every venue's taker fee set
to 0.00002, 0.00004, ... (a fee study: lower fees trade more, so the replays differ in length as a real
sweep's do). Every replay writes its run, opportunities, orders and fills to SQLite.

Baseline, "one process": the same points replayed one after another in one process, each exactly as
``arb replay`` of the point's config does it (``Engine(..., mode="replay")``: the config's venue kinds, so the
sandbox venue on its in-process sandbox over loopback HTTP, as a sweep point runs it), all into one database.
Both sides do the same work: a sweep point differs only by its database (a copy of a migrated empty one) and
its merge into the sweep's database.

Two comparisons, both in this run:

- **including start-up**: each side is a fresh process, timed from its start to its exit. The sweep is the
  real command, ``arb sweep --workers N``: interpreter start, imports, the local cluster's start (its
  forkserver importing arb once, the workers forked from it), every replay, every merge into the sweep's
  database, the table, the cluster's shutdown. The baseline is a fresh interpreter that imports arb and
  replays the points.
- **steady state**: in this process, the cluster already running (started before the clock starts, as
  with ``--scheduler``; its workers have imported arb but run no replay yet), the sweep timed from
  ``run_sweep`` to its return (dispatch, replays, merges); the baseline in this process, arb imported and
  no replay run yet. Also the CPU seconds spent per replay on each side (the cluster's: its workers' and
  this process's), which says how much work the cluster adds whatever else the machine is doing.

The ratio is cluster replays/minute over one-process replays/minute (target: >= 1.7 on 2 cores). Each side
is the best of ``--repeat`` runs, the sides interleaved. The load average is printed before and after: a
parallel speed-up needs idle cores, and on a shared machine the ratios are pessimistic (with Linux's
autogroup scheduling, the default, every terminal session gets an equal share of the CPU, however many
processes it runs: while other sessions are busy, the cluster's two workers share one session's share).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arb.config import DEFAULT_CONFIG, Config, load_config
from arb.sweep.grid import Grid, build_grid

FEE_STEP = "0.00002"


def bench_config(tmp: Path) -> Path:
    """The shipped config, status view off, the kill-switch file and the database in ``tmp``."""
    text = Path(DEFAULT_CONFIG).read_text()
    text = text.replace('status = "auto"', 'status = "off"')
    text = text.replace('kill_switch_file = "arb.kill"', f'kill_switch_file = "{tmp / "arb.kill"}"')
    path = tmp / "config.toml"
    path.write_text(text)
    return path


def fees(points: int) -> list[str]:
    step = float(FEE_STEP)
    return [f"{step * (k + 1):.5f}" for k in range(points)]


def grid_of(config: Config, points: int) -> Grid:
    return build_grid(config, {"fee": fees(points)}, source="bench")


def replay_one_after_another(config_path: Path, db_url: str, points: int) -> float:
    """The baseline: every point replayed in this process, one after another, into ``db_url``; seconds."""
    from arb.engine import Engine
    from arb.runtime.status import StatusReporter
    from arb.sweep.grid import apply

    config = load_config(config_path)
    started = time.perf_counter()
    for point in grid_of(config, points).points():
        Engine(apply(config, point), db_url=db_url, capture=Path(point["capture"]), mode="replay", install_signal_handlers=False, status=StatusReporter("off")).main()
    return time.perf_counter() - started


def _timed_process(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... exited {done.returncode}:\n{done.stdout[-3000:]}"
                           f"\n{done.stderr.strip()[-2000:]}")
    return took


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_cpu_s() -> float:  # runs on each worker
    return _self_cpu_s()


@contextmanager
def stderr_into(path: Path) -> Iterator[None]:
    """This process's standard error (file descriptor 2, so the processes it starts meanwhile too: the local
    cluster's forkserver and workers) written to ``path`` while the block runs, then given back. Should the
    block raise, the file's last lines are printed first, so a replay's own account of a failure is seen."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = True
    try:
        with path.open("w") as log:
            os.dup2(log.fileno(), 2)
        yield
        failed = False
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if failed:
            print("".join(path.read_text(errors="replace").splitlines(keepends=True)[-40:]), end="", file=sys.stderr)


def measure(points: int = 8, workers: int = 2, repeat: int = 1) -> dict[str, Any]:
    """Both comparisons (see the module docstring), each side the best of ``repeat``; seconds,
    replays/minute, ratios, CPU seconds per replay and what each figure includes. What the replays log (their
    feed-latency and inventory notices, a hundred lines or more for eight) goes to a file, named in
    ``out["replays_log"]``, not between the lines of the figures."""
    fd, name = tempfile.mkstemp(prefix="bench-sweep-", suffix=".log")
    os.close(fd)
    log = Path(name)
    with stderr_into(log):
        out = _measure(points, workers, repeat)
    out["replays_log"] = log
    out["replays_log_lines"] = len(log.read_text(errors="replace").splitlines())
    return out


def _measure(points: int, workers: int, repeat: int) -> dict[str, Any]:
    from distributed import Client

    from arb.sweep.cluster import local_cluster
    from arb.sweep.run import run_sweep

    out: dict[str, Any] = {"points": points, "workers": workers, "repeat": repeat,
                           "load_before": os.getloadavg()[0]}
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp_dir:
        tmp = Path(tmp_dir)
        config_path = bench_config(tmp)
        config = load_config(config_path)
        listed = ",".join(fees(points))
        cluster = None
        try:
            for n in range(repeat):
                # Including start-up: fresh processes, timed from start to exit.
                runs.setdefault("one_process_with_startup_s", []).append(_timed_process(
                    [sys.executable, __file__, "--one-process", str(config_path),
                     f"sqlite:///{tmp / f'cold-one-{n}.db'}", str(points)]))
                runs.setdefault("cluster_with_startup_s", []).append(_timed_process(
                    [sys.executable, "-c", "import sys; from arb.cli import main; sys.exit(main(sys.argv[1:]))",
                     "sweep", "--config", str(config_path), "--db", f"sqlite:///{tmp / f'cold-sweep-{n}.db'}",
                     "--workers", str(workers), "--fee", listed]))
                # Steady state, in this process.
                cpu = _self_cpu_s()
                runs.setdefault("one_process_steady_s", []).append(
                    replay_one_after_another(config_path, f"sqlite:///{tmp / f'one-{n}.db'}", points))
                runs.setdefault("one_process_cpu_s_per_replay", []).append((_self_cpu_s() - cpu) / points)
                if cluster is None:
                    cluster = local_cluster(workers)  # started once, before any clock
                with Client(cluster) as client:
                    workers_cpu = sum(client.run(_worker_cpu_s).values())
                    cpu = _self_cpu_s()
                    started = time.perf_counter()
                    result = run_sweep(config, grid_of(config, points), f"sqlite:///{tmp / f'sweep-{n}.db'}",
                                       scheduler=cluster.scheduler_address, workdir=str(tmp / "work"))
                    runs.setdefault("cluster_steady_s", []).append(time.perf_counter() - started)
                    driver_cpu = _self_cpu_s() - cpu
                    workers_cpu = sum(client.run(_worker_cpu_s).values()) - workers_cpu
                if result.failed:
                    raise RuntimeError(f"{len(result.failed)} replays failed; first: {result.failed[0].error}")
                runs.setdefault("cluster_cpu_s_per_replay", []).append((workers_cpu + driver_cpu) / points)
                runs.setdefault("worker_cpu_s_per_replay", []).append(workers_cpu / points)
                runs.setdefault("driver_cpu_s_per_replay", []).append(driver_cpu / points)
        finally:
            if cluster is not None:
                cluster.close()
    out.update({key: min(values) for key, values in runs.items()})
    out["all_runs"] = runs
    for side in ("one_process_with_startup", "cluster_with_startup", "one_process_steady", "cluster_steady"):
        out[f"{side}_replays_per_min"] = 60 * points / out[f"{side}_s"]
    out["ratio_with_startup"] = out["one_process_with_startup_s"] / out["cluster_with_startup_s"]
    out["ratio_steady"] = out["one_process_steady_s"] / out["cluster_steady_s"]
    out["load_after"] = os.getloadavg()[0]
    out["includes"] = {
        "with_startup": "fresh processes, start to exit: interpreter, imports, (cluster start and shutdown, "
                        "merges), every replay",
        "steady": "this process; cluster started before timing; workers and baseline have imported arb, run "
                  "no replay yet; the sweep's merges included",
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=8, help="grid points (replays of the whole capture)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the best is reported")
    parser.add_argument("--one-process", nargs=3, metavar=("CONFIG", "DB", "POINTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_process:  # the baseline's fresh process (including start-up)
        config_path, db_url, points = args.one_process
        replay_one_after_another(Path(config_path), db_url, int(points))
        return
    report(measure(args.points, args.workers, args.repeat))


# The targets on 2 cores: the cluster's replays/minute over one process's, and a point's CPU over a
# replay's (a sweep point costs what ``arb replay`` of the same config costs).
TARGETS = {"with_startup": 1.5, "steady": 1.7}
CPU_TARGET = 1.10


def projected(r: dict[str, Any], cores: int) -> float:
    """Replays/minute a local cluster of ``cores`` workers would reach at this run's CPU per replay: each worker
    a replay at a time at ``worker_cpu_s_per_replay``, and the driver merging every replay at
    ``driver_cpu_s_per_replay`` (one process: the ceiling however many workers there are)."""
    workers = cores * 60 / r["worker_cpu_s_per_replay"]
    driver = 60 / r["driver_cpu_s_per_replay"] if r["driver_cpu_s_per_replay"] > 0 else float("inf")
    return min(workers, driver)


def down(ratio: float) -> str:
    """A ratio held to a floor, to two decimals rounded down: 1.4945 is not shown as the 1.50 it misses."""
    return f"{math.floor(ratio * 100) / 100:.2f}"


def up(ratio: float) -> str:
    """A ratio held to a ceiling, to two decimals rounded up."""
    return f"{math.ceil(ratio * 100) / 100:.2f}"


def report(r: dict[str, Any]) -> bool:
    """Print :func:`measure`'s result with its targets and a verdict (``bench_multisymbol.py`` prints it after
    its own); True when every target is met."""
    print(f"sweep throughput: {r['points']} replays of the whole bundled capture (fees {FEE_STEP} to "
          f"{fees(r['points'])[-1]}), local cluster of {r['workers']} worker processes vs one process, "
          f"{os.cpu_count()} cores, best of {r['repeat']}, load average {r['load_before']:.1f} before, "
          f"{r['load_after']:.1f} after")
    rows = (("including start-up", "with_startup"), ("steady state", "steady"))
    met = []
    for label, key in rows:
        one, clu = r[f"one_process_{key}_s"], r[f"cluster_{key}_s"]
        met.append(r[f"ratio_{key}"] >= TARGETS[key])
        print(f"  {label:<19} one process {one:6.1f} s = {60 * r['points'] / one:5.1f} replays/min | "
              f"cluster {clu:6.1f} s = {60 * r['points'] / clu:5.1f} replays/min | ratio {down(r[f'ratio_{key}'])}x "
              f"(target >= {TARGETS[key]})")
        print(f"    ({r['includes'][key]})")
    cpu_ratio = r["cluster_cpu_s_per_replay"] / r["one_process_cpu_s_per_replay"]
    met.append(cpu_ratio <= CPU_TARGET)
    print(f"  CPU per replay: one process {r['one_process_cpu_s_per_replay']:.2f} s, cluster "
          f"{r['cluster_cpu_s_per_replay']:.2f} s (workers {r['worker_cpu_s_per_replay']:.2f} s + driver "
          f"{r['driver_cpu_s_per_replay']:.2f} s): x{up(cpu_ratio)} (target <= x{CPU_TARGET})")
    one_rate = 60 / r["one_process_cpu_s_per_replay"]
    print("  at this CPU per replay, on idle cores: " + "; ".join(
        f"{cores} cores {projected(r, cores):,.0f} replays/min ({projected(r, cores) / one_rate:.1f}x one process)"
        for cores in (2, 16, 64)))
    print(f"  what the replays logged ({r['replays_log_lines']} lines), kept out of the figures: {r['replays_log']}")
    verdict = "PASS" if all(met) else "FAIL"
    print(f"verdict: steady {down(r['ratio_steady'])}x, with start-up {down(r['ratio_with_startup'])}x, CPU per "
          f"replay x{up(cpu_ratio)}: {verdict}")
    return all(met)


if __name__ == "__main__":
    main()

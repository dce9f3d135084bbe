"""A sweep is bounded (issue 32): a grid over ``MAX_POINTS`` needs ``--allow-large-grid``; points are made one
at a time and submitted a few at a time; Ctrl-C stops a running sweep at once; a ``--scheduler`` that does
not answer is one line within its timeout, with nothing created.

Before: a 10^6-point grid grew to 3.1 GB with no progress line after 110 s and ignored Ctrl-C for 60 s; a
port that accepts and never speaks hung past 120 s, a closed port took 30 s, and both left a sweep.db.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import threading
import time
import tracemalloc
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from engine.procs import arb_command, cpu_at_exit, cpu_seconds
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.store.db import make_engine
from arb.store.models import Sweep
from arb.sweep.cluster import STOP_WORKERS_S, connected
from arb.sweep.dispatch import dispatch
from arb.sweep.grid import MAX_POINTS, Point, build_grid

from .helpers import small_config, trimmed_capture

FEES = ",".join(f"0.0000{k:02d}" for k in range(100))
EDGES = ",".join(f"{k / 10:g}" for k in range(100))
LATENCIES = ",".join(str(k) for k in range(100))  # 100 x 100 x 100: a million points


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_grid_over_the_limit_is_one_line_and_creates_nothing(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sweep.db"
    # A scheduler that is not there: the refusal comes first, without a cluster (before, the grid was accepted
    # and the sweep went on to connect).
    args = ["sweep", "--db", f"sqlite:///{db}", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}",
            "--fee", FEES, "--min-edge-bps", EDGES + ",10.1"]
    assert main(args) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"arb: error: arb sweep: the grid has 10,100 points (100 fee x 101 min_edge_bps), over "
                     f"{MAX_POINTS:,}: each point is a whole replay; pass --allow-large-grid to run it anyway"], lines
    assert not db.exists()


def test_a_million_point_grid_is_built_and_walked_in_bounded_memory(tmp_path: Path) -> None:
    _, config = small_config(tmp_path, trimmed_capture(tmp_path, "00:00", "00:01"))
    raw = {"fee": FEES.split(","), "min_edge_bps": EDGES.split(","), "latency_ms": LATENCIES.split(",")}
    tracemalloc.start()
    try:
        grid = build_grid(config, raw, max_points=None)
        points = grid.points()
        first = list(itertools.islice(points, 3))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A list of a million point dicts: 192 MB traced before; three lists of 100 values and a product: far less.
    assert peak < 5_000_000, f"{peak / 1e6:.1f} MB"
    assert first[1] == {"capture": grid.values["capture"][0], "fee": "0.000000", "latency_ms": "0",
                        "min_edge_bps": "0.1"}
    assert grid.size == 1_000_000


class FakeCompleted:
    """``distributed.as_completed`` as the dispatcher uses it: ``add`` futures, iterate them as they finish
    (here: in the order added), new ones included. Counts the most ever submitted and unfinished."""

    def __init__(self) -> None:
        self.queue: deque[int] = deque()
        self.most_unfinished = 0

    def add(self, future: int) -> None:
        self.queue.append(future)
        self.most_unfinished = max(self.most_unfinished, len(self.queue))

    def __iter__(self) -> Iterator[int]:
        while self.queue:
            yield self.queue.popleft()


def test_points_are_submitted_a_window_at_a_time() -> None:
    taken: list[int] = []

    def points() -> Iterator[Point]:
        for k in itertools.count():  # endless: a grid of any size
            taken.append(k)
            yield {"fee": str(k)}

    def submit(i: int, point: Point) -> int:
        assert point == {"fee": str(i)}
        return i

    completed = FakeCompleted()
    started: list[int] = []
    done = []
    for i, point, future in dispatch(points(), submit, completed, window=4, started=started.append):
        done.append((i, point["fee"], future))
        if len(done) == 50:
            break
    assert started == [4] and completed.most_unfinished == 4
    assert done == [(i, str(i), i) for i in range(50)]
    # Never more taken from the grid than the window holds: the 50 handled, and the next 4 in flight.
    assert len(taken) == 54


@pytest.mark.parametrize("sigterm", [False, True], ids=["Ctrl-C", "SIGTERM as timeout sends it"])
def test_ctrl_c_stops_a_running_sweep_at_once(tmp_path: Path, sigterm: bool) -> None:
    """And SIGTERM as ``timeout`` sends it, to the sweep and then to its process group: taken as Ctrl-C (its
    default action killed the sweep and left its row "running")."""
    config, _ = small_config(tmp_path, trimmed_capture(tmp_path, "00:00", "00:02"))
    db = tmp_path / "sweep.db"
    err = tmp_path / "stderr.txt"
    with err.open("w") as stderr:
        # Its own session, so a signal to its process group is Ctrl-C at a terminal: the sweep and its
        # workers get it alike.
        proc = subprocess.Popen(arb_command("sweep", "--config", str(config), "--db",
                                             f"sqlite:///{db}", "--workers", "2", "--allow-large-grid", "--fee", FEES,
                                             "--min-edge-bps", EDGES, "--latency-ms", LATENCIES),
                                stdout=subprocess.DEVNULL, stderr=stderr, cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "replays done" not in err.read_text():  # the first progress line: replays are running
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < deadline, f"no progress line in 120 s: {err.read_text()}"
            time.sleep(0.1)
        rss_mb = int(Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024
        cpu_at_signal = cpu_seconds(proc.pid)[1]
        if sigterm:
            proc.send_signal(signal.SIGTERM)
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        cpu_at_end = cpu_at_exit(proc.pid, timeout=30)
        if cpu_at_end is None:
            # A sweep that never had the signal replays on: its masks say whether SIGINT was blocked (SigBlk)
            # or ignored (SigIgn) in it (an ignored one inherited from this process: see arb_command).
            masks = [ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if ln.startswith("Sig")]
            raise AssertionError(f"the sweep did not stop within 30 s of SIGINT; {masks}; "
                                 f"{err.read_text()[-500:]}") from None
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = err.read_text().splitlines()
    assert status == 130, lines
    # Its own work from the signal to its exit, not the wall time a loaded machine stretches (CI's disk took
    # 1.9 s for one loopback round trip): 0.1 s measured; the interpreter's final garbage collections that
    # _exit_quickly spares cost 1 s of it. Not waiting for the running replays is checked by the grace the
    # workers get (test_an_interrupted_sweep_closes_its_workers_with_a_short_grace); a sweep that replays on
    # fails the 30 s bound above.
    assert cpu_at_end - cpu_at_signal < 0.5, f"{cpu_at_end - cpu_at_signal:.2f} s of CPU to stop"
    assert rss_mb < 500, rss_mb  # before: 3.1 GB
    assert lines[-1] == "arb: interrupted" and all(line.startswith("sweep: ") for line in lines[:-1]), "\n".join(lines)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            sweep = s.scalars(select(Sweep)).one()
            reason = f"stopped: {'SIGTERM' if sigterm else 'SIGINT'}"  # the signal's name, as arb run says it
            assert (sweep.status, sweep.status_reason) == ("failed", reason)
    finally:
        engine.dispose()


class FakeLocalCluster:
    """What an interrupted sweep's exit uses of a LocalCluster: its nannies, its loop (``sync``), ``close``."""

    def __init__(self, calls: list[tuple[str, float | None]]) -> None:
        self.calls = calls
        self.workers = {name: self.Nanny(name, calls) for name in ("w0", "w1")}

    class Nanny:
        def __init__(self, name: str, calls: list[tuple[str, float | None]]) -> None:
            self.name, self.calls = name, calls

        async def close(self, timeout: float, reason: str) -> None:
            self.calls.append((f"{self.name} closed", timeout))

    def sync(self, stop: Callable[[], Awaitable[None]]) -> None:
        asyncio.run(stop())

    def close(self) -> None:
        self.calls.append(("cluster closed", None))


def test_an_interrupted_sweep_closes_its_workers_with_a_short_grace() -> None:
    """Ctrl-C does not wait for the running replays: every worker is closed with STOP_WORKERS_S of grace (then
    killed) before the cluster closes, where dask would wait for a replay to finish. Checked on the calls, not
    on a clock: the Ctrl-C test above measures the sweep's own work, which a loaded machine does not stretch."""
    calls: list[tuple[str, float | None]] = []

    class Client:
        def close(self) -> None:
            calls.append(("client closed", None))

    scope = connected(None, 2, Client)
    scope._cluster, scope._client = FakeLocalCluster(calls), Client()  # as __enter__ leaves them, no processes
    scope.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert sorted(calls[:2]) == [("w0 closed", STOP_WORKERS_S), ("w1 closed", STOP_WORKERS_S)]
    assert calls[2:] == [("client closed", None), ("cluster closed", None)]
    assert STOP_WORKERS_S <= 1.0  # dask's own wait for a running replay is up to 4 s


def test_a_progress_line_is_written_whole_so_ctrl_c_never_leaves_it_open() -> None:
    """The plain progress line goes out in one write with its newline: a Ctrl-C lands between two writes,
    and one that landed between a line and its newline (print() writes them apart) put the top level's
    "arb: interrupted" on the end of it (seen once in the full suite as 'sweep: 0/1000000 replays done, 2
    runningarb: interrupted')."""
    from arb.commands.sweep import _Progress

    class Stream:
        def __init__(self) -> None:
            self.writes: list[str] = []

        def isatty(self) -> bool:
            return False

        def write(self, text: str) -> int:
            self.writes.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    stream = Stream()
    bar = _Progress(stream)
    bar.update(0, 2, 10)
    bar.update(0, 2, 10)  # unchanged: not written again
    bar.update(3, 2, 10)
    bar.close()
    assert stream.writes == ["sweep: 0/10 replays done, 2 running\n", "sweep: 3/10 replays done, 2 running\n"]


@pytest.fixture
def silent_scheduler() -> Iterator[str]:
    """A port that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_a_silent_scheduler_is_one_line_within_the_timeout(tmp_path: Path, silent_scheduler: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sweep.db"
    assert main(["sweep", "--db", f"sqlite:///{db}", "--fee", "0", "--scheduler", silent_scheduler,
                 "--scheduler-timeout", "0.5"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"arb: error: scheduler {silent_scheduler}: no answer from a dask scheduler within 0.5 s"], lines
    assert list(tmp_path.iterdir()) == []


def test_a_closed_scheduler_port_is_one_line_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sweep.db"
    address = f"tcp://127.0.0.1:{_closed_port()}"
    # A long timeout: a refused connection is not retried until it runs out (dask's Client retried for 30 s).
    assert main(["sweep", "--db", f"sqlite:///{db}", "--fee", "0", "--scheduler", address,
                 "--scheduler-timeout", "600"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"arb: error: scheduler {address}: cannot connect (Connection refused)"], lines
    assert list(tmp_path.iterdir()) == []

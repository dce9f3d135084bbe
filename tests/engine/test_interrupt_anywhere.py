"""Ctrl-C at any moment of an `arb run` or `arb sweep` process's life (#47): the run completes (exit 0, its
summary printed) or the process says "arb: interrupted" and exits 130 (README, arb/cli.py); never a
traceback, a line after "arb: interrupted", or death by the signal (exit -2).

SIGINT is sent at delays spread over a whole short run, measured first, each with a seeded jitter, to the
process group as a terminal's Ctrl-C is (a sweep's workers get it too). The clock starts once the process
catches SIGINT and 50 ms more: before that is CPython's own start-up (its "init_sys_streams" fatal error),
which no Python program can catch. Before the fix: tracebacks from KeyboardInterrupts in imports, in
SQLAlchemy's pool clean-up after the engine gave its handlers back, in the sweep's forkserver and nannies,
and exit -2 after "arb: interrupted" (Python 3.11's flag for an interrupt that passed through ``exec``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import config_with, trimmed_capture
from .procs import arb_command

STARTED_S = 0.05  # after the process catches SIGINT: the interpreter's own start-up is past


def _catches_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return bool(int(status.split("SigCgt:")[1].split()[0], 16) & (1 << (signal.SIGINT - 1)))


def _interrupted_at(argv: list[str], cwd: Path, delay: float | None) -> tuple[int, str, str, float]:
    """Run ``arb ARGV`` in its own session, Ctrl-C ``delay`` s after it started (None: never); its exit
    status, stdout, stderr and how long it ran."""
    started = time.monotonic()
    proc = subprocess.Popen(arb_command(*argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        if delay is not None:
            while not _catches_sigint(proc.pid):
                assert proc.poll() is None and time.monotonic() - started < 30, "never caught SIGINT"
                time.sleep(0.001)
            time.sleep(STARTED_S + delay)
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out, err, time.monotonic() - started


def _check_every_outcome(argv: list[str], cwd: Path, delays: int, completed: str, seed: int) -> None:
    status, out, err, took = _interrupted_at(argv, cwd, None)
    assert status == 0 and completed in out, err
    rng = random.Random(seed)
    seen = []
    for i in range(delays):
        delay = took * (i + rng.random()) / delays * 1.1  # a little past the end: the last moments
        status, out, err, _ = _interrupted_at(argv, cwd, delay)
        seen.append((round(delay, 2), status))
        lines = err.strip().splitlines()
        where = f"SIGINT at {delay:.2f} s: exit {status}\n{err[-3000:]}"
        assert "Traceback" not in err and "Exception ignored" not in err, where
        if status == 0:
            assert completed in out, where
        else:
            assert status == 130 and lines[-1:] == ["arb: interrupted"], where
    assert any(s == 130 for _, s in seen), seen  # the delays did reach the run while it ran


def test_ctrl_c_at_any_moment_of_arb_run(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:42:18", "00:42:26")
    config = config_with(tmp_path, fee="0", extra={
        'status = "auto"': 'status = "off"',
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"'})
    argv = ["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'arb.db'}"]
    _check_every_outcome(argv, tmp_path, 12, "run id", seed=47)


def test_ctrl_c_at_any_moment_of_a_tiny_sweep(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    capture = trimmed_capture(tmp_path, "00:42:18", "00:42:22")
    config = config_with(tmp_path, fee="0", extra={
        'status = "auto"': 'status = "off"',
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"'})
    argv = ["sweep", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'sweep.db'}", "--workers", "1",
            "--fee", "0,0.0001"]
    _check_every_outcome(argv, tmp_path, 8, "sweep", seed=47)

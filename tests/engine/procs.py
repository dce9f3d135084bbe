"""Running arb commands as real processes in tests: output collected by reader threads, bounded waits."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def arb_command(*args: str) -> list[str]:
    """``python -m arb.cli ARGS`` as a terminal starts it: Ctrl-C (SIGINT) and SIGQUIT at their defaults.

    A process inherits ignored signals, and Python installs no KeyboardInterrupt handler for a SIGINT ignored
    at its start. A test process may ignore them for a moment (C's ``system()`` in another thread does, for
    its child's run): an `arb sweep` started then went on replaying through the test's Ctrl-C, its
    /proc status showing SIGINT and SIGQUIT ignored (seen under 3 xdist workers). ``env`` resets both."""
    return ["env", "--default-signal=INT,QUIT", sys.executable, "-m", "arb.cli", *args]


class Proc:
    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
                 own_group: bool = False) -> None:
        """``own_group``: the process leads a process group of its own, as a job a shell or ``timeout`` starts
        (a signal to the group then reaches it and nothing of the test's)."""
        self.out: list[str] = []
        self.err: list[str] = []
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen = subprocess.Popen(arb_command(*args), cwd=cwd, env=full_env,
                                      process_group=0 if own_group else None,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._threads = [threading.Thread(target=_pump, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.popen.stdout, self.out), (self.popen.stderr, self.err))]
        for thread in self._threads:
            thread.start()

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        """Poll ``predicate`` until true; fail with the process output if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited ({self.popen.returncode}) before {what}:\n{self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.text()}")

    def text(self) -> str:
        return "STDOUT:\n" + "".join(self.out[-40:]) + "\nSTDERR:\n" + "".join(self.err[-40:])

    def finish(self, timeout: float = 60.0) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"process did not exit in {timeout}s:\n{self.text()}") from None
        self._close()
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._close()

    def _close(self) -> None:
        # The pipes end when the process does; collect the last lines, then close our ends.
        for thread in self._threads:
            thread.join(10)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def _pump(stream: object, sink: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line)


def cpu_seconds(pid: int) -> tuple[bool, float]:
    """Whether process ``pid`` has exited (a zombie its parent has not reaped yet), and the CPU time (user plus
    system, all its threads) it has used so far. The work a process does, unlike its wall time, is not
    stretched by a loaded machine making it wait for a core or the disk."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
    return fields[0] == "Z", (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_at_exit(pid: int, timeout: float) -> float | None:
    """The CPU time process ``pid`` (a child not yet reaped) had used when it exited; None if it still runs
    after ``timeout`` s. Its parent reaps it afterwards (``Popen.wait``): a reaped process's figures are gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited, cpu_s = cpu_seconds(pid)
        if exited:
            return cpu_s
        time.sleep(0.005)
    return None

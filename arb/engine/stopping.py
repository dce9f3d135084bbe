"""How a run is asked to stop: SIGINT/SIGTERM, a stop requested from any thread (a test, the replay's
caller being cancelled), or a supervised task given up on. Each sets the run's stop event once, with the
first reason given; the decision loop then takes no new opportunity and the lifecycle shuts down in order.
A second signal exits at once: committed transactions are safe, and an order in flight is found by
reconciliation on the next start. One request delivered twice (``timeout``: to the process and to its group)
is not a second signal (``arb/signals.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from arb.runtime.state import RunState
from arb.runtime.supervisor import TaskFailed
from arb.signals import Repeats


class Stopping:
    """The run's stop requests; ``install_signals`` is False where signals do not reach (a worker thread)."""

    def __init__(self, state: RunState, note: Callable[[str], None], *, install_signals: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.note = note  # a line for the user (the status view)
        self.install_signals = install_signals
        # A signal delivered twice is one request: without it ``timeout 3600 arb run`` ended every bounded run
        # forced, its run left "running" (marked crashed at the next start) and the rows not yet written lost.
        self.repeats = Repeats(clock)
        self.signals = 0  # signals received: a run stopped by one was interrupted
        self.fatal: TaskFailed | None = None  # a supervised task given up on: the run stops and ends ``failed``
        self.loop: asyncio.AbstractEventLoop | None = None  # the run's loop, when requests may come from others
        self._outside: dict[signal.Signals, Callable[[int, Any], Any] | int | None] = {}  # the handlers before install

    def request(self, reason: str) -> None:
        """Stop the run, from any thread: on the run's own loop, in its turn."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:  # from another thread (a replay run in its own thread): its loop's turn
                loop.call_soon_threadsafe(self._stop, reason)
                return
        self._stop(reason)

    def task_failed(self, failure: TaskFailed) -> None:
        """A supervised task was given up on: stop as on a signal; the run then ends failed with its line."""
        if self.fatal is None:
            self.fatal = failure
        self.request(str(failure))

    def _stop(self, reason: str) -> None:
        self.state.stop_reason = self.state.stop_reason or reason
        self.state.stop.set()

    def _on_signal(self, signame: str) -> None:
        if self.repeats.again():
            return  # the first request, delivered again (to the process and to its group)
        self.signals += 1
        if self.signals > 1:
            # Second Ctrl-C: leave now. Committed transactions are safe; an order in flight is found by
            # reconciliation on the next start.
            os._exit(130)
        self.request(signame)
        self.note(f"{signame}: stopping after the pair in flight (again to force)")

    def install(self) -> None:
        if not self.install_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._outside[sig] = signal.getsignal(sig)
            loop.add_signal_handler(sig, self._on_signal, sig.name)

    def remove(self) -> None:
        """The run's handlers off, and the handlers from before the run back: asyncio sets its signals to their
        defaults instead, and SIGTERM's default kills the process (a ``kill`` while the summary printed ended
        it by the signal, where ``arb`` takes SIGTERM as Ctrl-C, ``arb/cli.py``)."""
        if not self.install_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
            outside = self._outside.pop(sig, None)
            if outside is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(sig, outside)

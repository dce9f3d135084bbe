"""How a run is asked to stop: SIGINT/SIGTERM, a stop requested from any thread (a test, the replay's
caller being cancelled), or a supervised task given up on. Each sets the run's stop event once, with the
first reason given; the decision loop then takes no new opportunity and the lifecycle shuts down in order.
A second signal exits at once: committed transactions are safe, an order in flight is found by
reconciliation on the next start, and the run's row says first that it was forced out (``on_forced``, waited
for at most :data:`FORCED_RECORD_S`). One request delivered twice (``timeout``: to the process and to its group)
is not a second signal (``arb/signals.py``).
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from arb.runtime.state import RunState
from arb.runtime.supervisor import TaskFailed
from arb.signals import Repeats

# How long a forced exit waits for its run's row to say so: a database that answers takes milliseconds; one
# that does not (a lock held, a server gone) must not hold an exit the user asked for twice.
FORCED_RECORD_S = 2.0


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
        # When each signal reached Python, oldest first (``install``), and the last one taken: the loop handles
        # signals in its own turn, so two Ctrl-Cs a person pressed 0.4 s apart while the loop was busy (start-up's
        # migrations) were handled microseconds apart, and taken as one delivered twice.
        self._delivered: collections.deque[float] = collections.deque()
        self._delivered_at: float | None = None
        self.signals = 0  # signals received: a run stopped by one was interrupted
        self.fatal: TaskFailed | None = None  # a supervised task given up on: the run stops and ends ``failed``
        self.loop: asyncio.AbstractEventLoop | None = None  # the run's loop, when requests may come from others
        # Records a forced exit, given the signal, and returns the line that says so (the run's row, once it
        # exists: ``engine/lifecycle.py``).
        self.on_forced: Callable[[str], str] | None = None
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
        # A delivery Python saw (two of one signal before it looked are one, and share the last time taken).
        if self._delivered:
            self._delivered_at = self._delivered.popleft()
        if self.repeats.again(self._delivered_at):
            return  # the first request, delivered again (to the process and to its group)
        self.signals += 1
        if self.signals > 1:
            self._force(signame)
        self.request(signame)
        self.note(f"{signame}: stopping after the pair in flight (again to force)")

    def _force(self, signame: str) -> NoReturn:
        """Second Ctrl-C: leave now. Committed transactions are safe; an order in flight is found by
        reconciliation on the next start. What the exit leaves is recorded first (``on_forced``, in a thread of
        its own, waited for at most :data:`FORCED_RECORD_S`): without it the run's row stayed ``running`` and
        the next start said its process had died."""
        record = self.on_forced
        if record is not None:
            recording = threading.Thread(target=_recorded, args=(record, signame), name="forced-exit", daemon=True)
            recording.start()
            recording.join(FORCED_RECORD_S)
            if recording.is_alive():
                _say(f"arb: the run's row could not be written within {FORCED_RECORD_S:g} s; the next start "
                     "marks it crashed")
        else:  # before the run's row exists (or outside a run): nothing recorded to correct
            _say(f"arb: forced to exit by a second {signame}")
        os._exit(130)

    def install(self) -> None:
        if not self.install_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._outside[sig] = signal.getsignal(sig)
            loop.add_signal_handler(sig, self._on_signal, sig.name)
            signal.signal(sig, self._stamping(signal.getsignal(sig)))

    def _stamping(self, loop_handler: Any) -> Callable[[int, FrameType | None], None]:
        """The loop's own Python-level handler (asyncio's does nothing, uvloop's notes the signal), run as Python
        gets each signal, with the time it came: the loop calls :meth:`_on_signal` only in its next turn."""
        delivered, clock = self._delivered, self.repeats.clock

        def stamped(signum: int, frame: FrameType | None) -> None:
            delivered.append(clock())
            if callable(loop_handler):
                loop_handler(signum, frame)

        return stamped

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


def _recorded(record: Callable[[str], str], signame: str) -> None:
    try:
        _say(record(signame))
    except Exception as exc:  # noqa: BLE001 - the process is leaving: the failure is said, not raised
        _say(f"arb: could not record the forced exit ({type(exc).__name__}); the next start marks the run crashed")


def _say(line: str) -> None:
    """One line on stderr, written at once: ``os._exit`` follows, which flushes no buffer."""
    try:
        os.write(sys.stderr.fileno(), (line + "\n").encode())
    except (OSError, ValueError):  # stderr closed (ValueError: detached): nothing left to tell
        pass

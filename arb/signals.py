"""One stop request, however many times a signal brings it.

``timeout`` (and a service manager stopping a process group) sends its signal to the process and then to its
process group: a process busy on a core takes both, microseconds apart, where a person's second Ctrl-C comes a
tenth of a second or more after the first. The run's stop (``engine/stopping.py``) and the commands' SIGTERM
(``cli.py``) take a second signal that close to the first as the first delivered again, not as a second request.
Standard library only: ``arb/cli.py`` imports it as the process starts, before any command's modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ONE_REQUEST_S = 0.05
# The signal a command's Ctrl-C came by: ``arb/cli.py`` raises SIGTERM again as SIGINT (one handling for
# both) and says so here, so that what a stopped command records names the signal that stopped it.
_interrupted_by = "SIGINT"


def mark_terminated() -> None:
    """This process's Ctrl-C is a SIGTERM raised again as SIGINT (``arb/cli.py``)."""
    global _interrupted_by
    _interrupted_by = "SIGTERM"


def interrupted_by() -> str:
    """The signal that raised this process's KeyboardInterrupt: SIGINT (Ctrl-C) or SIGTERM."""
    return _interrupted_by


class Repeats:
    """Tells a signal delivered again from a new one, by when it is handled (``clock``: wall seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._first: float | None = None

    def again(self, at: float | None = None) -> bool:
        """Whether a signal that reached the process at ``at`` (default: now, as it is handled) is the first one
        delivered again (within :data:`ONE_REQUEST_S` of it)."""
        now = self.clock() if at is None else at
        if self._first is None:
            self._first = now
            return False
        return now - self._first < ONE_REQUEST_S

"""The one pacer of a simulation: an asyncio event loop whose clock is market time.

A replay (and paper mode on a capture) runs every part of the engine, the capture sources, the simulated
venues' latencies, the executor, the sandbox, on this loop. ``loop.time()`` is market time, in seconds since
the capture's first event (:class:`~arb.eventloop.clock.MarketClock` adds that origin back: small floats keep
microseconds exact where epoch seconds would not), and it moves only when nothing is ready to run: then it jumps to the next timer (speed 0, as fast as
possible), or waits until the wall clock reaches it at ``speed`` (speed 1 = recorded pace). Everything that waits
on market time simply awaits ``asyncio.sleep``; asyncio's timer heap then *is* the shared timeline, with a
deterministic order (by time, then by when the timer was set), so the same capture and config give the
same run whatever the speed and however busy the machine.

Time stands still while a simulated venue's request is on the wire (:attr:`SimulatedLoop.in_flight`): an
exchange with the in-process sandbox over loopback takes real microseconds but no market time, so its
answer never depends on how fast the machine is. Waiting for a thread (the decision writer) is not held
that way: nothing a decision depends on comes from a thread.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
# A periodic watcher's next tick: (grid origin, period, idle, timer, look or None); see SimulatedLoop._ticks.
_Tick = tuple[float, float, Callable[[], bool], asyncio.TimerHandle, Callable[[], object] | None]

HOLD_LIMIT_S = 1.0
POLL_EVERY = 32
# A paced run this far behind its schedule (the engine slower than ``speed``, a long hold) starts a new one
# from where it is, rather than racing through the market it missed.
MAX_LAG_S = 1.0
# True inside a ``time_held`` block of this task (and of tasks it starts there): what *this* code does takes
# no market time. Another task's hold (the other leg's request on the wire) stops the clock, not this code.
_HELD_HERE: ContextVar[bool] = ContextVar("arb_time_held_here", default=False)


class _PacingSelector:
    """Wraps the loop's selector: I/O first, then a jump of market time to the next timer."""

    def __init__(self, inner: selectors.BaseSelector, loop: SimulatedLoop) -> None:
        self._inner = inner
        self._loop = loop
        self._target: float | None = None  # the market time of the jump being paced
        self._deadline = 0.0  # the wall time it is due at
        self._anchor: tuple[float, float] | None = None  # (market, wall) times the schedule counts from
        self._held_since: float | None = None  # when time was first held at this market instant
        self._ready_turns = 0  # turns with callbacks ready since I/O was last polled

    def __getattr__(self, name: str) -> Any:  # register, unregister, modify, get_key, get_map, close
        return getattr(self._inner, name)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0:
            # Callbacks are ready at this market instant. A simulation's I/O is the sandbox's loopback
            # (time is held while it is awaited, so it is polled then) and thread answers and signals,
            # which no decision waits on: polling for them on every turn cost ~10% of a replay. They are
            # polled every POLL_EVERY turns, and whenever the loop would otherwise wait or jump.
            self._ready_turns += 1
            if self._ready_turns < POLL_EVERY:
                return []
        self._ready_turns = 0
        events = self._inner.select(0)
        if events or timeout == 0:
            return events
        loop = self._loop
        if timeout is None:  # no timer at all: only I/O (a signal, a thread's answer) can move the run on
            return self._inner.select(None)
        if loop.in_flight and not self._held_too_long():
            # Time is held (a request on the wire to the sandbox): wait for the I/O that ends it.
            return self._inner.select(min(timeout, 0.05))
        if loop.speed == 0 and loop._skip_idle_ticks():
            return []  # idle watchers' ticks moved past the quiet stretch: asyncio takes the next timer again
        target = loop._now + timeout
        if target <= loop._now:
            # A timer less than half a float step ahead (market time a year on: steps of ~4 ns, over the
            # loop's 1 ns resolution): the sum rounds back to now and asyncio would ask again forever.
            target = math.nextafter(loop._now, math.inf)
        if loop.speed > 0 and not loop.market_ended:
            if target != self._target:
                self._target, self._deadline = target, self._due(target)
            remaining = self._deadline - loop._wall()
            if remaining > 0:
                events = self._inner.select(remaining)
                if events:  # I/O at this market instant (a signal): handled before time moves
                    return events
        loop._now = target
        self._target = None
        self._held_since = None
        return []

    def _due(self, target: float) -> float:
        """The wall time market time ``target`` is due at: on one schedule from the anchor, not a wait from now
        per jump. A wait is rounded up to the selector's resolution (epoll's millisecond), so waits from now
        added a millisecond per jump: a paced run fell behind its speed by one per event (a paper run at
        speed 2000 took 15 s for 150 s of market, ten times its pace). On one schedule a wait rounded up
        puts the run ahead, and the jumps that are then already due do not wait."""
        loop = self._loop
        wall = loop._wall()
        anchor = self._anchor
        if anchor is None or wall - (anchor[1] + (loop._now - anchor[0]) / loop.speed) > MAX_LAG_S:
            anchor = self._anchor = (loop._now, wall)
        return anchor[1] + (target - anchor[0]) / loop.speed

    def _held_too_long(self) -> bool:
        """A hold lasting over :data:`HOLD_LIMIT_S` of real time is waiting on a timer of its own (a
        sandbox fault delaying its answer, a backoff), not on I/O: market time moves on rather than hang."""
        now = self._loop._wall()
        if self._held_since is None:
            self._held_since = now
        return now - self._held_since > HOLD_LIMIT_S


class SimulatedLoop(asyncio.SelectorEventLoop):
    """An event loop on market time (seconds from the run's origin), paced at ``speed``."""

    # asyncio's own selector, then (``__init__``) the :class:`_PacingSelector` wrapping it; typeshed does
    # not declare this private attribute of asyncio's selector loops.
    _selector: Any

    def __init__(self, speed: float = 0.0, *, wall: Callable[[], float] = time.monotonic) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), not {speed}")
        super().__init__()
        self._now = 0.0
        self.speed = speed
        self._wall = wall
        self.in_flight = 0  # simulated venue requests awaiting their answer: market time stands still
        self.market_ended = False  # the capture has ended: nothing after it takes market time (stop_market_time)
        self._selector = _PacingSelector(self._selector, self)
        # Periodic watchers' next ticks (:func:`tick`, :func:`every`): the future a tick resolves, or a look's
        # failure would -> (the tick's grid origin, its period, whether the watcher is idle, its timer, the
        # look it calls: None for a tick waited on); and the ids of those timers, to know one (a TimerHandle
        # hashes and compares in Python, by its time, which the ticks share with the events of the same
        # instant: ids are looked up in C). A timer is held in ``_ticks`` while its id is.
        self._ticks: dict[asyncio.Future[None], _Tick] = {}
        self._tick_timers: set[int] = set()

    def tick_after(self, every_s: float, idle: Callable[[], bool]) -> asyncio.Future[None]:
        """A future resolved one ``every_s`` from now: a periodic watcher's next tick (:func:`tick`)."""
        future = self.create_future()
        self._set_tick(future, self._now, every_s, idle, self._now + every_s, None)
        return future

    def looking_every(self, every_s: float, look: Callable[[], object], idle: Callable[[], bool]) -> asyncio.Future[None]:
        """``look()`` called one ``every_s`` from now and every ``every_s`` after, each from its timer
        (:func:`every`). The future fails with what a look raises (the looks stop then); cancelling it stops
        them."""
        future = self.create_future()
        self._set_tick(future, self._now, every_s, idle, self._now + every_s, look)
        return future

    def _set_tick(self, future: asyncio.Future[None], origin: float, every_s: float, idle: Callable[[], bool],
                  when: float, look: Callable[[], object] | None) -> None:
        timer = self.call_at(when, self._tick_due, future)
        self._ticks[future] = (origin, every_s, idle, timer, look)
        self._tick_timers.add(id(timer))

    def _tick_due(self, future: asyncio.Future[None]) -> None:
        *_, every_s, idle, timer, look = self._ticks.pop(future)
        self._tick_timers.discard(id(timer))
        if future.done():  # a cancelled watcher's tick
            return
        if look is None:
            future.set_result(None)
            return
        try:
            look()
        except Exception as exc:  # noqa: BLE001 - the watcher's task raises it: its supervisor reports it
            future.set_exception(exc)
            return
        # The next look from now, as the watcher's own next tick would be set (tick_after, once it ran)
        self._set_tick(future, self._now, every_s, idle, self._now + every_s, look)

    def _skip_idle_ticks(self) -> bool:
        """At a jump (nothing ready to run, no I/O): the ticks of watchers idle now that fall before the next
        other timer moved to their first grid point at or after it. Nothing runs before that timer, so every
        skipped tick would have found what the idle one found: nothing to do. True if any moved.

        A jump comes at every market instant, so the usual answer is one look at the next timer: when it is
        no watcher's tick, no tick falls before the next other timer and nothing moves. Only when a tick is
        next are the timers scanned (a few dozen) and the idle watchers asked."""
        # asyncio's own timer heap (this class is an asyncio loop); asyncio drops cancelled timers from its
        # head before it selects, so its first is the next timer to run.
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]  # asyncio's private heap: not in typeshed
        tick_timers = self._tick_timers
        if not scheduled or id(scheduled[0]) not in tick_timers:
            return False
        other = min((h.when() for h in scheduled if id(h) not in tick_timers and not h.cancelled()), default=None)
        if other is None or scheduled[0].when() >= other:
            return False  # the next other timer is due with the first tick (a watcher ticking as events come)
        moved = False
        for future, (origin, every_s, idle, timer, look) in list(self._ticks.items()):
            # A cancelled watcher's tick (its future done) is left to fire: it only drops its entry.
            if future.done() or timer.when() >= other or not idle():
                continue
            k = math.ceil((other - origin) / every_s)
            while origin + k * every_s < other:  # float rounding: never before the other timer
                k += 1
            timer.cancel()
            tick_timers.discard(id(timer))
            self._set_tick(future, origin, every_s, idle, origin + k * every_s, look)
            moved = True
        return moved

    def nothing_due(self) -> bool:
        """Whether a turn of the loop now would only come back to the caller: no callback ready, no timer due
        at this market instant (a cancelled one at the heap's head counts: asyncio drops it on its turn), no
        request on the wire (its answer is I/O the turn might read). I/O from threads and signals is polled
        at every jump, not on every turn (:class:`_PacingSelector`)."""
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]  # asyncio's private heap
        return (not self._ready and not self.in_flight  # type: ignore[attr-defined]  # asyncio's ready queue
                and (not scheduled or scheduled[0].when() >= self._now + self._clock_resolution))

    def time(self) -> float:
        return self._now

    @property
    def _clock_resolution(self) -> float:
        """asyncio runs the timers due before ``time() + _clock_resolution``: timers are due at exactly their
        market time (1 ns), and at least one float step past now, so a timer due now runs however far market
        time has come (a year on, a step is ~4 ns: ``now + 1e-9`` rounded back to now and a timer due now never
        ran, the loop spinning)."""
        return max(1e-9, 2 * math.ulp(self._now))

    @_clock_resolution.setter
    def _clock_resolution(self, value: float) -> None:
        pass  # asyncio's __init__ sets its own; market time needs the one above

    def watched_time(self) -> float:
        """Market time as someone watching a paced run sees it: while the loop waits out a jump to its next
        timer (speed > 0), the part of the jump the wall clock has covered, so a book updating once a second
        ages 0 -> 1000 ms on the status view rather than reading 0 all along. Never past the next timer;
        nothing the run decides reads it (``time()`` is the run's)."""
        selector: _PacingSelector = self._selector
        target = selector._target
        if self.speed > 0 and target is not None:
            remaining = max(0.0, selector._deadline - self._wall())
            return max(self._now, target - remaining * self.speed)
        return self._now


async def tick(every_s: float, idle: Callable[[], bool]) -> None:
    """Wait one tick of a periodic watcher, ``every_s`` of the run's clock. ``idle``: whether the watcher's
    next look would find nothing to do, and go on finding nothing while nothing else in the run happens (no
    quote resting for a guard, no change pending for an inventory watch). On a simulation at speed 0, a tick
    due in a quiet stretch of the market (a capture's gap over a weekend, a year) while ``idle()`` holds
    there is moved to the first grid point after the stretch: a gap costs the same whatever its length (a
    watcher ticking each second of market time made a year's gap ~1,000 s). Elsewhere ``asyncio.sleep``
    (a paced run's gap takes its time anyway)."""
    loop = running_simulation()
    if loop is None or loop.speed != 0:
        await asyncio.sleep(every_s)
        return
    await loop.tick_after(every_s, idle)


async def every(every_s: float, look: Callable[[], object], idle: Callable[[], bool]) -> None:
    """Call ``look()`` now and then once every ``every_s`` of the run's clock, until cancelled; raises what a
    look raises (a supervised watcher's task is restarted). ``idle`` as for :func:`tick`.

    For a watcher whose look is synchronous (the kill-switch file, the inventory watch). On a simulation at
    speed 0 each look after the first is its timer's own callback, not a turn of the watcher's task: a task
    woken once a market second cost as much as the look itself, and a capture with a book event a second
    per venue paid it as often as its events. The looks come when the task's would have: first at the
    instant's timers, before the tasks they wake."""
    look()
    loop = running_simulation()
    if loop is None or loop.speed != 0:
        while True:
            await asyncio.sleep(every_s)
            look()
    await loop.looking_every(every_s, look, idle)


def running_simulation() -> SimulatedLoop | None:
    """The running loop when it is a simulation, else None."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if isinstance(loop, SimulatedLoop) else None


def is_time_held() -> bool:
    """Whether what the calling task does now takes no market time: it runs inside its own ``time_held``
    block (the run's start and end, a request to the sandbox), or the market has ended. Outside a
    simulation: never. Time held by *another* task (the other leg on the wire) does not count: its hold
    pauses the clock for everyone, but a request sent now still travels its latency."""
    loop = running_simulation()
    return loop is not None and (loop.market_ended or (loop.in_flight > 0 and _HELD_HERE.get()))


def stop_market_time() -> None:
    """The market has ended: what the run does from now on takes no market time (:func:`is_time_held`: no
    latency, no throttle waits). Its remaining timers (an order's latency already under way, the watchers'
    polls, a client's close) fire at once, unpaced: there is no market left to wait for. A request on the
    wire to the sandbox still holds the clock until its answer arrives, as during the run."""
    loop = running_simulation()
    if loop is not None:
        loop.market_ended = True


class time_held:  # noqa: N801 - a context manager used as a function: ``with time_held():``
    """Market time stands still inside (a no-op on a live loop): for exchanges with a simulated venue, and
    for the run's start and end, whose requests are no part of the market's timeline.

    A class rather than ``contextlib.contextmanager``: each order a live venue sends passes through one,
    and a generator-based manager costs ~1 µs more on that path."""

    __slots__ = ("_loop", "_token")

    def __enter__(self) -> None:
        loop = self._loop = running_simulation()
        if loop is not None:
            loop.in_flight += 1
            self._token = _HELD_HERE.set(True)

    def __exit__(self, *exc_info: object) -> None:
        loop = self._loop
        if loop is not None:
            _HELD_HERE.reset(self._token)
            loop.in_flight -= 1


def run_simulation(main: Coroutine[Any, Any, T], speed: float) -> T:
    """``asyncio.run(main)`` on a :class:`SimulatedLoop` (signals, shutdown and cleanup as asyncio.run)."""
    with asyncio.Runner(loop_factory=lambda: SimulatedLoop(speed)) as runner:
        return runner.run(main)

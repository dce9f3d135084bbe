"""The one pacer of a simulation: an asyncio event loop whose clock is market time.

A replay (and paper mode on a capture) runs every part of the engine, the capture sources, the simulated
venues' latencies, the executor, the sandbox, on this loop. ``loop.time()`` is market time, in seconds since
the capture's first event (:class:`~arb.eventloop.clock.MarketClock` adds that origin back: small floats keep
microseconds exact where epoch seconds would not), and it moves only when nothing is ready to run: then it jumps to the next timer (speed 0, as fast as
possible), or waits until the wall clock reaches it at ``speed`` (speed 1 = recorded pace). Everything that waits
on market time simply awaits ``asyncio.sleep``; asyncio's timer heap then *is* the shared timeline, with a
deterministic order (by time, then by the heap's shape: the same pushes and pops give the same order), so the
same capture and config give the same run whatever the speed and however busy the machine.

Time stands still while a simulated venue's request is on the wire (:attr:`MarketTime.in_flight`): an
exchange with the in-process sandbox over loopback takes real microseconds but no market time, so its
answer never depends on how fast the machine is. Waiting for a thread (the decision writer) is not held
that way: nothing a decision depends on comes from a thread.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import math
import os
import selectors
import time
from asyncio import get_running_loop
from asyncio.base_events import MAXIMUM_SELECT_TIMEOUT  # type: ignore[attr-defined]  # asyncio's longest wait in one turn: a jump's longest (not in typeshed)
from collections.abc import Callable, Coroutine
from contextvars import Context, ContextVar
from heapq import heappop, heappush
from math import ulp  # the name itself: asked once an instant, math.ulp is a module lookup in compiled code
from threading import get_ident
from typing import Any, TypeVar

T = TypeVar("T")
# A periodic watcher's next tick: (grid origin, period, idle or None, timer, look or None); see MarketTime.ticks.
_Tick = tuple[float, float, Callable[[], bool] | None, asyncio.TimerHandle, Callable[[], object] | None]

HOLD_LIMIT_S = 1.0
POLL_EVERY = 32
# A paced run this far behind its schedule (the engine slower than ``speed``, a long hold) starts a new one
# from where it is, rather than racing through the market it missed.
MAX_LAG_S = 1.0
# True inside a ``time_held`` block of this task (and of tasks it starts there): what *this* code does takes
# no market time. Another task's hold (the other leg's request on the wire) stops the clock, not this code.
_HELD_HERE: ContextVar[bool] = ContextVar("arb_time_held_here", default=False)
# The market time of the simulation loop started last (SimulatedLoop.run_forever), until it is closed: running_market's
# answer without asking asyncio, whose get_running_loop() makes a getpid system call on every ask (Python
# 3.11's fork check; ~23,000 a replay of the bundled capture, three a market instant).
_started: MarketTime | None = None


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
        market = loop.market
        if timeout is None:  # no timer at all: only I/O (a signal, a thread's answer) can move the run on
            return self._inner.select(None)
        if market.in_flight and not self._held_too_long():
            # Time is held (a request on the wire to the sandbox): wait for the I/O that ends it.
            return self._inner.select(min(timeout, 0.05))
        if market.speed == 0 and market.skip_idle_ticks():
            return []  # idle watchers' ticks moved past the quiet stretch: asyncio takes the next timer again
        target = market.jump(timeout)
        if market.speed > 0 and not market.market_ended:
            if target != self._target:
                self._target, self._deadline = target, self._due(target)
            remaining = self._deadline - loop._wall()
            if remaining > 0:
                events = self._inner.select(remaining)
                if events:  # I/O at this market instant (a signal): handled before time moves
                    return events
        market.now = target
        self._target = None
        self._held_since = None
        return []

    def _due(self, target: float) -> float:
        """The wall time market time ``target`` is due at: on one schedule from the anchor, not a wait from now
        per jump. A wait is rounded up to the selector's resolution (epoll's millisecond), so waits from now
        added a millisecond per jump: a paced run fell behind its speed by one per event (a paper run at
        speed 2000 took 15 s for 150 s of market, ten times its pace). On one schedule a wait rounded up
        puts the run ahead, and the jumps that are then already due do not wait."""
        market = self._loop.market
        wall = self._loop._wall()
        anchor = self._anchor
        if anchor is None or wall - (anchor[1] + (market.now - anchor[0]) / market.speed) > MAX_LAG_S:
            anchor = self._anchor = (market.now, wall)
        return anchor[1] + (target - anchor[0]) / market.speed

    def _held_too_long(self) -> bool:
        """A hold lasting over :data:`HOLD_LIMIT_S` of real time is waiting on a timer of its own (a
        sandbox fault delaying its answer, a backoff), not on I/O: market time moves on rather than hang."""
        now = self._loop._wall()
        if self._held_since is None:
            self._held_since = now
        return now - self._held_since > HOLD_LIMIT_S


class MarketTime:
    """A simulation's market time and what moves it (:attr:`SimulatedLoop.market`): asked at every market instant
    (the time, the market source's sleep, the watchers' ticks), so held apart from the loop, which is an asyncio
    loop subclass, a Python object whose every field is read through its instance dict. Compiled, this is an
    extension type (simloop.pxd): its fields are C fields, its methods C calls.

    ``now``: market time, in seconds from the run's origin (the loop's ``time()``). ``speed``: 0 as fast as
    possible, 1 the recorded pace. ``in_flight``: simulated venue requests awaiting their answer (market time
    stands still). ``market_ended``: the capture has ended (:func:`stop_market_time`)."""

    def __init__(self, loop: SimulatedLoop, speed: float) -> None:
        self.loop = loop
        self.now = 0.0
        self.speed = speed
        self.in_flight = 0
        self.market_ended = False
        self.thread: int | None = None  # the thread the loop runs in while it runs (asyncio's _thread_id, in C)
        # Periodic watchers' next ticks (:func:`tick`, :func:`every`): the future a tick resolves, or a look's
        # failure would -> (the tick's grid origin, its period, whether the watcher is idle (None: never), its
        # timer, the look it calls: None for a tick waited on); and the ids of those timers, to know one (a
        # TimerHandle hashes in Python, by its time, which the ticks share with the events of the same instant:
        # ids are looked up in C). A timer is held in ``ticks`` while its id is.
        self.ticks: dict[asyncio.Future[None], _Tick] = {}
        self.tick_timers: set[int] = set()
        self.advances = 0  # sleeps done by advance() since one last took the loop's turns, to poll I/O
        # A sleep's timer that ran in its caller's step (advance): set again by the next sleep, rather than a
        # new handle at every market instant (sleep_timer).
        self.spare_timer: asyncio.TimerHandle | None = None

    def tick_after(self, every_s: float, idle: Callable[[], bool]) -> asyncio.Future[None]:
        """A future resolved one ``every_s`` from now: a periodic watcher's next tick (:func:`tick`)."""
        future = self.loop.create_future()
        self.set_tick(future, self.now, every_s, idle, self.now + every_s, None)
        return future

    def looking_every(self, every_s: float, look: Callable[[], object],
                      idle: Callable[[], bool] | None) -> asyncio.Future[None]:
        """``look()`` called one ``every_s`` from now and every ``every_s`` after, each from its timer
        (:func:`every`). The future fails with what a look raises (the looks stop then); cancelling it stops
        them."""
        future = self.loop.create_future()
        self.set_tick(future, self.now, every_s, idle, self.now + every_s, look)
        return future

    def set_tick(self, future: asyncio.Future[None], origin: float, every_s: float, idle: Callable[[], bool] | None,
                 when: float, look: Callable[[], object] | None) -> None:
        timer = self.loop.call_at(when, self.tick_due, future)
        self.ticks[future] = (origin, every_s, idle, timer, look)
        self.tick_timers.add(id(timer))

    def tick_due(self, future: asyncio.Future[None]) -> None:
        """A watcher's tick, its timer's callback: its look, or its waiting task woken."""
        ticks = self.ticks
        _, every_s, idle, timer, look = ticks[future]
        if look is not None and not future.done():
            try:
                look()
            except Exception as exc:  # noqa: BLE001 - the watcher's task raises it: its supervisor reports it
                self.end_tick(future, timer)
                future.set_exception(exc)
                return
            # The next look from now, as the watcher's own next tick would be set (tick_after, once it ran), on
            # the timer that just ran: one push of asyncio's heap as call_at's, without a new handle every look;
            # its entry and its id stay where they are.
            now = self.now
            self.rearm(timer, now + every_s)
            ticks[future] = (now, every_s, idle, timer, look)
            return
        self.end_tick(future, timer)
        if not future.done():  # done: a cancelled watcher's tick
            future.set_result(None)

    def end_tick(self, future: asyncio.Future[None], timer: asyncio.TimerHandle) -> None:
        del self.ticks[future]
        self.tick_timers.discard(id(timer))

    def sleep_timer(self, delay: float) -> asyncio.TimerHandle:
        """The timer of a :func:`sleep` of ``delay``, set as ``asyncio.sleep`` sets its own (``call_later``): the
        one the last sleep left when it ran without being awaited (:attr:`spare_timer`), or a new one. It wakes
        nothing until an awaited sleep gives it a future."""
        timer, self.spare_timer = self.spare_timer, None
        if timer is None:
            return self.loop.call_at(self.now + delay, _wake, None)
        self.rearm(timer, self.now + delay)
        return timer

    def rearm(self, timer: asyncio.TimerHandle, when: float) -> None:
        """A timer that has run set again for ``when``, as ``call_at`` sets a new one (the same push of asyncio's
        heap, so timers due at one instant still run in the order asyncio's heap gives them)."""
        timer._when = when  # type: ignore[attr-defined]  # asyncio's private TimerHandle fields, as call_at sets them
        heappush(self.loop._scheduled, timer)  # type: ignore[attr-defined]  # asyncio's private heap
        timer._scheduled = True  # type: ignore[attr-defined]

    def skip_idle_ticks(self) -> bool:
        """At a jump (nothing ready to run, no I/O): the ticks of watchers idle now that fall before the next
        other timer moved to their first grid point at or after it. Nothing runs before that timer, so every
        skipped tick would have found what the idle one found: nothing to do. True if any moved.

        A jump comes at every market instant, so the usual answer is one look at the next timer: when it is
        no watcher's tick, no tick falls before the next other timer and nothing moves. Only when a tick is
        next are the timers scanned (a few dozen) and the idle watchers asked."""
        # asyncio's own timer heap; asyncio drops cancelled timers from its head before it selects, so its first
        # is the next timer to run.
        scheduled: list[asyncio.TimerHandle] = self.loop._scheduled  # type: ignore[attr-defined]  # asyncio's private heap: not in typeshed
        tick_timers = self.tick_timers
        if not scheduled or id(scheduled[0]) not in tick_timers:
            return False
        other = None  # the next other timer's time (a loop, not min() over a generator: a closure, which a cpdef
        for h in scheduled:  # method of the compiled class cannot hold)
            if id(h) not in tick_timers and not h.cancelled() and (other is None or h.when() < other):
                other = h.when()
        if other is None or scheduled[0].when() >= other:
            return False  # the next other timer is due with the first tick (a watcher ticking as events come)
        moved = False
        for future, (origin, every_s, idle, timer, look) in list(self.ticks.items()):
            # A cancelled watcher's tick (its future done) is left to fire: it only drops its entry.
            if future.done() or timer.when() >= other:
                continue
            k = math.ceil((other - origin) / every_s)
            while origin + k * every_s < other:  # float rounding: never before the other timer
                k += 1
            if idle is None:
                # A look outside the run (every's idle=None): one look, at the stretch's last grid point. Moved
                # past the stretch like an idle one, it would move past the next stretch too, and a capture
                # with an instant in every second but none on the grid would never be looked at again.
                k -= 1
                while k > 1 and origin + k * every_s >= other:
                    k -= 1
                if origin + k * every_s <= timer.when():
                    continue  # the stretch's last grid point already: the look is due there
            elif not idle():
                continue
            timer.cancel()
            tick_timers.discard(id(timer))
            self.set_tick(future, origin, every_s, idle, origin + k * every_s, look)
            moved = True
        return moved

    def advance(self, timer: asyncio.TimerHandle) -> Advanced:
        """A sleep's ``timer`` (:meth:`sleep_timer`, set as ``asyncio.sleep`` sets its own) brought to, in the caller's step, where the
        loop's turns would have brought it: every jump of market time and every batch of due timers exactly as
        a turn takes them (the same pops of asyncio's heap, in the same order), as long as the loop holds
        nothing but the watchers' ticks (:func:`every`) before it. A capture's instants are as many as its
        market seconds or more: the two turns of each sleep (a jump to its timer, then its task woken) cost as
        much as the watchers' looks.

        ``DONE``: market time is at the timer's, taken off the heap in its batch (nothing else to run first: the
        caller goes on as its woken task would). ``YIELD``: the timer taken, and the looks of its batch left work
        to run before its task: the caller yields one turn. ``WAIT``: anything else (a callback ready, a request on the wire,
        another timer, a cancelled one at the head, a look's work before the timer's batch, and every
        :data:`POLL_EVERY` th sleep, so that I/O, a signal or a thread's answer, is polled at a jump): the
        timer is where the turns so far left it, and the caller awaits it.

        Everything runs when, and in the order, the turns would have run it (``tests/eventloop/
        test_turn_free_sleep.py`` holds it to ``asyncio.sleep``). What can differ is which turn a look's work
        falls in when a tick after the timer in its batch leaves some (an alert sent): it runs after the
        caller's step as it would have, but a timer that step sets for its own instant then runs before that
        work's own follow-ups rather than after them."""
        loop = self.loop
        ready: collections.deque[asyncio.Handle] = loop._ready  # type: ignore[attr-defined]  # asyncio's ready queue
        if self.speed != 0 or self.in_flight or self.market_ended or ready:
            return _WAIT
        self.advances += 1
        if self.advances == POLL_EVERY:
            self.advances = 0
            return _WAIT
        scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]  # asyncio's private heap
        tick_timers = self.tick_timers
        # Handles' fields are read directly (``_when``, ``_cancelled``: what their when() and cancelled() return)
        # here and in _only_ticks_before: this runs at every market instant, a method call each costs as much
        # as the comparison it feeds.
        while True:  # one jump and its batch, as one turn of asyncio's (BaseEventLoop._run_once) takes them
            head = scheduled[0]  # the timer itself is in the heap until its batch
            if head._cancelled or (head is not timer and id(head) not in tick_timers):
                return _WAIT
            timeout = min(head._when - self.now, MAXIMUM_SELECT_TIMEOUT)  # type: ignore[attr-defined]
            if timeout <= 0:
                return _WAIT  # due now: the loop's next turn runs it
            # As at the selector's jump; the timer is a timer other than a tick, so when the head is due with it
            # or after it, no tick falls before the next other timer and none moves.
            if head._when < timer._when and self.skip_idle_ticks():  # type: ignore[attr-defined]
                continue
            now = self.jump(timeout)
            end = now + _resolution_at(now)
            if not _only_ticks_before(scheduled, tick_timers, end, timer, 0):
                return _WAIT
            self.now = now
            batch: list[asyncio.TimerHandle] = []
            at = -1
            while scheduled and scheduled[0]._when < end:  # type: ignore[attr-defined]
                handle = heappop(scheduled)
                handle._scheduled = False  # type: ignore[attr-defined]  # as asyncio's turn marks it
                if handle is timer:
                    at = len(batch)
                batch.append(handle)
            if at < 0:
                self.run_ticks(batch, 0, len(batch))
                if ready:
                    return _WAIT
                continue
            self.run_ticks(batch, 0, at)
            # The timer's own run is due here: a sleep's (sleep_timer) wakes no future until the sleep awaits it.
            if ready:
                # Work before the timer: its task's step comes after it. The ticks after the timer in the batch
                # still run before that work, as in their turn, and what they leave after the task.
                ready.extendleft(reversed(batch[at + 1:]))
                return _YIELD
            self.run_ticks(batch, at + 1, len(batch))  # what these leave runs after the caller's step, as after its task's
            return _DONE

    def run_ticks(self, batch: list[asyncio.TimerHandle], start: int, stop: int) -> None:
        """Run ``batch[start:stop]``, watchers' ticks due at once, as asyncio's turn runs its ready handles: each in
        its handle's context, one cancelled meanwhile (by a look before it) passed over. Called here rather than
        through the handle's ``_run``, an interpreted frame twice an instant: a tick's callback is
        :meth:`tick_due`, which reports a look's failure to the watcher's task itself."""
        for i in range(start, stop):
            handle = batch[i]
            if not handle._cancelled:  # what cancelled() returns, without its call
                handle._context.run(self.tick_due, handle._args[0])  # type: ignore[attr-defined]  # asyncio's private Handle fields

    def jump(self, timeout: float) -> float:
        """Market time ``timeout`` on from now: where a jump to the next timer takes it."""
        target = self.now + timeout
        if target <= self.now:
            # A timer less than half a float step ahead (market time a year on: steps of ~4 ns, over the
            # loop's 1 ns resolution): the sum rounds back to now and asyncio would ask again forever.
            target = math.nextafter(self.now, math.inf)
        return target

    def nothing_due(self) -> bool:
        """Whether a turn of the loop now would only come back to the caller: no callback ready, no timer due
        at this market instant (a cancelled one at the heap's head counts: asyncio drops it on its turn), no
        request on the wire (its answer is I/O the turn might read). I/O from threads and signals is polled
        at every jump, not on every turn (:class:`_PacingSelector`)."""
        loop = self.loop
        if loop._ready or self.in_flight:  # type: ignore[attr-defined]  # asyncio's ready queue
            return False
        scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]  # asyncio's private heap
        now = self.now
        return not scheduled or scheduled[0]._when >= now + _resolution_at(now)  # type: ignore[attr-defined]


class _Timer(asyncio.TimerHandle):
    """asyncio's timer, compared as it compares them (by time alone), the comparison compiled with this module:
    asyncio's heap compares its timers a few times an instant, each an interpreted ``TimerHandle.__lt__``."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        # Every timer of a simulation's loop is one (call_at): its type first, one pointer comparison.
        if type(other) is _Timer or isinstance(other, asyncio.TimerHandle):
            return self._when < other._when  # type: ignore[attr-defined]  # asyncio's private field
        return NotImplemented


class SimulatedLoop(asyncio.SelectorEventLoop):
    """An event loop on market time (seconds from the run's origin), paced at ``speed``; its market time and the
    watchers' ticks are :attr:`market`'s."""

    # asyncio's own selector, then (``__init__``) the :class:`_PacingSelector` wrapping it; typeshed does
    # not declare this private attribute of asyncio's selector loops.
    _selector: Any
    # The class of :attr:`market` (a test's subclass can replace its methods: the compiled class's are C).
    market_time: type[MarketTime] = MarketTime

    def __init__(self, speed: float = 0.0, *, wall: Callable[[], float] = time.monotonic) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), not {speed}")
        super().__init__()
        self.market = self.market_time(self, speed)
        self._wall = wall
        self._selector = _PacingSelector(self._selector, self)

    def run_forever(self) -> None:
        global _started
        market = _started = self.market
        running = market.thread
        market.thread = get_ident()
        try:
            super().run_forever()
        finally:
            market.thread = running  # None, unless this was a second run_forever, refused while the first runs

    def close(self) -> None:
        global _started
        if _started is self.market:
            _started = None
        super().close()

    def call_at(self, when: float, callback: Callable[..., object], *args: Any,  # type: ignore[override]  # typeshed's is
                context: Context | None = None) -> asyncio.TimerHandle:  # generic over the arguments' types: the same call
        """asyncio's ``call_at``, its timer a :class:`_Timer`."""
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]  # asyncio's private check
        if self.get_debug():
            self._check_thread()  # type: ignore[attr-defined]
            self._check_callback(callback, "call_at")  # type: ignore[attr-defined]
        timer = _Timer(when, callback, args, self, context)
        if timer._source_traceback:  # type: ignore[attr-defined]
            del timer._source_traceback[-1]  # type: ignore[attr-defined]
        heappush(self._scheduled, timer)  # type: ignore[attr-defined]  # asyncio's private heap
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def time(self) -> float:
        return self.market.now

    @property
    def _clock_resolution(self) -> float:
        """asyncio runs the timers due before ``time() + _clock_resolution``: timers are due at exactly their
        market time (1 ns), and at least one float step past now, so a timer due now runs however far market
        time has come (a year on, a step is ~4 ns: ``now + 1e-9`` rounded back to now and a timer due now never
        ran, the loop spinning)."""
        return _resolution_at(self.market.now)

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
        market = self.market
        if market.speed > 0 and target is not None:
            remaining = max(0.0, selector._deadline - self._wall())
            return max(market.now, target - remaining * market.speed)
        return market.now


def _only_ticks_before(scheduled: list[asyncio.TimerHandle], tick_timers: set[int], end: float,
                       timer: asyncio.TimerHandle, i: int) -> bool:
    """Whether every timer due before ``end`` in the branch of asyncio's heap ``scheduled`` from its entry ``i``
    down is ``timer`` or a watcher's tick (``tick_timers``: their ids), none cancelled: walked down the branches
    that hold one (the few due, and their children: as deep as the heap, a few levels). A C function when
    compiled (simloop.pxd): run at every market instant."""
    if i >= len(scheduled):
        return True
    handle = scheduled[i]
    if not handle._when < end:  # type: ignore[attr-defined]
        return True
    if handle._cancelled or (handle is not timer and id(handle) not in tick_timers):
        return False
    return (_only_ticks_before(scheduled, tick_timers, end, timer, 2 * i + 1)
            and _only_ticks_before(scheduled, tick_timers, end, timer, 2 * i + 2))


def _resolution_at(now: float) -> float:
    """The loop's clock resolution at market time ``now`` (``SimulatedLoop._clock_resolution``)."""
    return max(1e-9, 2 * ulp(now))


async def tick(every_s: float, idle: Callable[[], bool]) -> None:
    """Wait one tick of a periodic watcher, ``every_s`` of the run's clock. ``idle``: whether the watcher's
    next look would find nothing to do, and go on finding nothing while nothing else in the run happens (no
    quote resting for a guard, no change pending for an inventory watch). On a simulation at speed 0, a tick
    due in a quiet stretch of the market (a capture's gap over a weekend, a year) while ``idle()`` holds
    there is moved to the first grid point after the stretch: a gap costs the same whatever its length (a
    watcher ticking each second of market time made a year's gap ~1,000 s). Elsewhere ``asyncio.sleep``
    (a paced run's gap takes its time anyway)."""
    market = running_market()
    if market is None or market.speed != 0:
        await asyncio.sleep(every_s)
        return
    await market.tick_after(every_s, idle)


class Advanced(enum.Enum):
    """What :meth:`MarketTime.advance` did with a sleep's timer."""

    DONE = enum.auto()
    YIELD = enum.auto()
    WAIT = enum.auto()


# The members as module names for the code that returns and tests them once every market instant: an attribute of
# an Enum class goes through its metaclass's __getattr__ hook, ~900 instructions a read.
_DONE, _YIELD, _WAIT = Advanced.DONE, Advanced.YIELD, Advanced.WAIT


async def sleep(delay: float) -> None:
    """``asyncio.sleep(delay)``, done in the caller's step where the loop's turns would only run the watchers'
    ticks on the way (:meth:`MarketTime.advance`): the market source's wait for its next instant."""
    market = running_market()
    if market is None or market.speed != 0:
        await asyncio.sleep(delay)
        return
    timer = market.sleep_timer(delay)
    advanced = market.advance(timer)
    if advanced is not _WAIT:
        market.spare_timer = timer  # it ran: the next sleep sets it again
        if advanced is _YIELD:
            await asyncio.sleep(0)
        return
    # Awaited: the future its run resolves, made only now (a sleep advanced in the caller's step needs none).
    future = market.loop.create_future()
    timer._args = (future,)  # asyncio's private Handle field: what the timer calls _wake with
    try:
        await future
    finally:
        timer.cancel()


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


async def every(every_s: float, look: Callable[[], object], idle: Callable[[], bool] | None = None) -> None:
    """Call ``look()`` now and then once every ``every_s`` of the run's clock, until cancelled; raises what a
    look raises (a supervised watcher's task is restarted). ``idle`` as for :func:`tick`; None (the default)
    for a look at something outside the run, which market time does not change and wall time can (the
    kill-switch file an operator puts): no stretch is idle for it, and at speed 0 a quiet stretch takes one
    look, at its last grid point, before the market moves on.

    For a watcher whose look is synchronous (the kill-switch file, the inventory watch). On a simulation at
    speed 0 each look after the first is its timer's own callback, not a turn of the watcher's task: a task
    woken once a market second cost as much as the look itself, and a capture with a book event a second
    per venue paid it as often as its events. The looks come when the task's would have: first at the
    instant's timers, before the tasks they wake."""
    look()
    market = running_market()
    if market is None or market.speed != 0:
        while True:
            await asyncio.sleep(every_s)
            look()
    await market.looking_every(every_s, look, idle)


def running_market() -> MarketTime | None:
    """The running loop's :attr:`~SimulatedLoop.market` when it is a simulation, else None. Asked several times
    every market instant (the clock, the market source's sleep): the loop started last is the answer when it
    runs in this thread now (:attr:`MarketTime.thread`); any other (two simulations on two
    threads, none) is asked of asyncio."""
    started = _started
    if started is not None and started.thread == get_ident():
        return started
    try:
        loop = get_running_loop()  # the name imported
    except RuntimeError:
        return None
    return loop.market if isinstance(loop, SimulatedLoop) else None


def running_simulation() -> SimulatedLoop | None:
    """The running loop when it is a simulation, else None (:func:`running_market`)."""
    market = running_market()
    return None if market is None else market.loop


def _forget_started() -> None:
    """In a child forked from a running simulation: its parent's loop is not running here (as asyncio resets
    its running loop in a forked child)."""
    global _started
    _started = None


if hasattr(os, "register_at_fork"):  # POSIX; where there is no fork there is nothing to forget
    os.register_at_fork(after_in_child=_forget_started)


def is_time_held() -> bool:
    """Whether what the calling task does now takes no market time: it runs inside its own ``time_held``
    block (the run's start and end, a request to the sandbox), or the market has ended. Outside a
    simulation: never. Time held by *another* task (the other leg on the wire) does not count: its hold
    pauses the clock for everyone, but a request sent now still travels its latency."""
    market = running_market()
    return market is not None and (market.market_ended or (market.in_flight > 0 and _HELD_HERE.get()))


def stop_market_time() -> None:
    """The market has ended: what the run does from now on takes no market time (:func:`is_time_held`: no
    latency, no throttle waits). Its remaining timers (an order's latency already under way, the watchers'
    polls, a client's close) fire at once, unpaced: there is no market left to wait for. A request on the
    wire to the sandbox still holds the clock until its answer arrives, as during the run."""
    market = running_market()
    if market is not None:
        market.market_ended = True


class time_held:  # noqa: N801 - a context manager used as a function: ``with time_held():``
    """Market time stands still inside (a no-op on a live loop): for exchanges with a simulated venue, and
    for the run's start and end, whose requests are no part of the market's timeline.

    A class rather than ``contextlib.contextmanager``: each order a live venue sends passes through one,
    and a generator-based manager costs ~1 µs more on that path."""

    __slots__ = ("_market", "_token")

    def __enter__(self) -> None:
        market = self._market = running_market()
        if market is not None:
            market.in_flight += 1
            self._token = _HELD_HERE.set(True)

    def __exit__(self, *exc_info: object) -> None:
        market = self._market
        if market is not None:
            _HELD_HERE.reset(self._token)
            market.in_flight -= 1


def run_simulation(main: Coroutine[Any, Any, T], speed: float) -> T:
    """``asyncio.run(main)`` on a :class:`SimulatedLoop` (signals, shutdown and cleanup as asyncio.run)."""
    with asyncio.Runner(loop_factory=lambda: SimulatedLoop(speed)) as runner:
        return runner.run(main)

"""A run's stop requests by signal (``arb/engine/stopping.py``): the first stops the run in order, a second
exits at once (its run's row saying so first, waited for a bounded time), and one request delivered twice
(``timeout``: to the process and to its group) is one."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

from arb.engine import stopping
from arb.engine.stopping import Stopping
from arb.runtime.state import RunState
from arb.signals import ONE_REQUEST_S


class _Exited(Exception):
    pass


class _Clock:
    def __init__(self) -> None:
        self.s = 100.0

    def __call__(self) -> float:
        return self.s


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    codes: list[int] = []

    def _exit(code: int) -> None:
        codes.append(code)
        raise _Exited

    monkeypatch.setattr(stopping.os, "_exit", _exit)
    return codes


def _stopping(clock: _Clock, notes: list[str]) -> Stopping:
    return Stopping(RunState(), notes.append, install_signals=False, clock=clock)


def test_one_signal_delivered_twice_at_once_is_one_request(exits: list[int]) -> None:
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)
    s._on_signal("SIGTERM")
    clock.s += ONE_REQUEST_S / 10  # timeout's second delivery, to the process group, the same turn
    s._on_signal("SIGTERM")
    assert exits == []
    assert s.state.stop.is_set() and s.state.stop_reason == "SIGTERM"
    assert s.signals == 1
    assert notes == ["SIGTERM: stopping after the pair in flight (again to force)"]


def test_a_second_signal_after_the_first_exits_at_once(exits: list[int], capfd: pytest.CaptureFixture[str]) -> None:
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)
    s._on_signal("SIGINT")
    clock.s += 0.15  # a person's second Ctrl-C
    with pytest.raises(_Exited):
        s._on_signal("SIGINT")
    assert exits == [130]
    assert capfd.readouterr().err == "arb: forced to exit by a second SIGINT\n"  # no run recorded yet


def test_a_forced_exit_is_recorded_before_the_process_leaves(exits: list[int],
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)
    recorded: list[str] = []

    def record(signame: str) -> str:
        assert exits == []  # before os._exit, not after
        recorded.append(signame)
        return "arb: run 7 recorded as crashed: forced to exit by a second SIGINT"

    s.on_forced = record
    s._on_signal("SIGINT")
    clock.s += 0.15
    with pytest.raises(_Exited):
        s._on_signal("SIGINT")
    assert (recorded, exits) == (["SIGINT"], [130])
    assert capfd.readouterr().err == "arb: run 7 recorded as crashed: forced to exit by a second SIGINT\n"


def test_a_forced_exit_does_not_wait_on_a_record_that_hangs(exits: list[int], monkeypatch: pytest.MonkeyPatch,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    """A database that does not answer (a lock held, a server gone) does not hold the exit the user asked for
    twice: the record is waited for at most ``FORCED_RECORD_S``, and the line says the row was not written."""
    monkeypatch.setattr(stopping, "FORCED_RECORD_S", 0.01)
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)
    release = threading.Event()
    s.on_forced = lambda _signame: (release.wait(), "written after the exit")[1]
    s._on_signal("SIGTERM")
    clock.s += 1
    try:
        with pytest.raises(_Exited):
            s._on_signal("SIGINT")
        err = capfd.readouterr().err  # as the process left (os._exit ends the recording thread with it)
    finally:
        release.set()
        for left in [t for t in threading.enumerate() if t.name == "forced-exit"]:
            left.join()  # here the process goes on: its line is not left for another test's output
    assert exits == [130]
    assert err == "arb: the run's row could not be written within 0.01 s; the next start marks it crashed\n"


def test_a_record_that_fails_is_said_and_the_process_still_leaves(exits: list[int],
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)

    def record(_signame: str) -> str:
        raise OSError("disk full")

    s.on_forced = record
    s._on_signal("SIGINT")
    clock.s += 1
    with pytest.raises(_Exited):
        s._on_signal("SIGINT")
    assert exits == [130]
    assert capfd.readouterr().err == ("arb: could not record the forced exit (OSError); the next start marks "
                                      "the run crashed\n")


def test_a_delivery_repeated_does_not_hide_a_later_second_signal(exits: list[int]) -> None:
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)
    s._on_signal("SIGTERM")
    s._on_signal("SIGTERM")  # the same request again: ignored
    clock.s += 5
    with pytest.raises(_Exited):
        s._on_signal("SIGINT")
    assert exits == [130]


async def test_the_handlers_from_before_the_run_are_back_once_it_removes_its_own() -> None:
    """asyncio sets a signal whose handler it removes to its default, and SIGTERM's kills the process: a
    ``kill`` while the run's summary printed ended ``arb`` by the signal, where the CLI takes it as Ctrl-C."""
    def outside(_signum: int, _frame: object) -> None:
        pass

    before = signal.signal(signal.SIGTERM, outside), signal.getsignal(signal.SIGINT)
    try:
        run = Stopping(RunState(), [].append)
        run.install()
        assert signal.getsignal(signal.SIGTERM) is not outside  # the run's own, on its loop
        run.remove()
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == (outside, before[1])
    finally:
        signal.signal(signal.SIGTERM, before[0])


@pytest.fixture
def exits_on(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``os._exit`` noted and returned from: a signal's callback raising would only reach the loop's handler."""
    codes: list[int] = []
    monkeypatch.setattr(stopping.os, "_exit", codes.append)
    return codes


async def _signals_handled(run: Stopping) -> None:
    """Until the loop has handled every signal Python got (it reads its self-pipe in a turn of its own)."""
    for _ in range(100):
        if not run._delivered:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(run._delivered)} signals not handled in 100 turns of the loop")


@pytest.mark.parametrize(("apart_s", "requests"), [(0.4, 2), (ONE_REQUEST_S / 10, 1)],
                         ids=["a person's second Ctrl-C", "one request delivered twice"])
async def test_signals_are_told_apart_by_when_they_came_not_when_the_loop_handled_them(
        exits_on: list[int], apart_s: float, requests: int) -> None:
    """Two Ctrl-Cs pressed 0.4 s apart while the loop was busy (start-up's migrations) reach it in one turn: by
    when they were handled they were one request, and the second did not force the exit. By when Python got
    each, they are two; ``timeout``'s two deliveries of one request stay one."""
    clock = _Clock()
    run = Stopping(RunState(), [].append, clock=clock)
    run.install()
    try:
        signal.raise_signal(signal.SIGINT)  # Python runs the handler at once; the loop has not had a turn
        clock.s += apart_s
        signal.raise_signal(signal.SIGINT)
        assert len(run._delivered) == 2 and run.signals == 0  # both came before the loop looked
        await _signals_handled(run)
    finally:
        run.remove()
    assert run.signals == requests
    assert exits_on == ([130] if requests == 2 else [])
    assert run.state.stop.is_set()

"""A run's stop requests by signal (``arb/engine/stopping.py``): the first stops the run in order, a second
exits at once, and one request delivered twice (``timeout``: to the process and to its group) is one."""

from __future__ import annotations

import signal

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


def test_a_second_signal_after_the_first_exits_at_once(exits: list[int]) -> None:
    clock, notes = _Clock(), []
    s = _stopping(clock, notes)
    s._on_signal("SIGINT")
    clock.s += 0.15  # a person's second Ctrl-C
    with pytest.raises(_Exited):
        s._on_signal("SIGINT")
    assert exits == [130]


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

"""What the risk gate tells the live surfaces: a read-only state, and one event per thing that happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from arb.execution.risk import RiskEvent, RiskGate, RiskLimits


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2021, 8, 20, 23, 59, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def gate(tmp_path: Path, clock: Clock) -> tuple[RiskGate, list[RiskEvent]]:
    events: list[RiskEvent] = []
    limits = RiskLimits(max_notional_per_trade=D(1000), max_unhedged_exposure=D(25), daily_loss_limit=D(50),
                        max_consecutive_failures=2, cooldown=timedelta(seconds=60),
                        kill_switch_file=tmp_path / "arb.kill")
    return RiskGate(limits, clock=clock, on_event=events.append), events


def test_a_breaker_trips_once_reads_open_then_half_open_and_state_changes_nothing(tmp_path: Path) -> None:
    clock = Clock()
    risk, events = gate(tmp_path, clock)
    risk.record_failure("gate")
    assert risk.state().breakers["gate"].state == "closed" and events == []
    risk.record_failure("gate")
    risk.record_failure("gate")  # already open: no second trip
    assert [(e.kind, e.venue) for e in events] == [("breaker_open", "gate")]
    assert risk.state().breakers["gate"].state == "open"
    clock.now += timedelta(seconds=61)
    assert risk.state().breakers["gate"].state == "half_open"
    assert risk._breakers["gate"].open_until is not None  # reading it did not half-open it
    assert risk.venue_blocked("gate") is None  # the check does
    risk.record_failure("gate")  # half-open: one failure opens it again, and that is a new trip
    assert [e.kind for e in events] == ["breaker_open", "breaker_open"]
    risk.record_success("gate")
    assert "gate" not in risk.state().breakers


def test_halt_kill_switch_daily_loss_and_auth_are_told_once_each(tmp_path: Path) -> None:
    clock = Clock()
    risk, events = gate(tmp_path, clock)
    risk.record_pnl(D("-30"))
    assert events == [] and not risk.state().daily_limit_reached
    risk.record_pnl(D("-20"))
    risk.record_pnl(D("-1"))
    assert [e.kind for e in events] == ["daily_loss_limit"]
    state = risk.state()
    assert state.daily_limit_reached and state.pnl_today == D(-51) and state.daily_loss_limit == D(50)
    clock.now += timedelta(minutes=2)  # past midnight UTC: a new day
    assert risk.state().pnl_today == 0 and not risk.state().daily_limit_reached
    risk.record_auth_failure("htx")
    risk.record_auth_failure("htx")
    risk.engage_kill_switch("halt:unresolved_leg:7")
    risk.engage_kill_switch("operator")  # already engaged: not told again
    assert [e.kind for e in events] == ["daily_loss_limit", "auth_failed", "halt"]
    assert risk.state().kill_switch and risk.state().kill_reason == "operator"  # the latest reason
    assert risk.state().auth_failed == {"htx"}


def test_the_kill_switch_file_is_told_when_a_check_first_sees_it(tmp_path: Path) -> None:
    risk, events = gate(tmp_path, Clock())
    assert not risk.state().kill_switch
    (tmp_path / "arb.kill").touch()
    assert risk.state().kill_switch and events == []  # reading the state tells nobody
    assert risk.kill_switch_engaged() and risk.kill_switch_engaged()
    assert [e.kind for e in events] == ["kill_switch"] and "arb.kill" in events[0].detail
    risk.add_exposure("gate", "LINK", D("0.5"))
    assert risk.state().exposure == {("gate", "LINK"): D("0.5")}

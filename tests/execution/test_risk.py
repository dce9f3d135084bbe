from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from arb.execution.risk import RiskGate, RiskLimits

D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 8, 8, 23, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def gate(tmp_path: Path, clock: Clock, **overrides: object) -> RiskGate:
    limits = dict(
        max_notional_per_trade=D("1000"),
        max_unhedged_exposure=D("50"),
        daily_loss_limit=D("20"),
        max_consecutive_failures=3,
        cooldown=timedelta(seconds=60),
        kill_switch_file=tmp_path / "KILL",
    )
    limits.update(overrides)
    return RiskGate(RiskLimits(**limits), clock=clock)  # type: ignore[arg-type]


def check(g: RiskGate, size: str = "10", price: str = "20") -> str | None:
    decision = g.check(
        buy_venue="gate", sell_venue="paper", base_asset="LINK", size=D(size), buy_limit=D(price), sell_limit=D(price)
    )
    assert decision.allowed == (decision.reason is None)
    return decision.reason


def test_clean_state_allows(tmp_path: Path) -> None:
    assert check(gate(tmp_path, Clock())) is None


def test_kill_switch_file_and_flag(tmp_path: Path) -> None:
    g = gate(tmp_path, Clock())
    (tmp_path / "KILL").touch()
    assert check(g) == "kill_switch"
    (tmp_path / "KILL").unlink()
    assert check(g) is None
    g.engage_kill_switch("SIGUSR1")
    assert check(g) == "kill_switch"


def test_max_notional(tmp_path: Path) -> None:
    g = gate(tmp_path, Clock())
    assert check(g, size="50", price="20") is None
    assert check(g, size="50.01", price="20") == "max_notional"


@pytest.mark.parametrize(("venue", "delta", "reason"), [("gate", "41", "max_exposure:gate:LINK"), ("paper", "-41", "max_exposure:paper:LINK")])
def test_max_unhedged_exposure_counts_the_one_sided_worst_case(tmp_path: Path, venue: str, delta: str, reason: str) -> None:
    g = gate(tmp_path, Clock())
    g.add_exposure(venue, "LINK", D(delta))
    assert check(g, size="10", price="1") == reason
    assert check(g, size="9", price="1") is None


def test_pairs_in_flight_count_each_others_worst_case(tmp_path: Path) -> None:
    """Two pairs in flight (``[execution] max_pairs_in_flight``) could each leave their size unhedged: a third
    is judged against both, on either side, and the room comes back as each pair ends."""
    g = gate(tmp_path, Clock())  # cap 50 LINK per venue
    first = g.hold(buy_venue="gate", sell_venue="paper", base_asset="LINK", size=D("20"))
    second = g.hold(buy_venue="gate", sell_venue="paper", base_asset="LINK", size=D("20"))
    assert check(g, size="10", price="1") is None  # 20 + 20 + 10 long on gate: at the cap
    assert check(g, size="10.01", price="1") == "max_exposure:gate:LINK"
    other = g.hold(buy_venue="paper", sell_venue="gate", base_asset="ETH", size=D("50"))  # another asset
    assert check(g, size="10", price="1") is None
    first()
    assert check(g, size="30", price="1") is None
    assert check(g, size="30.01", price="1") == "max_exposure:gate:LINK"
    reverse = g.hold(buy_venue="okx", sell_venue="gate", base_asset="LINK", size=D("45"))  # short on gate
    assert g.check(buy_venue="paper", sell_venue="gate", base_asset="LINK", size=D("5"), buy_limit=D(1),
                   sell_limit=D(1)).allowed
    assert g.check(buy_venue="paper", sell_venue="gate", base_asset="LINK", size=D("5.01"), buy_limit=D(1),
                   sell_limit=D(1)).reason == "max_exposure:gate:LINK"
    for release in (second, other, reverse):
        release()
    assert check(g, size="50", price="1") is None and check(g, size="50.01", price="1") == "max_exposure:gate:LINK"


def test_daily_loss_limit_resets_at_utc_midnight(tmp_path: Path) -> None:
    clock = Clock()
    g = gate(tmp_path, clock)
    g.record_pnl(D("-19.99"))
    assert check(g) is None
    g.record_pnl(D("-0.01"))
    assert check(g) == "daily_loss_limit"
    clock.now += timedelta(hours=1)
    assert check(g) is None


def test_circuit_breaker_opens_after_consecutive_failures_and_closes_after_cooldown(tmp_path: Path) -> None:
    clock = Clock()
    g = gate(tmp_path, clock)
    g.record_failure("gate")
    g.record_failure("gate")
    g.record_success("gate")  # a success resets the count
    g.record_failure("gate")
    g.record_failure("gate")
    assert check(g) is None
    g.record_failure("gate")
    assert check(g) == "circuit_open:gate"
    clock.now += timedelta(seconds=59)
    assert check(g) == "circuit_open:gate"
    clock.now += timedelta(seconds=1)
    assert check(g) is None
    g.record_failure("gate")  # half-open: one more failure reopens
    assert check(g) == "circuit_open:gate"


def test_auth_failure_blocks_the_venue_for_good(tmp_path: Path) -> None:
    clock = Clock()
    g = gate(tmp_path, clock)
    g.record_auth_failure("paper")
    clock.now += timedelta(days=2)
    assert check(g) == "auth_failed:paper"

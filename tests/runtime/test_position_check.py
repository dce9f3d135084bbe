"""A restart's position check (``runtime/position_check.py``): the venue's position against the sum of arb's
stored fills of that market in every run that traded it as a perpetual; a mismatch is one incident that
leaves the run trading."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy.orm import Session

from arb.execution.risk import RiskEvent
from arb.runtime.incidents import IncidentLog
from arb.runtime.position_check import check_positions
from arb.store import repo
from arb.store.db import make_engine
from arb.store.migrate import upgrade
from arb.store.models import Fill, Order, Run

T = datetime(2026, 11, 25, tzinfo=UTC)


def test_equal_figures_agree_and_a_difference_names_both() -> None:
    agree, differ = check_positions({("perp", "ETH/USDT"): D("-2"), ("perp", "BTC/USDT"): D("0.5")},
                                    {("perp", "ETH/USDT"): D("-2.00"), ("perp", "BTC/USDT"): D("0.25"),
                                     ("perp", "SOL/USDT"): D(0)})[::-1]
    assert agree.agrees and agree.describe() == "perp ETH/USDT position -2 on the venue, as arb's stored fills imply"
    assert not differ.agrees
    assert differ.describe() == ("perp BTC/USDT position 0.5 on the venue, arb's stored fills imply 0.25: 0.25 "
                                 "traded outside arb's records (trading on the venue's figure)")


def test_a_position_with_no_stored_fills_is_a_mismatch_and_fills_with_no_position_are_too() -> None:
    [only_fills, only_venue] = check_positions({("perp", "ETH/USDT"): D("-1")}, {("perp", "BTC/USDT"): D("3")})
    assert (only_fills.reported, only_fills.implied, only_venue.reported, only_venue.implied) == (0, 3, -1, 0)


def test_a_mismatch_is_an_incident_that_does_not_stop_the_run() -> None:
    log = IncidentLog(lambda: T)
    log.on_risk_event(RiskEvent("position_mismatch", "perp ETH/USDT position ...", "perp"))
    assert [i.kind for i in log.incidents] == ["position_mismatch"] and log.still_open() is None


def _run(session: Session, kinds: dict[str, dict[str, str]]) -> int:
    run = Run(mode="live", config_snapshot={"market_kinds": kinds}, started_at=T, status="completed")
    session.add(run)
    session.flush()
    return run.id


def _fill(session: Session, run_id: int, venue: str, side: str, amount: str, n: int) -> None:
    order = Order(run_id=run_id, venue=venue, symbol="ETH/USDT", side=side, type="limit", time_in_force="ioc", amount=D(amount),
                  price=D(2000), client_order_id=f"c{n}", status="filled", filled=D(amount), purpose="entry",
                  created_at=T, updated_at=T)
    session.add(order)
    session.flush()
    session.add(Fill(order_id=order.id, venue=venue, trade_id=f"t{n}", price=D(2000), amount=D(amount),
                     fee=D(0), fee_currency="USDT", ts=T))


def test_implied_positions_add_every_run_that_traded_the_market_as_a_perpetual(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        perp = {"perp": {"ETH/USDT": "linear_perpetual"}}
        first, second = _run(session, perp), _run(session, perp)
        spot_named_perp = _run(session, {"perp": {"ETH/USDT": "spot"}})  # once a spot venue of the same name
        _fill(session, first, "perp", "sell", "2", 1)
        _fill(session, second, "perp", "buy", "0.5", 2)
        _fill(session, spot_named_perp, "perp", "buy", "7", 3)
        _fill(session, first, "spot", "buy", "2", 4)
        implied = repo.implied_positions(session, {("perp", "ETH/USDT"), ("perp", "BTC/USDT")})
    assert implied == {("perp", "ETH/USDT"): D("-1.5"), ("perp", "BTC/USDT"): D(0)}

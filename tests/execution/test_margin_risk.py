"""Risk for margin: a margin account's ratio (arb/margin.py) alerts, halts new pairs there, and clears; the
liquidation price is where the ratio reaches 1."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from arb.execution.risk import RiskEvent, RiskGate, RiskLimits
from arb.margin import PositionState, account_margin


def _gate(events: list[RiskEvent]) -> RiskGate:
    return RiskGate(RiskLimits(D("1000"), D("100"), D("100"), margin_alert_ratio=D("0.5"),
                               margin_halt_ratio=D("0.8")), on_event=events.append)


def _check(gate: RiskGate) -> str | None:
    return gate.check(buy_venue="perp", sell_venue="spot", base_asset="ETH", size=D("0.1"), buy_limit=D("100"),
                      sell_limit=D("100")).reason


def test_the_ratio_alerts_then_halts_pairs_on_that_venue_then_clears() -> None:
    events: list[RiskEvent] = []
    gate = _gate(events)
    gate.record_margin("perp", D("0.3"))
    assert events == [] and _check(gate) is None
    gate.record_margin("perp", D("0.6"))
    assert [e.kind for e in events] == ["margin_alert"] and _check(gate) is None
    gate.record_margin("perp", D("0.85"), "; ETH/USDT 1 liquidated at 90")
    assert [e.kind for e in events] == ["margin_alert", "margin_halt"]
    assert "perp margin ratio 85.0%" in events[-1].detail and "liquidated at 90" in events[-1].detail
    assert _check(gate) == "margin_halt:perp" and gate.state().margin_halted == ["perp"]
    gate.record_margin("perp", D("0.85"))  # still there: said once
    assert len(events) == 2
    gate.record_margin("perp", D("0.1"))  # both cleared, in one read
    assert [e.kind for e in events[2:]] == ["margin_alert_cleared", "margin_halt_cleared"]
    assert _check(gate) is None and gate.state().margin_halted == []


def test_a_jump_through_both_thresholds_says_both() -> None:
    events: list[RiskEvent] = []
    _gate(events).record_margin("perp", D("0.95"))
    assert [e.kind for e in events] == ["margin_alert", "margin_halt"]


@given(amount=st.decimals("0.01", "50", places=3), entry=st.decimals("10", "5000", places=2),
       wallet=st.decimals("1", "100000", places=2), short=st.booleans())
def test_the_liquidation_price_is_where_the_ratio_reaches_one(amount: D, entry: D, wallet: D, short: bool) -> None:
    position = PositionState(-amount if short else amount, entry)
    [line] = account_margin(wallet, [("ETH/USDT", position, entry)], D("0.004")).positions
    if line.liquidation is None:  # a long whose wallet covers its whole notional: never liquidated
        assert not short and wallet >= amount * entry * (1 - D("0.004"))
        return
    at = account_margin(wallet, [("ETH/USDT", position, line.liquidation)], D("0.004"))
    assert at.margin_balance is not None and at.maintenance is not None
    # At that mark the margin balance is the maintenance margin (the price is kept to 1e-12: within that).
    assert abs(at.margin_balance - at.maintenance) <= amount * D("1e-11") + D("1e-12")
    if wallet > amount * entry * D("0.004"):  # not past it already: a long below its entry, a short above
        assert line.liquidation < entry if not short else line.liquidation > entry

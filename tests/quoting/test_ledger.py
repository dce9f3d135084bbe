"""The hedge ledger: every maker fill hedged exactly once, whatever order and however often fills are
reported; dust waits for the taker's minimum; short hedges retry with backoff and a widening limit, then
fail over to the leg policy; a side over the unhedged bound stops quoting."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain.market import Side
from arb.quoting.ledger import HedgeLedger, HedgeRules, MakerFill

D = Decimal
PRICE = D("100")


def rules(**overrides) -> HedgeRules:
    base = dict(taker_step=D("0.01"), taker_min_amount=D("0.05"), taker_min_notional=D("5"),
                max_unhedged=D("1"), max_attempts=3, retry_ms=100, widen_bps=D("10"))
    return HedgeRules(**(base | overrides))


def fill(trade_id: str, amount: str, side: Side = Side.BUY) -> MakerFill:
    return MakerFill(trade_id, side, D(amount), PRICE)


def test_a_fill_is_hedged_at_once_on_the_other_side():
    ledger = HedgeLedger(rules())
    [hedge] = ledger.on_fill(fill("t1", "0.30"), PRICE, now_ms=0)
    assert (hedge.side, hedge.amount, hedge.attempt, hedge.widen_bps) == (Side.SELL, D("0.30"), 1, 0)
    assert ledger.unhedged(Side.BUY) == D("0.30") and ledger.waiting(Side.BUY) == 0
    assert ledger.on_hedge_done(hedge.key, D("0.30"), now_ms=5) is False
    assert ledger.unhedged(Side.BUY) == 0 and ledger.hedged(Side.BUY) == D("0.30")


def test_a_duplicate_notification_never_hedges_twice():
    ledger = HedgeLedger(rules())
    assert len(ledger.on_fill(fill("t1", "0.30"), PRICE, 0)) == 1
    assert ledger.on_fill(fill("t1", "0.30"), PRICE, 1) == []
    assert ledger.filled(Side.BUY) == D("0.30")


def test_dust_below_the_taker_minimum_waits_and_is_shown_as_open():
    ledger = HedgeLedger(rules())
    assert ledger.on_fill(fill("t1", "0.03"), PRICE, 0) == []
    assert ledger.unhedged(Side.BUY) == D("0.03") and ledger.waiting(Side.BUY) == D("0.03")
    [hedge] = ledger.on_fill(fill("t2", "0.025"), PRICE, 1)  # 0.055 waiting: 0.05 in whole steps
    assert hedge.amount == D("0.05")
    assert ledger.waiting(Side.BUY) == D("0.005")


def test_the_minimum_notional_holds_a_hedge_back_too():
    ledger = HedgeLedger(rules(taker_min_notional=D("10")))
    assert ledger.on_fill(fill("t1", "0.09"), PRICE, 0) == []  # 9 quote < 10
    assert len(ledger.on_fill(fill("t2", "0.01"), PRICE, 0)) == 1


def test_a_short_hedge_retries_after_backoff_wider_then_fails_to_the_leg_policy():
    ledger = HedgeLedger(rules())
    [first] = ledger.on_fill(fill("t1", "0.50"), PRICE, 0)
    assert ledger.on_hedge_done(first.key, D("0.20"), now_ms=10) is False
    assert ledger.due(109, {Side.BUY: PRICE}) == []  # backoff: 100 ms after the first short answer
    [second] = ledger.due(110, {Side.BUY: PRICE})
    assert (second.amount, second.attempt, second.widen_bps) == (D("0.30"), 2, D("10"))
    assert ledger.on_hedge_done(second.key, D("0"), now_ms=120) is False
    assert ledger.due(319, {Side.BUY: PRICE}) == []  # doubled: 200 ms
    [third] = ledger.due(320, {Side.BUY: PRICE})
    assert third.widen_bps == D("20")
    assert ledger.on_hedge_done(third.key, D("0.10"), now_ms=330) is True  # third short answer: failed
    assert ledger.failed(Side.BUY) and not ledger.may_quote(Side.BUY)
    assert ledger.due(10_000, {Side.BUY: PRICE}) == []
    assert ledger.waiting(Side.BUY) == D("0.20")
    ledger.settled_by_flatten(Side.BUY, D("0.20"))
    assert ledger.unhedged(Side.BUY) == 0 and ledger.filled(Side.BUY) == D("0.50")


def test_a_full_hedge_resets_the_attempts():
    ledger = HedgeLedger(rules())
    [first] = ledger.on_fill(fill("t1", "0.50"), PRICE, 0)
    ledger.on_hedge_done(first.key, D("0.40"), 0)
    [second] = ledger.due(100, {Side.BUY: PRICE})
    ledger.on_hedge_done(second.key, D("0.10"), 100)
    [third] = ledger.on_fill(fill("t2", "0.20"), PRICE, 101)
    assert (third.attempt, third.widen_bps) == (1, 0)


def test_a_side_over_the_bound_stops_quoting_the_other_does_not():
    ledger = HedgeLedger(rules(max_unhedged=D("0.5")))
    [hedge] = ledger.on_fill(fill("t1", "0.60"), PRICE, 0)
    assert not ledger.may_quote(Side.BUY) and ledger.may_quote(Side.SELL)
    ledger.on_hedge_done(hedge.key, D("0.60"), 1)
    assert ledger.may_quote(Side.BUY)


amounts = st.integers(1, 300).map(lambda n: D(n).scaleb(-3))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Side)), amounts), min_size=1, max_size=25),
       st.randoms(use_true_random=False), st.lists(st.integers(0, 100), min_size=60, max_size=60))
def test_every_fill_is_hedged_exactly_once_whatever_the_order_and_the_repeats(trades, rnd, fill_pcts):
    """Fills reported in any order, each one to three times, hedges answered in any order with any partial
    fill: the ledger never has more hedged or in flight than was filled, and once every hedge fills, what
    was filled is hedged but for less than the taker minimum."""
    ledger = HedgeLedger(rules(max_attempts=10_000, retry_ms=0, taker_min_notional=D("0")))
    reports = [fill(f"t{i}", str(amount), side) for i, (side, amount) in enumerate(trades)]
    reports = [r for r in reports for _ in range(rnd.randint(1, 3))]
    rnd.shuffle(reports)
    pct = iter(fill_pcts)
    pending = []
    for now, report in enumerate(reports):
        pending += ledger.on_fill(report, PRICE, now)
        while pending and rnd.random() < 0.5:  # answer some hedges now, in any order
            hedge = pending.pop(rnd.randrange(len(pending)))
            filled = (hedge.amount * next(pct, 100) / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
            ledger.on_hedge_done(hedge.key, filled, now)
            pending += ledger.due(now, {Side.BUY: PRICE, Side.SELL: PRICE})
        for side in Side:
            assert 0 <= ledger.hedged(side) <= ledger.filled(side)
            assert ledger.waiting(side) >= 0
    while pending:  # the market calms: every hedge fills in full
        hedge = pending.pop()
        ledger.on_hedge_done(hedge.key, hedge.amount, 10_000)
        pending += ledger.due(10_000, {Side.BUY: PRICE, Side.SELL: PRICE})
    for side in Side:
        total = sum((D(str(a)) for s, a in trades if s is side), D(0))
        assert ledger.filled(side) == total
        assert ledger.in_flight == ()
        left = ledger.unhedged(side)
        assert left == total - ledger.hedged(side)
        assert 0 <= left < D("0.05")  # below the taker minimum: nothing more is hedgeable

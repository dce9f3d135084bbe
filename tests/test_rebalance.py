"""The rebalancing rule (``arb/rebalance.py``): a table of cases, and its properties on any balances: a plan
conserves the asset less its fees, brings every venue back within its band (when the fees are small against
it), is never below a route's minimum and never moves more than a source holds free or above its target."""

from __future__ import annotations

from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import given, settings

from arb.rebalance import Route, Target, out_of_band, plan, shares

D = Decimal
TWO = Target({"a": D("0.5"), "b": D("0.5")}, D("0.2"))


def _route(fee: str = "0", minimum: str = "0", delay_ms: int = 30_000) -> Route:
    return Route(D(fee), D(minimum), delay_ms, "TRC20")


def test_nothing_is_planned_within_the_band() -> None:
    assert plan("USDT", TWO, {"a": D(6000), "b": D(4000)}, {}, lambda s, d: _route(), 0) == []


def test_a_venue_out_of_its_band_is_brought_to_its_target_less_the_fee() -> None:
    """The source gives no more than its surplus: the fee comes out of what arrives."""
    [p] = plan("USDT", TWO, {"a": D("9987.05"), "b": D("12.95")}, {}, lambda s, d: _route("1", "10"), 5_000)
    assert (p.source, p.dest, p.amount, p.fee, p.received) == ("a", "b", D("4987.05"), D(1), D("4986.05"))
    assert (p.planned_ms, p.arrives_ms, p.network, p.minimum) == (5_000, 35_000, "TRC20", D(10))
    assert p.reason == "b holds 0.0013 of USDT, target 0.5 +- 0.2"
    assert D("12.95") + p.received == D(4999)  # the destination lands on its target, less the fee


def test_the_fee_is_added_when_the_source_has_room() -> None:
    three = Target({"a": D("0.5"), "b": D("0.25"), "c": D("0.25")}, D("0.1"))
    first, second = plan("USDT", three, {"a": D(7500), "b": D(500), "c": D(2000)}, {}, lambda s, d: _route("1"), 0)
    assert (first.source, first.dest, first.amount, first.received) == ("a", "b", D(2001), D(2000))  # b on 2500
    assert (second.source, second.dest, second.amount, second.received) == ("a", "c", D(499), D(498))  # a's rest


def test_what_is_on_its_way_counts_as_held() -> None:
    assert plan("USDT", TWO, {"a": D(5000), "b": D(0)}, {"b": D(5000)}, lambda s, d: _route(), 0) == []


def test_a_venue_that_cannot_fund_its_trading_is_out_of_band_within_the_shares() -> None:
    held = {"a": D(650), "b": D(350)}
    assert out_of_band("USDT", TWO, held) is None
    assert out_of_band("USDT", TWO, held, {"b": D(400)}) == "b USDT 350 cannot fund what its trading needs (400)"
    [p] = plan("USDT", TWO, held, {}, lambda s, d: _route(), 0, {"b": D(400)})
    assert (p.source, p.dest, p.amount) == ("a", "b", D(150))


def test_a_transfer_below_its_minimum_or_eaten_by_its_fee_is_not_planned() -> None:
    held = {"a": D(80), "b": D(20)}
    assert plan("ETH", TWO, held, {}, lambda s, d: _route(minimum="31"), 0) == []
    assert plan("ETH", TWO, held, {}, lambda s, d: _route(fee="40"), 0) == []
    assert len(plan("ETH", TWO, held, {}, lambda s, d: _route(minimum="30"), 0)) == 1


def test_locked_funds_are_not_moved() -> None:
    """The source's surplus counts what is on its way to it, but only what it holds free can leave."""
    [p] = plan("USDT", TWO, {"a": D(100), "b": D(0)}, {"a": D(900)}, lambda s, d: _route(), 0)
    assert p.amount == D(100)


_amount = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Target, dict[str, Decimal], Decimal, Decimal]:
    n = draw(st.integers(2, 4))
    venues = [f"v{i}" for i in range(n)]
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=n - 1, max_size=n - 1)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    target = Target({v: D(p) / 100 for v, p in zip(venues, parts, strict=True)},
                    D(draw(st.integers(5, 40))) / 100)
    held = {v: draw(_amount) for v in venues}
    total = sum(held.values(), D(0))
    # Fees and minimums small against the band (a plan otherwise may stop short of it, by design).
    fee = (total * target.band * D(draw(st.integers(0, 100))) / 100_000).quantize(D("0.0001"))
    minimum = (total * target.band * D(draw(st.integers(0, 100))) / 100_000).quantize(D("0.0001"))
    return target, held, fee, minimum


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_plans_conserve_the_asset_less_fees_respect_minimums_and_bring_venues_within_band(
        case: tuple[Target, dict[str, Decimal], Decimal, Decimal]) -> None:
    target, held, fee, minimum = case
    plans = plan("X", target, held, {}, lambda s, d: _route(str(fee), str(minimum)), 0)
    after = dict(held)
    for p in plans:
        assert p.amount >= p.minimum and p.amount > p.fee >= 0
        after[p.source] -= p.amount
        after[p.dest] += p.received
    moved_out = {v: sum((p.amount for p in plans if p.source == v), D(0)) for v in held}
    assert all(moved_out[v] <= held[v] for v in held)  # never more than it holds free
    assert all(after[v] >= 0 for v in held)
    assert sum(after.values(), D(0)) == sum(held.values(), D(0)) - sum((p.fee for p in plans), D(0))
    total = sum(held.values(), D(0))
    for p in plans:  # a source gives only what it holds above its target
        assert after[p.source] >= target.shares[p.source] * total - D("0.00000001") * len(plans)
    if out_of_band("X", target, held) is not None and fee == minimum == 0 and sum(held.values(), D(0)) >= 1:
        assert plans  # a venue out of its band is always answered when nothing stands in the way
    if sum(after.values(), D(0)) > 0 and (plans or out_of_band("X", target, held) is None):
        # Every venue within its band once the plans arrive (a rounding of 8 places aside).
        slack = (D(len(held)) * D("0.00000001") + minimum + fee * len(held)) / max(sum(after.values()), D(1))
        for venue, share in shares(after).items():
            assert abs(share - target.shares[venue]) <= target.band + slack, (venue, share, plans)

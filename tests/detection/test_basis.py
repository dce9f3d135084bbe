"""The basis decision with funding (arb/detection/basis.py, pure): the perpetual's next payment counts in the
open's edge with the position's sign (a carry position, short the perpetual, receives a positive rate; a
reverse one pays it), an adverse payment inside the lead closes a position whose close has not come back, and
with no funding known (or none inside the windows) the decision is the one without funding."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from arb.accounting import money
from arb.detection.basis import BasisBook, BasisRule, Funding, decide, funding_bps
from arb.detection.types import FeeMode
from arb.domain.market import MarketKind, MarketRules

NOW = 1_723_161_600_000
FEE = D("0.0002")
SPOT = ((D("1999.99"), D(10)),), ((D("2000.01"), D(10)),)  # (bids, asks)


def _book(venue: str, bids: tuple[tuple[D, D], ...], asks: tuple[tuple[D, D], ...]) -> BasisBook:
    kind = MarketKind.LINEAR_PERPETUAL if venue == "perp" else MarketKind.SPOT
    rules = MarketRules(venue, "ETH/USDT", D("0.01"), D("0.001"), D("0.001"), D(5), kind)
    return BasisBook(venue, bids, asks, rules, FEE, FeeMode.QUOTE, D(100), D(1_000_000), None, 0)


def _perp(bid: str, ask: str) -> BasisBook:
    return _book("perp", ((D(bid), D(10)),), ((D(ask), D(10)),))


def _rule(carry: bool = True, *, max_position: str = "2", horizon_s: int = 28_800, lead_s: int = 300) -> BasisRule:
    return BasisRule("ETH/USDT", "spot", "perp", D("0.5"), D(max_position), D(5), D(-5), carry,
                     horizon_s * 1000, lead_s * 1000)


def _funding(rate: str, mark: str, in_s: int) -> Funding:
    return Funding(D(rate), NOW + in_s * 1000, D(mark))


# Carry on a perpetual at 2001.00/2001.10 (spot 1999.99/2000.01): the open pair (buy spot at 2000.01, sell the
# perpetual at 2001.00, 0.5 each, both fees in quote) makes 1000.5 x 0.9998 - 1000.005 x 1.0002 = 0.094899
# USDT, 0.9490 bps of 1000.005: below open_bps 5 by 4.0510 bps. Reverse on a perpetual at 1998.90/1999.00:
# buy it at 1999.00, sell spot at 1999.99: 999.995 x 0.9998 - 999.5 x 1.0002 = 0.095101, 0.9515 bps of 999.5.
CARRY_PERP, REVERSE_PERP = ("2001.00", "2001.10"), ("1998.90", "1999.00")


@pytest.mark.parametrize(("carry", "rate", "mark", "term", "opens"), [
    # carry, short the perpetual: a positive rate is received; 2000.5 x 0.0005 / 2000.01 x 10,000 bps
    (True, "0.0005", "2000.5", D("2000.5") * D("0.0005") / D("2000.01") * 10_000, True),
    (True, "0.0004", "2000.5", D("2000.5") * D("0.0004") / D("2000.01") * 10_000, False),  # 0.949 + 4.0009 < 5
    (True, "-0.0005", "2000.5", -D("2000.5") * D("0.0005") / D("2000.01") * 10_000, False),  # paid: edge falls
    # reverse, long the perpetual: a negative rate is received; 1999 x 0.0005 / 1999.00 = exactly 5 bps
    (False, "-0.0005", "1999", D(5), True),
    (False, "0.0005", "1999", D(-5), False),
])
def test_the_next_payment_counts_in_the_open_edge_with_the_position_s_sign(
        carry: bool, rate: str, mark: str, term: D, opens: bool) -> None:
    rule = _rule(carry)
    spot, perp = _book("spot", *SPOT), _perp(*(CARRY_PERP if carry else REVERSE_PERP))
    funding = _funding(rate, mark, 3600)
    assert decide(rule, spot, perp, D(0)) is None  # the book edge alone (0.95 bps) does not pay open_bps
    pair = decide(rule, spot, perp, D(0), funding, NOW)
    assert (pair is not None) == opens
    buy_vwap = D("2000.01") if carry else D("1999.00")
    assert funding_bps(rule, funding, buy_vwap, NOW, rule.funding_horizon_ms) == term
    if pair is not None:
        assert (pair.buy_venue, pair.sell_venue) == (("spot", "perp") if carry else ("perp", "spot"))
        assert pair.size == D("0.5") and pair.edge_bps + term >= rule.open_bps


def test_a_payment_beyond_the_horizon_or_already_due_is_not_counted() -> None:
    rule = _rule(horizon_s=3600)
    spot, perp = _book("spot", *SPOT), _perp(*CARRY_PERP)
    assert decide(rule, spot, perp, D(0), _funding("0.0005", "2000.5", 3600), NOW) is not None
    assert decide(rule, spot, perp, D(0), _funding("0.0005", "2000.5", 3601), NOW) is None  # past the horizon
    assert decide(rule, spot, perp, D(0), _funding("0.0005", "2000.5", 0), NOW) is None  # due now: settled
    assert decide(rule, spot, perp, D(0), _funding("0.0005", "2000.5", -60), NOW) is None  # an old announcement


# A carry held with the basis still wide (perpetual at 2002.95/2003.05): the close pair (buy the perpetual at
# 2003.05, sell spot at 1999.99) costs 19.2736 bps, 14.2736 more than close_bps -5 allows.
WIDE = ("2002.95", "2003.05")


@pytest.mark.parametrize(("rate", "in_s", "closes"), [
    ("-0.002", 60, True),  # pays 2003 x 0.002 / 2003.05 = 19.9995 bps within the lead: more than 14.27 extra
    ("-0.002", 300, True),  # at the lead's edge
    ("-0.002", 301, False),  # before the lead: held
    ("-0.001", 60, False),  # pays 9.9998 bps: less than closing now costs beyond close_bps
    ("0.002", 60, False),  # received: no reason to close
    ("-0.002", 0, False),  # due now: the venue settles it before this decision
])
def test_an_adverse_payment_within_the_lead_closes_when_it_exceeds_the_extra_cost_of_closing(
        rate: str, in_s: int, closes: bool) -> None:
    rule = _rule(max_position="1")  # held at max_position: nothing opens
    spot, perp = _book("spot", *SPOT), _perp(*WIDE)
    assert decide(rule, spot, perp, D(1)) is None  # the close alone does not pay close_bps
    pair = decide(rule, spot, perp, D(1), _funding(rate, "2003", in_s), NOW)
    assert (pair is not None) == closes
    if pair is not None:
        assert (pair.buy_venue, pair.sell_venue, pair.size) == ("perp", "spot", D("0.5"))
        adverse = D("2003") * -D(rate) / D("2003.05") * 10_000
        assert pair.edge_bps < rule.close_bps <= pair.edge_bps + adverse


def test_a_reverse_position_flees_a_positive_rate() -> None:
    """Long the perpetual: a positive rate is paid. The reverse's close (buy spot, sell the perpetual) with
    the basis wide (perpetual at 1996.95/1997.05) costs more than close_bps; 20 bps adverse closes it."""
    rule = _rule(False, max_position="1")
    spot, perp = _book("spot", *SPOT), _perp("1996.95", "1997.05")
    assert decide(rule, spot, perp, D(1)) is None
    assert decide(rule, spot, perp, D(1), _funding("-0.002", "1997", 60), NOW) is None  # received
    pair = decide(rule, spot, perp, D(1), _funding("0.002", "1997", 60), NOW)
    assert pair is not None and (pair.buy_venue, pair.sell_venue) == ("spot", "perp")


def test_a_favourable_payment_never_holds_a_close_back() -> None:
    rule = _rule(max_position="1")
    spot, perp = _book("spot", *SPOT), _perp("2000.00", "2000.10")  # the basis came back: the close pays
    plain = decide(rule, spot, perp, D(1))
    assert plain is not None and plain.buy_venue == "perp"
    assert decide(rule, spot, perp, D(1), _funding("0.003", "2000", 60), NOW) == plain


@pytest.mark.parametrize("perp", [CARRY_PERP, REVERSE_PERP, WIDE, ("2000.00", "2000.10"), ("2003.50", "2003.60")])
@pytest.mark.parametrize("held", ["0", "0.5", "2"])
@pytest.mark.parametrize("carry", [True, False])
def test_no_funding_known_or_none_in_the_windows_is_the_decision_without_funding(
        perp: tuple[str, str], held: str, carry: bool) -> None:
    rule = _rule(carry)
    spot, book = _book("spot", *SPOT), _perp(*perp)
    before = decide(replace(rule, funding_horizon_ms=0, close_before_funding_ms=0), spot, book, D(held))
    assert decide(rule, spot, book, D(held), None, NOW) == before
    for rate in ("0.003", "-0.003"):  # a large payment, announced for beyond both windows
        assert decide(rule, spot, book, D(held), _funding(rate, "2000", 28_801), NOW) == before
        assert decide(replace(rule, funding_horizon_ms=0, close_before_funding_ms=0), spot, book, D(held),
                      _funding(rate, "2000", 60), NOW) == before  # both windows 0: funding off


def test_a_carry_opened_on_a_spot_venue_that_takes_its_fee_in_base_buys_what_it_sells_back() -> None:
    # Gate spot: a buy's fee is taken in ETH. Buying 0.5 would deliver 0.4999 and the last close would lack it;
    # the open buys 0.5 / 0.9998 rounded up to the 0.001 step, 0.501, which delivers 0.5008998: 0.5 to hedge and
    # 0.0008998 of dust valued at the best bid net of the fee (1999.99 x 0.9998), as a taker pair's leftover is.
    spot = replace(_book("spot", *SPOT), fee_mode=FeeMode.BASE)
    opened = decide(_rule(), spot, _perp("2003.00", "2003.10"), D(0))
    assert opened is not None and (opened.size, opened.buy_amount, opened.sell_amount) == (D("0.5"), D("0.501"), D("0.5"))
    dust = (D("0.501") * (1 - FEE) - D("0.5")) * D("1999.99") * (1 - FEE)
    expected = D("0.5") * D("2003.00") * (1 - FEE) + dust - D("0.501") * D("2000.01")
    assert opened.expected_profit == money(expected)
    # The close of a carry buys the perpetual (its fee in USDT): the same amount both ways.
    closed = decide(_rule(), spot, _perp("1999.00", "1999.10"), D("0.5"))
    assert closed is not None and closed.buy_venue == "perp" and closed.buy_amount == closed.sell_amount == D("0.5")

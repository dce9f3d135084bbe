"""The inventory watch (pure): which directions a venue can no longer fund at max_size, said once when it
starts and once when it clears, and how soon each balance runs out at the rate it fell, on explicit times."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from arb.compiled import source_module
from arb.runtime.depletion import Depletion, InventoryWatch
from arb.runtime.incidents import IncidentLog

# depletion.py as Python whatever is built: the whole look's reference (a subclass of the source's watch
# overrides its shortcut, as one of the compiled extension type could not)
_SOURCE = source_module("arb.runtime.depletion")


class _WholeLook(_SOURCE.InventoryWatch):  # type: ignore[name-defined,misc]
    """The whole look: the watch of depletion.py's source with its shortcut refused. Not a subclass of the
    watch as imported: compiled, its shortcut is a C method that a Python subclass cannot replace (the
    comparison below was once of the compiled watch with itself)."""

    refused = 0  # shortcuts asked and refused, all instances

    def _priced_as_said(self, *_: object) -> bool:
        _WholeLook.refused += 1
        return False

SYMBOL = "LINK/USDT"
ASKS = {("gate", SYMBOL): D("27"), ("htx", SYMBOL): D("27.5")}  # max_size 20 costs 540 / 550 USDT


def _balances(htx_usdt: str, gate_link: str = "200") -> dict[str, dict[str, D]]:
    return {"gate": {"USDT": D(5000), "LINK": D(gate_link)}, "htx": {"USDT": D(htx_usdt), "LINK": D(200)}}


def test_a_venue_that_cannot_fund_max_size_is_depleted_once_and_cleared_once() -> None:
    watch = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], hold_s=0)
    assert watch.update(0, _balances("5000"), ASKS) == []
    (start,) = watch.update(1000, _balances("549.99"), ASKS)  # 20 x 27.5 = 550 needed
    assert (start.venue, start.side, start.asset, start.balance, start.needed, start.started) == (
        "htx", "buy", "USDT", D("549.99"), D("550.0"), True)
    assert start.describe() == ("htx USDT 549.99 cannot fund max_size 20 LINK: buys of LINK/USDT on htx "
                                "need 550 USDT")
    assert "move USDT to htx" in start.next_step()
    assert watch.update(2000, _balances("0.236265"), ASKS) == []  # still depleted: not said again
    (cleared,) = watch.update(3000, _balances("600"), ASKS)
    assert (cleared.key, cleared.started) == ("htx LINK/USDT buy", False)
    assert watch.depleted == {}


def test_the_sell_direction_needs_max_size_in_base_and_a_missing_ask_keeps_the_state() -> None:
    watch = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], hold_s=0)
    (sell,) = watch.update(0, _balances("5000", gate_link="19.9"), ASKS)
    assert (sell.venue, sell.side, sell.asset, sell.needed) == ("gate", "sell", "LINK", D(20))
    # No ask on htx to price a buy: nothing said about buys there, however low its quote.
    assert watch.update(1000, _balances("1", gate_link="19.9"), {("gate", SYMBOL): D(27)}) == []
    assert set(watch.depleted) == {"gate LINK/USDT sell"}


def test_a_perpetual_sells_on_margin_and_holds_no_base() -> None:
    """A margin account's sizing funds (``VenueSet.sizing_funds``) hold the notional its margin can buy under the
    settle currency, and under the base only that notional at the mid when last read: 0 when read before the
    perpetual's book had one, and read again only after a pair. The sell was judged on that base: a desk whose
    run tried no pair was told its perpetual could not fund a single sell, its margin untouched."""
    perp = {"htx": {SYMBOL: "USDT"}}
    watch = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], hold_s=0, margin=perp)
    no_base = {"gate": {"USDT": D(5000), "LINK": D(200)}, "htx": {"USDT": D(600), "LINK": D(0)}}
    assert watch.update(0, no_base, ASKS) == [] and watch.depleted == {}  # 600 USDT of margin: 20 x 27.5 = 550
    short = {**no_base, "htx": {"USDT": D("549.99"), "LINK": D(1000)}}  # base the margin account does not spend
    buy, sell = watch.update(1000, short, ASKS)
    assert (sell.key, sell.asset, sell.balance, sell.needed) == ("htx LINK/USDT sell", "USDT", D("549.99"), D("550.0"))
    assert sell.describe() == ("htx USDT 549.99 cannot fund max_size 20 LINK: sells of LINK/USDT on htx need 550 USDT")
    assert "move USDT to htx" in sell.next_step() and buy.key == "htx LINK/USDT buy"
    spot = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], hold_s=0)  # the same balances on a spot venue
    assert [d.key for d in spot.update(0, no_base, ASKS)] == ["htx LINK/USDT sell"]


def test_a_size_too_small_for_a_double_is_judged_exactly() -> None:
    """``max_size = "1e-400"`` is positive (the schema takes it) and 0.0 as a float: the watch divided by it at
    every look, and the run stopped (found by ``tests/config/test_check_run_agree.py``)."""
    watch = InventoryWatch({SYMBOL: D("1e-400")}, ["gate", "htx"], hold_s=0)
    asks = {("gate", SYMBOL): 27.0, ("htx", SYMBOL): 27.5}  # the books' own floats, as the running watch gets them
    assert watch.update(0, _balances("5000"), asks) == []
    (short,) = watch.update(1000, _balances("0"), asks)  # nothing at all cannot pay for 1e-400 LINK
    assert (short.key, short.needed) == ("htx LINK/USDT buy", D("1e-400") * D("27.5"))
    assert watch.steady(_balances("0"), asks)
    (cleared,) = watch.update(2000, _balances("1E-397"), asks)  # 1e-397 > 27.5e-400
    assert not cleared.started


def test_a_change_is_said_once_it_has_held_stamped_with_when_it_began() -> None:
    watch = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], hold_s=30)
    assert watch.update(0, _balances("100"), ASKS) == []  # short since 0: not yet said
    assert watch.update(10_000, _balances("600"), ASKS) == []  # funded again within the hold: never said
    assert watch.update(20_000, _balances("100"), ASKS) == []  # short again, since 20 s
    assert watch.update(49_999, _balances("90"), ASKS) == []
    (start,) = watch.update(50_000, _balances("80"), ASKS)
    assert (start.started, start.since_ms, start.balance) == (True, 20_000, D(80))
    assert watch.update(60_000, _balances("600"), ASKS) == []
    (cleared,) = watch.update(90_000, _balances("600"), ASKS)
    assert (cleared.started, cleared.since_ms) == (False, 60_000)


def test_seconds_to_empty_is_the_balance_over_its_fall_in_the_window() -> None:
    watch = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], window_s=300)
    watch.update(0, _balances("5000"), ASKS)
    watch.update(100_000, _balances("4000"), ASKS)  # 1000 USDT in 100 s: 10/s, 4000 left -> 400 s
    assert watch.seconds_to_empty()[("htx", "USDT")] == 400.0
    assert watch.seconds_to_empty()[("gate", "USDT")] is None  # not falling
    # 400 s later, nothing spent since 100 s: the window (300 s) holds 4000 -> 4000, not falling.
    watch.update(500_000, _balances("4000"), ASKS)
    assert watch.seconds_to_empty()[("htx", "USDT")] is None
    watch.update(510_000, _balances("0"), ASKS)
    assert watch.seconds_to_empty()[("htx", "USDT")] == 0.0
    rows = watch.snapshot()["seconds_to_empty"]
    assert {"venue": "htx", "asset": "USDT", "seconds": 0.0} in rows  # type: ignore[operator]


def test_an_asset_is_measured_from_the_first_reading_that_holds_it_while_its_venue_reports_it() -> None:
    """Readings are kept a venue at a time: an asset that appears mid-window counts from its first reading,
    and one the venue no longer reports (a venue's balance list leaves out what is at zero) has no figure."""
    watch = InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], window_s=300)
    watch.update(0, _balances("5000"), ASKS)
    with_eth = _balances("5000")
    with_eth["htx"]["ETH"] = D(3)
    watch.update(100_000, with_eth, ASKS)
    with_eth = _balances("4000")
    with_eth["htx"]["ETH"] = D("2.5")
    watch.update(200_000, with_eth, ASKS)  # USDT: 1000 in 200 s, 4000 left; ETH: 0.5 in 100 s, 2.5 left
    figures = watch.seconds_to_empty()
    assert (figures[("htx", "USDT")], figures[("htx", "ETH")]) == (800.0, 500.0)
    watch.update(210_000, _balances("4000"), ASKS)  # ETH no longer reported
    assert ("htx", "ETH") not in watch.seconds_to_empty()
    assert watch.seconds_to_empty()[("htx", "USDT")] == 840.0  # 1000 in 210 s


def test_a_depletion_is_an_incident_with_a_start_and_an_end_but_never_the_stop_reason() -> None:
    began = datetime(2021, 8, 20, 1, 12, 56, tzinfo=UTC)
    log = IncidentLog(lambda: began + timedelta(hours=1))  # confirmed later: stamped when it began
    ms = int(began.timestamp() * 1000)
    change = Depletion("htx", SYMBOL, "buy", "USDT", D("0.236265"), D(550), D(20), started=True, since_ms=ms)
    log.on_depletion(change)
    assert log.still_open() is None  # the other direction still trades: not why a run stopped
    log.on_depletion(Depletion("htx", SYMBOL, "buy", "USDT", D(600), D(550), D(20), started=False,
                               since_ms=ms + 300_000))
    (incident,) = log.incidents
    assert incident.kind == "inventory_depleted" and incident.started_at == began
    assert incident.ended_at == began + timedelta(minutes=5)
    assert "htx USDT 0.236265 cannot fund max_size 20 LINK" in incident.detail


def test_the_line_shows_a_margin_accounts_free_balance_to_a_satoshi() -> None:
    # A perpetual's free margin is a quotient carried to 60 digits; the line said all of them.
    free = D(5000) / D(3) - D("1664")
    change = Depletion("perp", SYMBOL, "buy", "USDT", free, D("100.05"), D("0.05"), started=True, since_ms=0)
    assert change.describe().startswith("perp USDT 2.66666667 cannot fund ")
    assert "need 100.05 USDT" in change.describe()


# Prices as a book holds them (floats of decimals of at most 15 significant digits) and balances on and near
# the line a max size draws: one step of the balance's last digit either side, and exactly on it.
_prices = st.builds(lambda digits, places: D(digits).scaleb(-places), st.integers(1, 10**9), st.integers(0, 8))


@settings(max_examples=300, deadline=None)
@given(price=_prices, size=st.sampled_from([D("0.001"), D("1"), D("20"), D("3.7"), D("12345.678")]),
       nudge=st.sampled_from([D(-1), D(0), D(1)]), places=st.integers(0, 12), far=st.booleans())
def test_a_book_s_float_ask_decides_as_its_exact_price(price: D, size: D, nudge: D, places: int, far: bool) -> None:
    """The watch reads each book's own float of its best ask; every direction's state and every change said,
    with what it needed, is what the exact price gives, on the line and a hair either side of it."""
    needed = size * price
    balance = needed * (D(2) if far and nudge > 0 else D("0.5") if far else 1) + nudge * D(1).scaleb(-places)
    balances = {"gate": {"USDT": balance, "LINK": size}}  # the sell side funded: the buy is the question
    ask = float(repr(float(price)))
    assert D(repr(ask)) == price  # what a book holds: its float's repr is the price
    said = []
    for asks in ({("gate", SYMBOL): price}, {("gate", SYMBOL): ask}):
        watch = InventoryWatch({SYMBOL: size}, ["gate"], hold_s=0)
        said.append((watch.update(0, balances, asks), watch.steady(balances, asks), set(watch.depleted)))
    assert said[0] == said[1]
    assert said[0][2] == ({"gate LINK/USDT buy"} if balance < needed else set())


_steps = st.lists(st.tuples(st.sampled_from(["5000", "549.99", "550", "600"]),  # htx USDT around the line
                            st.sampled_from(["200", "19.9"]),  # gate LINK: the sell side
                            st.sampled_from([D("27.5"), D("27.49"), D("27.51"), D("28"), None]),  # htx's ask
                            st.integers(0, 40_000)),  # ms since the last look
                  min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(steps=_steps, float_asks=st.booleans(), hold_s=st.sampled_from([0, 2.0]), perp=st.booleans())
def test_a_look_whose_balances_stood_still_says_what_the_whole_look_says(
        steps: list[tuple[str, str, D | None, int]], float_asks: bool, hold_s: float, perp: bool) -> None:
    """The look's shortcut (balances as last looked at, nothing turning, every priced direction still priced
    as said) changes nothing: every change said, every state and every reading are the whole look's, step by
    step: the watch as the run has it (compiled, where built) against :class:`_WholeLook`, htx spot or a
    perpetual (its sells priced too)."""
    margin = {"htx": {SYMBOL: "USDT"}} if perp else None
    watches = [InventoryWatch({SYMBOL: D(20)}, ["gate", "htx"], hold_s=hold_s, margin=margin),
               _WholeLook({SYMBOL: D(20)}, ["gate", "htx"], hold_s=hold_s, margin=margin)]
    now = 0
    for htx_usdt, gate_link, ask, gap in steps:
        now += gap
        balances = _balances(htx_usdt, gate_link)
        htx_ask = None if ask is None else float(ask) if float_asks else ask
        asks = {("gate", SYMBOL): D("27"), ("htx", SYMBOL): htx_ask}
        # Field by field: the two modules' Depletion classes are two classes, whose instances never compare equal.
        said = [([astuple(d) for d in w.update(now, balances, asks)],
                 {key: astuple(d) for key, d in w.depleted.items()}, w.seconds_to_empty(), w.steady(balances, asks))
                for w in watches]
        assert said[0] == said[1]


def test_the_whole_looks_reference_is_asked_its_shortcut_and_refuses_it() -> None:
    """What the property above compares against really looks in whole: a second look at balances standing
    still asks the reference's shortcut, and its override answers (no compiled method goes around it)."""
    whole = _WholeLook({SYMBOL: D(20)}, ["gate", "htx"], hold_s=0)
    whole.update(0, _balances("5000"), ASKS)
    refused = _WholeLook.refused
    whole.update(1000, _balances("5000"), {("gate", SYMBOL): D("27.1"), ("htx", SYMBOL): D("27.5")})
    assert _WholeLook.refused == refused + 1
